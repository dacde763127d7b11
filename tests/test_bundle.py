"""Bundles: what export.save_bundle writes, what ModelCard.read refuses, and what bundle imports."""

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
from serwidgets.card import ModelCard
from tests.fixtures_bundle import LABELS, NET, tiny_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, emodb_root):
    return tiny_bundle(tmp_path_factory, emodb_root)


@pytest.fixture(scope="module")
def card(bundle_dir):
    return ModelCard.read(bundle_dir)


def test_bundle_files(bundle_dir):
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted([bundle.CARD, bundle.KERAS, bundle.LITERT])


def test_card_contents(card, bundle_dir):
    config = features.FeatureConfig()
    assert card.kind == "network" and card.card_format == 1
    assert card.labels == LABELS
    assert card.task == "tiny4"
    assert card.name == "tiny-emodb4"
    assert card.input_kind == "log_mel"
    assert card.input_shape == [config.n_mels, config.n_frames]
    assert card.sr == config.sample_rate
    assert card.net == {**NET, "input_shape": [config.n_mels, config.n_frames]}
    assert card.feature_config == config
    assert card.audio_options == audio.AudioOptions()
    assert card.training["corpora"] == ["emodb"]
    assert sum(card.training["counts"].values()) == 4 * len(LABELS)
    assert card.protocol == "none (test fixture)"
    assert card.metrics == {"UA": None}  # the card keeps the metrics it was given, no invented score
    assert card.extra == {}
    # The file: the serialised names (sample_rate stays "sample_rate"), labels in output order.
    written = json.loads((bundle_dir / bundle.CARD).read_text())
    assert written["sample_rate"] == config.sample_rate and written["labels"] == list(LABELS)
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
    with pytest.raises(bundle.IntegrityError, match=name):
        ModelCard.read(copy)
    assert ModelCard.read(copy, verify=False).labels == LABELS


def test_a_missing_weight_file_is_refused(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    (copy / bundle.LITERT).unlink()
    with pytest.raises(bundle.IntegrityError, match="model.tflite.*missing"):
        ModelCard.read(copy)


def test_no_card_no_bundle(tmp_path):
    with pytest.raises(bundle.BundleNotFoundError, match="no model bundle"):
        ModelCard.read(tmp_path)
    assert issubclass(bundle.BundleNotFoundError, FileNotFoundError)


def test_broken_card_is_refused(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    (copy / bundle.CARD).write_text("{not json")
    with pytest.raises(bundle.BundleError, match="not valid JSON"):
        ModelCard.read(copy)
    card = json.loads((bundle_dir / bundle.CARD).read_text())
    del card["labels"]
    (copy / bundle.CARD).write_text(json.dumps(card))
    with pytest.raises(bundle.BundleError, match="lacks labels"):
        ModelCard.read(copy)


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


def test_save_bundle_checks_labels_against_outputs(bundle_dir, tmp_path):
    model = bundle.load_keras(bundle_dir)
    with pytest.raises(bundle.BundleError, match="4 outputs but 3 labels"):
        export.save_bundle(model, tmp_path / "b", net=NET, labels=LABELS[:3], task="tiny4",
                           feature_config=features.FeatureConfig(), audio_options=audio.AudioOptions(),
                           training={}, metrics={}, name="x")
    with pytest.raises(bundle.BundleError, match="22050 Hz audio"):
        export.save_bundle(model, tmp_path / "b", net=NET, labels=LABELS, task="tiny4",
                           feature_config=features.FeatureConfig(sample_rate=22050, fmax=8000.0),
                           audio_options=audio.AudioOptions(), training={}, metrics={}, name="x")
    assert not (tmp_path / "b").exists()  # refused before anything was written


def test_load_keras_checks_the_keras_file(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    (copy / bundle.LITERT).unlink()  # not needed to load the Keras model
    assert bundle.load_keras(copy).output_shape == (None, len(LABELS))
    with open(copy / bundle.KERAS, "ab") as file:
        file.write(b"\0")
    with pytest.raises(bundle.IntegrityError, match="model.keras"):
        bundle.load_keras(copy)


def test_set_metrics_rewrites_only_the_metrics(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    before = ModelCard.read(copy)
    metrics = {"protocol": "speaker-kfold (5 folds)", "UA": 0.5}
    ModelCard.read(copy).set_metrics(metrics, task="tiny4").write(copy)
    after = ModelCard.read(copy)  # hashes still verify: weights untouched
    assert after.metrics == metrics and after.protocol == "speaker-kfold (5 folds)"
    assert {k: v for k, v in after.items() if k not in ("metrics", "protocol")} == {
        k: v for k, v in before.items() if k not in ("metrics", "protocol")}
    with pytest.raises(bundle.BundleError, match="task"):
        after.set_metrics(metrics, task="emotion6")
    # A card that names its training recipe takes only metrics of that recipe.
    after.training["recipe"] = {"net": "zhao2019_2d", "epochs": 2}
    with pytest.raises(bundle.BundleError, match="another recipe"):
        after.set_metrics(metrics, task="tiny4", recipe={"net": "zhao2019_2d", "epochs": 3})
    assert after.set_metrics({**metrics, "UA": 0.6}, task="tiny4", recipe={"net": "zhao2019_2d", "epochs": 2})
    assert after.metrics["UA"] == 0.6


def test_deprecated_card_functions_still_work(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    with pytest.warns(DeprecationWarning, match="ModelCard.read"):
        card = bundle.read_card(copy)
    assert card == json.loads((copy / bundle.CARD).read_text()) and isinstance(card, dict)
    with pytest.warns(DeprecationWarning, match="set_metrics"):
        written = bundle.set_metrics(copy, {"protocol": "loso", "UA": 0.25}, task="tiny4")
    assert written == ModelCard.read(copy) and ModelCard.read(copy).metrics == {"protocol": "loso", "UA": 0.25}


def test_bundle_imports_neither_tensorflow_nor_export(tmp_path):
    """bundle (and its card) load and write cards without TensorFlow, Keras or serwidgets.export."""
    code = (
        "import sys, types\n"
        "from serwidgets import bundle\n"
        "from serwidgets.audio import AudioOptions\n"
        "from serwidgets.features import FeatureConfig\n"
        "network = types.SimpleNamespace(input_shape=(None, 64, 188), output_shape=(None, 2))\n"
        "card = bundle.network_card(network, net={'name': 'zhao2019_2d'}, labels=['a', 'b'], task='t',\n"
        "    feature_config=FeatureConfig(), audio_options=AudioOptions(), training={}, metrics={}, name='n')\n"
        f"card.write({str(tmp_path)!r})\n"
        f"bundle.ModelCard.read({str(tmp_path)!r})\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'serwidgets.export') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / bundle.CARD).is_file()
