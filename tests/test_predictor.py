"""Predictor: load a bundle, predict on real EmoDB/RAVDESS audio, refuse bad bundles."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from serwidgets import audio, bundle, export, features
from serwidgets.card import ModelCard
from serwidgets.predictor import UNCERTAIN_BELOW, UNCERTAIN_MARGIN, Analysis, Timeline, load_model
from tests.fixtures_bundle import LABELS, tiny_bundle

EMODB_WAV = "wav/03a01Wa.wav"
RAVDESS_STEREO_FLAC = "Actor_01/03-01-02-01-01-02-01.flac"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, emodb_root):
    return tiny_bundle(tmp_path_factory, emodb_root)


@pytest.fixture(scope="module")
def model(bundle_dir):
    return load_model(bundle_dir)


@pytest.fixture(scope="module")
def long_clip(emodb_root):
    """About 10 s of prepared speech: EmoDB clips of different emotions back to back."""
    names = ["03a01Wa.wav", "03a02Ta.wav", "03a04Nc.wav", "03a05Fc.wav", "03b01Lb.wav"]
    y = np.concatenate([audio.load(emodb_root / "wav" / name) for name in names])
    assert 8.0 < len(y) / audio.TARGET_SR < 14.0
    return y


def assert_distribution(probabilities: dict):
    assert tuple(probabilities) == LABELS
    values = np.array(list(probabilities.values()))
    assert np.all(values >= 0) and np.all(values <= 1)
    assert values.sum() == pytest.approx(1.0, abs=1e-9)


def test_load_model_reads_the_card(model, bundle_dir):
    card = ModelCard.read(bundle_dir)
    assert model.backend == "litert"
    assert model.labels == LABELS == card.labels
    assert model.feature_config == card.feature_config == features.FeatureConfig()
    assert model.audio_options == card.audio_options == audio.AudioOptions()
    assert model.name == "tiny-emodb4"
    assert model.card == card and model.sr == audio.TARGET_SR


def test_predict_file_on_emodb_wav_and_ravdess_flac(model, emodb_root, ravdess_root):
    for path in (emodb_root / EMODB_WAV, ravdess_root / RAVDESS_STEREO_FLAC):
        assert_distribution(model.predict_file(path))


def test_predict_file_accepts_bytes_and_matches_path(model, ravdess_root):
    path = ravdess_root / RAVDESS_STEREO_FLAC
    assert model.predict_file(path.read_bytes()) == pytest.approx(model.predict_file(path), abs=1e-6)


def test_predict_takes_any_rate_and_channel_layout(model, ravdess_root):
    y, sr = audio.decode(ravdess_root / RAVDESS_STEREO_FLAC)
    assert sr == 48000 and y.shape[1] == 2
    from_file = model.predict_file(ravdess_root / RAVDESS_STEREO_FLAC)
    assert model.predict(y, sr) == pytest.approx(from_file, abs=1e-6)
    assert model.predict(y.T, sr) == pytest.approx(from_file, abs=1e-6)  # (channels, samples)


def test_short_clip_is_padded_like_training(model, bundle_dir, emodb_root):
    y = audio.load(emodb_root / EMODB_WAV)[: audio.TARGET_SR]  # 1 s
    config = model.feature_config
    spec = features.fix_frames(features.log_mel(audio.prepare(y, audio.TARGET_SR, model.audio_options), config),
                               config.n_frames)
    expected = bundle.load_keras(bundle_dir).predict_on_batch(spec[None])[0]
    assert np.array(list(model.predict(y, audio.TARGET_SR).values())) == pytest.approx(expected, abs=1e-4)


def test_timeline_on_a_long_clip(model, bundle_dir, long_clip):
    sr, config = audio.TARGET_SR, model.feature_config
    timeline = model.predict_timeline(long_clip, sr, hop=1.0)
    assert isinstance(timeline, Timeline)
    assert timeline.labels == LABELS
    # Windows of the whole clip's log-mel, 188 frames every 62 (1 s), as in training/evaluation.
    spectrogram = features.log_mel(long_clip, config)
    starts, ends = features.frame_windows(spectrogram.shape[1], 1, config.n_frames, 62)
    assert len(starts) > 4
    assert timeline.starts == pytest.approx(starts * config.hop_length / sr)
    assert timeline.ends - timeline.starts == pytest.approx(np.full(len(starts), config.duration))
    assert timeline.ends[-1] == pytest.approx(len(long_clip) / sr, abs=config.hop_length / sr)  # one frame
    assert timeline.probabilities.sum(axis=1) == pytest.approx(np.ones(len(starts)))
    expected = bundle.load_keras(bundle_dir).predict_on_batch(
        np.stack([spectrogram[:, s:e] for s, e in zip(starts, ends)]))
    assert timeline.probabilities == pytest.approx(expected, abs=1e-4)
    # A long clip's prediction is the mean over the timeline's windows.
    assert np.array(list(model.predict(long_clip, sr).values())) == pytest.approx(
        timeline.probabilities.mean(axis=0), abs=1e-9)


def test_timeline_with_a_custom_window(model, long_clip):
    timeline = model.predict_timeline(long_clip, audio.TARGET_SR, window=2.0, hop=0.5)
    assert timeline.ends - timeline.starts == pytest.approx(np.full(len(timeline.starts), 2.0))
    frame = model.feature_config.hop_length / audio.TARGET_SR
    assert np.diff(timeline.starts)[:-1] == pytest.approx(round(0.5 / frame) * frame)  # whole frames


def test_analyze_long_and_short(model, long_clip, emodb_root):
    analysis = model.analyze(long_clip, audio.TARGET_SR)
    assert isinstance(analysis, Analysis)
    assert analysis.probabilities.sum() == pytest.approx(1.0)
    assert analysis.top == LABELS[int(np.argmax(analysis.probabilities))]
    assert analysis.confidence == pytest.approx(analysis.probabilities.max())
    ranked = np.sort(analysis.probabilities)[::-1]
    assert analysis.uncertain == (ranked[0] < UNCERTAIN_BELOW or ranked[0] - ranked[1] < UNCERTAIN_MARGIN)
    assert analysis.timeline is not None and len(analysis.timeline.starts) > 1
    assert analysis.duration == pytest.approx(len(long_clip) / audio.TARGET_SR)
    assert analysis.log_mel.shape == features.log_mel(analysis.waveform, model.feature_config).shape
    assert analysis.sr == audio.TARGET_SR
    with pytest.warns(DeprecationWarning, match=r"Analysis.sample_rate is deprecated; use \.sr"):
        assert analysis.sample_rate == analysis.sr

    short = model.analyze(emodb_root / EMODB_WAV)
    assert short.timeline is None
    assert short.as_dict() == pytest.approx(model.predict_file(emodb_root / EMODB_WAV), abs=1e-9)
    assert short.waveform == pytest.approx(audio.load(emodb_root / EMODB_WAV))


def test_silence_raises_no_speech(model):
    with pytest.raises(audio.NoSpeechError, match="no speech detected"):
        model.predict(np.zeros(3 * audio.TARGET_SR, np.float32), audio.TARGET_SR)


def test_litert_and_tensorflow_agree(bundle_dir, long_clip, emodb_root, ravdess_root):
    litert = load_model(bundle_dir, backend="litert")
    tensorflow = load_model(bundle_dir, backend="tensorflow")
    assert (litert.backend, tensorflow.backend) == ("litert", "tensorflow")
    for path in (emodb_root / EMODB_WAV, ravdess_root / RAVDESS_STEREO_FLAC):
        assert litert.predict_file(path) == pytest.approx(tensorflow.predict_file(path), abs=1e-4)
    recording = np.tile(long_clip, 4)  # > 32 windows: several TensorFlow chunks
    a = litert.predict_timeline(recording, audio.TARGET_SR).probabilities
    b = tensorflow.predict_timeline(recording, audio.TARGET_SR).probabilities
    assert len(a) > 32 and a.shape == b.shape
    assert np.abs(a - b).max() <= 1e-4


def test_feature_config_argument_must_match_the_card(bundle_dir):
    with pytest.raises(bundle.FeatureConfigMismatchError, match="n_mels"):
        load_model(bundle_dir, feature_config=features.FeatureConfig(n_mels=40))
    assert load_model(bundle_dir, feature_config=features.FeatureConfig()).labels == LABELS


def test_card_feature_config_must_fit_the_model(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "edited")
    card = json.loads((copy / bundle.CARD).read_text())
    card["feature_config"]["hop_length"] = 160  # 301 frames: not what the model takes
    (copy / bundle.CARD).write_text(json.dumps(card))
    for backend in ("litert", "tensorflow"):
        with pytest.raises(bundle.FeatureConfigMismatchError, match="188"):
            load_model(copy, backend=backend)


def test_tampered_weights_are_refused(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "tampered")
    weights = bytearray((copy / bundle.LITERT).read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (copy / bundle.LITERT).write_bytes(bytes(weights))
    with pytest.raises(bundle.IntegrityError, match="model.tflite"):
        load_model(copy)


def test_default_model_comes_from_ser_model(bundle_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SER_MODEL", str(bundle_dir))
    assert load_model().name == "tiny-emodb4"
    monkeypatch.setenv("SER_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        load_model()


@pytest.fixture(scope="module")
def waveform_bundle(tmp_path_factory):
    """An untrained tiny zhao2019_1d on 1-s waveforms: exercises the waveform input path."""
    from serwidgets import nets

    config = features.FeatureConfig(duration=1.0)
    net = {"name": "zhao2019_1d", "kwargs": {"filters": [4, 4, 4, 4], "pool_size": 8, "lstm_units": 8}}
    model = nets.build(net["name"], (config.n_samples,), len(LABELS), **net["kwargs"])
    return export.save_bundle(model, tmp_path_factory.mktemp("waveform") / "tiny-1d", net=net, labels=LABELS,
                              task="tiny4", feature_config=config, audio_options=audio.AudioOptions(),
                              training={}, metrics={}, name="tiny-1d")


def test_waveform_model(waveform_bundle, long_clip, emodb_root):
    litert = load_model(waveform_bundle)
    tensorflow = load_model(waveform_bundle, backend="tensorflow")
    assert litert.card.input_kind == "waveform" and litert.backend == "litert"
    path = emodb_root / EMODB_WAV
    assert_distribution(litert.predict_file(path))
    assert litert.predict_file(path) == pytest.approx(tensorflow.predict_file(path), abs=1e-4)
    timeline = litert.predict_timeline(long_clip, audio.TARGET_SR, hop=0.5)
    starts, ends = features.frame_windows(len(long_clip), audio.TARGET_SR, 1.0, 0.5)
    assert timeline.starts == pytest.approx(starts / audio.TARGET_SR)
    assert timeline.ends == pytest.approx(ends / audio.TARGET_SR)
    analysis = litert.analyze(long_clip, audio.TARGET_SR)
    assert analysis.log_mel.shape[0] == litert.feature_config.n_mels
    assert analysis.timeline is not None


def test_shipped_model_loads_and_predicts(monkeypatch, emodb_root, ravdess_root):
    from serwidgets import labels

    monkeypatch.delenv("SER_MODEL", raising=False)
    model = load_model()  # models/ser-emotion6, hashes checked
    assert model.backend == "litert"
    assert model.labels == tuple(labels.TASKS["emotion6"])
    for path in (emodb_root / EMODB_WAV, ravdess_root / RAVDESS_STEREO_FLAC):
        probabilities = model.predict_file(path)
        assert list(probabilities) == list(model.labels)
        assert sum(probabilities.values()) == pytest.approx(1.0)
