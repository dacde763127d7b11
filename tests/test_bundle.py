"""Bundles: what save_bundle writes, and what read_card refuses."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil

import numpy as np
import pytest

from serwidgets import audio, bundle, features
from tests.fixtures_bundle import LABELS, NET, tiny_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, emodb_root):
    return tiny_bundle(tmp_path_factory, emodb_root)


@pytest.fixture(scope="module")
def card(bundle_dir):
    return bundle.read_card(bundle_dir)


def test_bundle_files(bundle_dir):
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted([bundle.CARD, bundle.KERAS, bundle.LITERT])


def test_card_contents(card):
    config = features.FeatureConfig()
    assert card["labels"] == list(LABELS)
    assert card["task"] == "tiny4"
    assert card["name"] == "tiny-emodb4"
    assert card["input_kind"] == "log_mel"
    assert card["input_shape"] == [config.n_mels, config.n_frames]
    assert card["sample_rate"] == config.sample_rate
    assert card["net"] == {**NET, "input_shape": [config.n_mels, config.n_frames]}
    assert features.FeatureConfig.from_dict(card["feature_config"]) == config
    assert audio.AudioOptions.from_dict(card["audio_options"]) == audio.AudioOptions()
    assert card["training"]["corpora"] == ["emodb"]
    assert sum(card["training"]["counts"].values()) == 4 * len(LABELS)
    assert card["protocol"] == "none (test fixture)"
    assert card["metrics"] == {"UA": None}  # the card keeps the metrics it was given, no invented score
    import keras
    import tensorflow as tf

    assert card["versions"]["tensorflow"] == tf.__version__
    assert card["versions"]["keras"] == keras.__version__
    assert card["versions"]["numpy"] == np.__version__
    assert set(card["versions"]) >= {"librosa", "serwidgets", "ai-edge-litert"}
    date = datetime.datetime.fromisoformat(card["date"])
    assert abs(datetime.datetime.now(datetime.timezone.utc) - date) < datetime.timedelta(days=1)


def test_card_hashes_are_the_files_sha256(bundle_dir, card):
    assert set(card["files"]) == {bundle.KERAS, bundle.LITERT}
    for name, digest in card["files"].items():
        assert digest == hashlib.sha256((bundle_dir / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("name", [bundle.KERAS, bundle.LITERT])
def test_a_changed_weight_file_is_refused_by_name(bundle_dir, tmp_path, name):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    with open(copy / name, "ab") as file:
        file.write(b"\0")
    with pytest.raises(bundle.IntegrityError, match=name):
        bundle.read_card(copy)
    assert bundle.read_card(copy, verify=False)["labels"] == list(LABELS)


def test_a_missing_weight_file_is_refused(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    (copy / bundle.LITERT).unlink()
    with pytest.raises(bundle.IntegrityError, match="model.tflite.*missing"):
        bundle.read_card(copy)


def test_no_card_no_bundle(tmp_path):
    with pytest.raises(bundle.BundleNotFoundError, match="no model bundle"):
        bundle.read_card(tmp_path)
    assert issubclass(bundle.BundleNotFoundError, FileNotFoundError)


def test_broken_card_is_refused(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    (copy / bundle.CARD).write_text("{not json")
    with pytest.raises(bundle.BundleError, match="not valid JSON"):
        bundle.read_card(copy)
    card = json.loads((bundle_dir / bundle.CARD).read_text())
    del card["labels"]
    (copy / bundle.CARD).write_text(json.dumps(card))
    with pytest.raises(bundle.BundleError, match="lacks labels"):
        bundle.read_card(copy)


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
        bundle.save_bundle(model, tmp_path / "b", net=NET, labels=LABELS[:3], task="tiny4",
                           feature_config=features.FeatureConfig(), audio_options=audio.AudioOptions(),
                           training={}, metrics={}, name="x")
    assert not (tmp_path / "b" / bundle.CARD).exists()


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
    before = bundle.read_card(copy)
    metrics = {"protocol": "speaker-kfold (5 folds)", "UA": 0.5}
    after = bundle.set_metrics(copy, metrics, task="tiny4")
    assert bundle.read_card(copy) == after  # hashes still verify: weights untouched
    assert after["metrics"] == metrics and after["protocol"] == "speaker-kfold (5 folds)"
    assert {k: v for k, v in after.items() if k not in ("metrics", "protocol")} == {
        k: v for k, v in before.items() if k not in ("metrics", "protocol")}
    with pytest.raises(bundle.BundleError, match="task"):
        bundle.set_metrics(copy, metrics, task="emotion6")
    # A card that names its training recipe takes only metrics of that recipe.
    card = json.loads((copy / bundle.CARD).read_text())
    card["training"]["recipe"] = {"net": "zhao2019_2d", "epochs": 2}
    (copy / bundle.CARD).write_text(json.dumps(card))
    with pytest.raises(bundle.BundleError, match="another recipe"):
        bundle.set_metrics(copy, metrics, task="tiny4", recipe={"net": "zhao2019_2d", "epochs": 3})
    assert bundle.set_metrics(copy, metrics, task="tiny4", recipe={"net": "zhao2019_2d", "epochs": 2})
