"""ModelCard: the shipped cards read and write back unchanged; required keys, hashes, unknown keys."""

from __future__ import annotations

import json
import shutil

import pytest

from serwidgets import shipped
from serwidgets.audio import AudioOptions
from serwidgets.card import (CARD, ENCODER, ENCODER_HEAD, NETWORK, BundleError, IntegrityError, ModelCard,
                             file_sha256)
from serwidgets.features import FeatureConfig

MODELS = shipped.path("models")
SHIPPED = sorted(path.parent.name for path in MODELS.glob(f"*/{CARD}"))


def test_the_shipped_bundles_are_all_here():
    assert {"ser-emotion6", "zhao2019-emotion6", "whisper-base-l3"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_card_is_written_back_byte_for_byte(name, tmp_path):
    card = ModelCard.read(MODELS / name)  # sha256 of every file checked
    card.write(tmp_path)
    assert (tmp_path / CARD).read_bytes() == (MODELS / name / CARD).read_bytes()
    assert card == json.loads((MODELS / name / CARD).read_text())


@pytest.mark.parametrize("name", SHIPPED)
def test_a_card_rebuilt_from_its_fields_keeps_every_key(name):
    """Without the file's key order to follow, the typed fields and ``extra`` still hold all of it."""
    raw = json.loads((MODELS / name / CARD).read_text())
    card = ModelCard.read(MODELS / name, verify=False)
    fields = {f: getattr(card, f) for f in ("name", "kind", "description", "task", "labels", "audio_options",
                                            "feature_config", "input_kind", "input_shape", "sr", "net",
                                            "encoder", "encoder_id", "head", "window_seconds", "training",
                                            "metrics", "protocol", "files", "versions", "date", "card_format",
                                            "extra")}
    rebuilt = ModelCard(**fields).to_dict()
    rebuilt.pop("kind") if "kind" not in raw else None
    if "format" in raw:  # the first cards' name of card_format
        rebuilt["format"] = rebuilt.pop("card_format")
    if "audio_options" in raw:  # options added later are written in full by a new card
        assert AudioOptions.from_dict(raw["audio_options"]) == AudioOptions.from_dict(rebuilt["audio_options"])
        rebuilt["audio_options"] = raw["audio_options"]
    assert rebuilt == raw


def test_typed_fields_of_each_kind():
    network = ModelCard.read(MODELS / "zhao2019-emotion6")
    assert network.kind == NETWORK and "kind" not in network  # read as a network, written as it was
    assert isinstance(network.feature_config, FeatureConfig) and isinstance(network.audio_options, AudioOptions)
    assert network.sr == network.feature_config.sample_rate == network["sample_rate"]
    assert network.card_format == 1 and network["format"] == 1
    assert network.labels == tuple(network["labels"]) and isinstance(network.labels, tuple)
    head = ModelCard.read(MODELS / "ser-emotion6")
    assert head.kind == ENCODER_HEAD and head.feature_config is None and head.window_seconds == 3.0
    assert head.encoder["name"] == "whisper-base-l3" and head.metrics["protocol"] == head.protocol
    encoder = ModelCard.read(MODELS / "whisper-base-l3")
    assert encoder.kind == ENCODER and encoder.labels == () and encoder.audio_options is None
    assert encoder.encoder_id == "whisper-base/states-0-3" and encoder.extra["dim"] == 512


def test_unknown_keys_and_edits_round_trip(tmp_path):
    directory = shutil.copytree(MODELS / "zhao2019-emotion6", tmp_path / "b")
    raw = json.loads((directory / CARD).read_text())
    keys = list(raw)
    raw = {**{k: raw[k] for k in keys[:3]}, "reviewed_by": {"who": "x", "ok": True}, **{k: raw[k] for k in keys[3:]}}
    (directory / CARD).write_text(json.dumps(raw, indent=2) + "\n")
    card = ModelCard.read(directory)
    assert card.extra == {"reviewed_by": {"who": "x", "ok": True}}
    card.description = "edited"
    card.window_seconds = 2.0  # a field the file did not have goes after the file's keys
    card.audio_options = AudioOptions(remove_dc=True)
    card.write(directory)
    written = json.loads((directory / CARD).read_text())
    assert list(written) == [*raw, "window_seconds"]
    assert written["reviewed_by"] == {"who": "x", "ok": True} and written["description"] == "edited"
    # An edited AudioOptions is written in full; the unedited feature config stays as read.
    assert written["audio_options"] == AudioOptions(remove_dc=True).to_dict()
    assert written["feature_config"] == raw["feature_config"]
    assert ModelCard.read(directory).audio_options == AudioOptions(remove_dc=True)


def test_required_keys_per_kind():
    with pytest.raises(BundleError, match="lacks encoder, head"):
        ModelCard.from_dict({"kind": ENCODER_HEAD, "labels": ["a"], "audio_options": {}, "files": {}})
    with pytest.raises(BundleError, match="lacks feature_config, input_kind"):
        ModelCard.from_dict({"labels": ["a"], "audio_options": {}, "files": {}})
    with pytest.raises(BundleError, match="unknown AudioOptions keys"):
        ModelCard.from_dict({"kind": ENCODER_HEAD, "labels": ["a"], "encoder": {}, "head": {},
                             "audio_options": {"volume": 11}, "files": {}})


def test_a_new_card_writes_and_reads_back(tmp_path):
    (tmp_path / "head.npz").write_bytes(b"weights")
    card = ModelCard(name="demo", kind=ENCODER_HEAD, task="t", labels=["sad", "angry"],
                     encoder={"name": "e"}, head={"file": "head.npz"}, audio_options=AudioOptions(),
                     metrics={}, training={"n": 3})
    with pytest.raises(BundleError, match="lacks files"):
        ModelCard(name="demo", kind=ENCODER_HEAD, labels=["a"], encoder={}, head={},
                  audio_options=AudioOptions(), files=None).write(tmp_path)
    card.add_files(tmp_path, "head.npz").stamp().write(tmp_path)
    back = ModelCard.read(tmp_path)
    assert back == card and back.labels == ("sad", "angry")
    assert back.files == {"head.npz": file_sha256(tmp_path / "head.npz")}
    assert back.versions["numpy"] and back.date
    written = json.loads((tmp_path / CARD).read_text())
    assert list(written)[:6] == ["card_format", "kind", "name", "task", "labels", "encoder"]
    assert "protocol" not in written and "feature_config" not in written  # None fields stay out


def test_a_changed_file_is_refused_by_name(tmp_path):
    directory = shutil.copytree(MODELS / "ser-emotion6", tmp_path / "b")
    with open(directory / "head.npz", "ab") as file:
        file.write(b"\0")
    with pytest.raises(IntegrityError, match="head.npz in .* does not match its card"):
        ModelCard.read(directory)
    assert ModelCard.read(directory, verify=False).name == "ser-emotion6"
