"""Cards: one class per kind, canonical JSON, strict reading (kinds, keys, required fields, sha256)."""

from __future__ import annotations

import json
import shutil

import pytest

from serwidgets import shipped
from serwidgets.audio import AudioOptions
from serwidgets.card import (CARD, KINDS, BaselineCard, BundleError, BundleNotFoundError, Card, EncoderCard,
                             EncoderHeadCard, IntegrityError, ModelCard, NetworkCard, PersonalCard, file_sha256)
from serwidgets.features import FeatureConfig

MODELS = shipped.path("models")
SHIPPED = sorted(path.parent.name for path in MODELS.glob(f"*/{CARD}"))


def test_the_shipped_bundles_are_all_here():
    assert {"ser-emotion6", "zhao2019-emotion6", "whisper-base-l3"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_card_is_canonical_json(name, tmp_path):
    text = (MODELS / name / CARD).read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    card = Card.read(MODELS / name)  # sha256 of every file checked
    card.write(tmp_path)
    assert (tmp_path / CARD).read_text() == text


def test_each_kind_reads_as_its_class_with_typed_fields():
    network = Card.read(MODELS / "zhao2019-emotion6")
    assert type(network) is NetworkCard and network.kind == "network"
    assert isinstance(network.feature_config, FeatureConfig) and isinstance(network.audio_options, AudioOptions)
    assert network.labels == ("angry", "disgust", "fear", "happy", "neutral", "sad")
    assert network.input_shape == [64, 188] and network.net["name"] == "zhao2019_2d"
    head = Card.read(MODELS / "ser-emotion6")
    assert type(head) is EncoderHeadCard and head.window_seconds == 3.0
    assert head.encoder["name"] == "whisper-base-l3" and head.head["layers"] == [1, 2, 3]
    assert head.metrics["protocol"] == "speaker-kfold (5 folds)"
    encoder = Card.read(MODELS / "whisper-base-l3")
    assert type(encoder) is EncoderCard and not isinstance(encoder, ModelCard)
    assert encoder.encoder_id == "whisper-base/states-0-3" and encoder.dim == 512 and encoder.n_states == 4


def test_a_class_reads_only_its_kinds():
    assert isinstance(ModelCard.read(MODELS / "ser-emotion6"), EncoderHeadCard)
    with pytest.raises(BundleError, match="kind 'encoder', not a ModelCard"):
        ModelCard.read(MODELS / "whisper-base-l3")
    with pytest.raises(BundleError, match="kind 'encoder-head', not a NetworkCard"):
        NetworkCard.read(MODELS / "ser-emotion6")


def _edited(tmp_path, name, edit):
    directory = shutil.copytree(MODELS / name, tmp_path / name)
    raw = json.loads((directory / CARD).read_text())
    edit(raw)
    (directory / CARD).write_text(json.dumps(raw))
    return directory


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw.update(reviewed_by="x"), "unknown keys for a card of kind 'encoder-head': reviewed_by"),
    (lambda raw: raw.update(protocol="loso"), "unknown keys .*: protocol"),  # format 1's duplicate
    (lambda raw: raw.pop("kind"), "has kind None"),
    (lambda raw: raw.update(kind="emotion"), "has kind 'emotion'"),
    (lambda raw: raw.update(card_format=1), "has card_format 1"),
    (lambda raw: raw.pop("labels"), "lacks labels"),
    (lambda raw: [raw.pop("encoder"), raw.pop("head")], "lacks encoder, head"),
    (lambda raw: raw.update(labels=["angry"]), "labels must be two or more distinct names"),
    (lambda raw: raw["audio_options"].update(volume=11), "unknown AudioOptions keys"),
    (lambda raw: raw.update(files={}), "lists none of head.npz in files"),
])
def test_a_card_that_is_not_exactly_a_card_is_refused_and_says_why(tmp_path, edit, message):
    directory = _edited(tmp_path, "ser-emotion6", edit)
    with pytest.raises(BundleError, match=message):
        Card.read(directory)


def test_a_network_card_whose_features_and_audio_disagree_is_refused(tmp_path):
    directory = _edited(tmp_path, "zhao2019-emotion6", lambda raw: raw["audio_options"].update(sample_rate=22050))
    with pytest.raises(BundleError, match="features expect 16000 Hz, audio options give 22050 Hz"):
        Card.read(directory)


def test_a_changed_or_missing_file_is_refused_by_name(tmp_path):
    directory = shutil.copytree(MODELS / "ser-emotion6", tmp_path / "b")
    with open(directory / "head.npz", "ab") as file:
        file.write(b"\0")
    with pytest.raises(IntegrityError, match="head.npz in .* does not match its card"):
        Card.read(directory)
    assert Card.read(directory, verify=False).name == "ser-emotion6"
    (directory / "head.npz").unlink()
    with pytest.raises(IntegrityError, match="head.npz is listed in card.json but missing"):
        Card.read(directory)


def test_no_card_no_bundle(tmp_path):
    with pytest.raises(BundleNotFoundError, match="card.json not found") as caught:
        Card.read(tmp_path)
    assert isinstance(caught.value, FileNotFoundError)
    (tmp_path / CARD).write_text("{not json")
    with pytest.raises(BundleError, match="is not valid JSON"):
        Card.read(tmp_path)


def test_a_new_card_of_each_kind_writes_and_reads_back(tmp_path):
    common = {"task": "t", "labels": ["sad", "angry"], "audio_options": AudioOptions(), "training": {"n": 3}}
    new = {
        "network": (NetworkCard(name="n", feature_config=FeatureConfig(), input_kind="log_mel",
                                input_shape=(64, 188), net={"name": "zhao2019_2d", "kwargs": {}}, **common),
                    "model.tflite"),
        "encoder-head": (EncoderHeadCard(name="h", encoder={"name": "e"}, head={"file": "head.npz"}, **common),
                         "head.npz"),
        "baseline": (BaselineCard(name="b", feature_set="stats", feature_config=FeatureConfig(), **common),
                     "baseline.npz"),
        "encoder": (EncoderCard(name="e", encoder_id="e/1", n_states=2, frame_seconds=0.02), "encoder.tflite"),
        "personal": (PersonalCard(name="p", encoder={"name": "e"}, head={"file": "head.npz"}, takes={"sad": 3, "angry": 3},
                                  leave_one_out={"labels": ["sad"] * 3 + ["angry"] * 3, "predicted": ["sad"] * 6},
                                  **common), "head.npz"),
    }
    assert set(new) == set(KINDS)
    for kind, (card, weights) in new.items():
        directory = tmp_path / kind
        directory.mkdir()
        (directory / weights).write_bytes(b"weights")
        with pytest.raises(BundleError, match=f"lists none of .*{weights}"):
            card.write(directory)  # files not listed yet
        card.add_files(directory, weights).stamp().write(directory)
        back = Card.read(directory)
        assert back == card and type(back) is type(card) and back.kind == kind
        assert back.files == {weights: file_sha256(directory / weights)}
        assert back.versions["numpy"] and back.date
        written = json.loads((directory / CARD).read_text())
        assert written["kind"] == kind and written["card_format"] == 2
        if isinstance(card, ModelCard):
            assert back.labels == ("sad", "angry")  # the given order, not sorted


def test_set_metrics_checks_task_and_recipe_and_replaces_the_metrics(tmp_path):
    directory = shutil.copytree(MODELS / "ser-emotion6", tmp_path / "b")
    card = ModelCard.read(directory)
    with pytest.raises(BundleError, match="task 'emotion4'"):
        card.set_metrics({"UA": 0.5}, task="emotion4")
    with pytest.raises(BundleError, match="another recipe"):
        card.set_metrics({"UA": 0.5}, task="emotion6", recipe={"C": 1.0})
    card.set_metrics({"UA": 0.5, "protocol": "loso"}, task="emotion6", recipe=card.training["recipe"])
    card.write(directory)
    back = ModelCard.read(directory)
    assert back.metrics == {"UA": 0.5, "protocol": "loso"}
    assert back.files == card.files and back.training == card.training
