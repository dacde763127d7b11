"""Network bundles: what export.save_network writes and checks, load_keras, and what bundle imports."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from serwidgets import audio, bundle, export, features
from serwidgets.card import CARD, BundleError, IntegrityError, NetworkCard
from tests.fixtures_bundle import LABELS, NET, tiny_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, emodb_root):
    return tiny_bundle(tmp_path_factory, emodb_root)


@pytest.fixture(scope="module")
def card(bundle_dir):
    return NetworkCard.read(bundle_dir)


def test_bundle_files(bundle_dir):
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted([CARD, bundle.KERAS, bundle.LITERT])


def test_card_contents(card, bundle_dir):
    config = features.FeatureConfig()
    assert card.kind == "network"
    assert card.labels == LABELS
    assert card.task == "tiny4"
    assert card.name == "tiny-emodb4"
    assert card.input_kind == "log_mel"
    assert card.input_shape == [config.n_mels, config.n_frames]
    assert card.net == NET
    assert card.feature_config == config
    assert card.audio_options == audio.AudioOptions()
    assert card.training["corpora"] == ["emodb"]
    assert sum(card.training["counts"].values()) == 4 * len(LABELS)
    assert card.metrics == {"protocol": "none (test fixture)"}  # the metrics it was given, no invented score
    written = json.loads((bundle_dir / CARD).read_text())
    assert written["labels"] == list(LABELS)  # output order
    assert written["feature_config"] == config.to_dict() and written["kind"] == "network"
    import keras
    import tensorflow as tf

    assert card.versions["tensorflow"] == tf.__version__
    assert card.versions["keras"] == keras.__version__
    assert card.versions["numpy"] == np.__version__
    assert set(card.versions) >= {"librosa", "serwidgets", "ai-edge-litert"}
    date = datetime.datetime.fromisoformat(card.date)
    assert abs(datetime.datetime.now(datetime.timezone.utc) - date) < datetime.timedelta(days=1)


def test_card_hashes_are_the_files_sha256(bundle_dir, card):
    assert set(card.files) == {bundle.KERAS, bundle.LITERT}
    for name, digest in card.files.items():
        assert digest == hashlib.sha256((bundle_dir / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("name", [bundle.KERAS, bundle.LITERT])
def test_a_changed_weight_file_is_refused_by_name(bundle_dir, tmp_path, name):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    with open(copy / name, "ab") as file:
        file.write(b"\0")
    with pytest.raises(IntegrityError, match=name):
        NetworkCard.read(copy)
    assert NetworkCard.read(copy, verify=False).labels == LABELS


def test_load_keras_gives_the_saved_model(bundle_dir):
    model = bundle.load_keras(bundle_dir)
    assert model.output_shape == (None, len(LABELS))
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape[1:])).astype(np.float32)
    p = model.predict_on_batch(x)
    assert p.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_check_input_shape():
    config = features.FeatureConfig()
    assert bundle.check_input_shape([64, 188], config) == "log_mel"
    assert bundle.check_input_shape([64, 188, 1], config.to_dict()) == "log_mel"
    assert bundle.check_input_shape([48000], config) == "waveform"
    assert bundle.check_input_shape([32000, 1], features.FeatureConfig(duration=2.0)) == "waveform"
    with pytest.raises(bundle.FeatureConfigMismatchError, match="40 mels"):
        bundle.check_input_shape([64, 188], features.FeatureConfig(n_mels=40))


def test_save_network_checks_the_network_against_the_card(bundle_dir, card, tmp_path):
    model = bundle.load_keras(bundle_dir)
    fields = {k: getattr(card, k) for k in ("name", "task", "labels", "audio_options", "feature_config",
                                            "input_kind", "input_shape", "net")}
    with pytest.raises(BundleError, match="4 outputs but the card 3 labels"):
        export.save_network(model, tmp_path / "b", NetworkCard(**{**fields, "labels": LABELS[:3]}))
    with pytest.raises(BundleError, match=r"input shape \[64, 188\] is not the card's \[48000\]"):
        export.save_network(model, tmp_path / "b", NetworkCard(**{**fields, "input_shape": [48000]}))
    with pytest.raises(bundle.FeatureConfigMismatchError, match="40 mels"):
        export.save_network(model, tmp_path / "b",
                            NetworkCard(**{**fields, "feature_config": features.FeatureConfig(n_mels=40)}))
    with pytest.raises(bundle.FeatureConfigMismatchError, match="is a log_mel .* the card says waveform"):
        export.save_network(model, tmp_path / "b", NetworkCard(**{**fields, "input_kind": "waveform"}))
    assert not (tmp_path / "b").exists()  # refused before anything was written


def test_load_keras_checks_the_keras_file(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    (copy / bundle.LITERT).unlink()  # not needed to load the Keras model
    assert bundle.load_keras(copy).output_shape == (None, len(LABELS))
    with open(copy / bundle.KERAS, "ab") as file:
        file.write(b"\0")
    with pytest.raises(IntegrityError, match="model.keras"):
        bundle.load_keras(copy)


def test_bundle_imports_neither_tensorflow_nor_export(tmp_path):
    """bundle (and its card) load and write cards without TensorFlow, Keras or serwidgets.export."""
    code = (
        "import sys\n"
        "from serwidgets import bundle\n"
        "from serwidgets.card import NetworkCard\n"
        f"card = NetworkCard.read(bundle.resolve('zhao2019-emotion6'))\n"
        f"card.write({str(tmp_path)!r})\n"
        f"bundle.check_input_shape(card.input_shape, card.feature_config)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'serwidgets.export') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / CARD).is_file()
