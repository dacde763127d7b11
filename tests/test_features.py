"""serwidgets.features: equality with librosa, the config contract, cropping/padding, windows."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from serwidgets import audio
from serwidgets.features import FeatureConfig, fix_frames, frame_windows, log_mel, mel_filterbank

RAW = FeatureConfig(normalization="none")
OTHER = FeatureConfig(
    n_fft=1024, win_length=800, hop_length=160, n_mels=128, fmin=0.0, fmax=7600.0,
    top_db=60.0, normalization="none",
)


def librosa_log_mel(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    import librosa

    power = librosa.feature.melspectrogram(
        y=y, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        win_length=cfg.win_length, window="hann", center=True, pad_mode="constant",
        power=2.0, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, htk=False, norm="slaney",
    )
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=cfg.top_db)


@pytest.fixture(scope="module")
def speech(emodb_root, ravdess_root) -> dict[str, np.ndarray]:
    return {
        "emodb": audio.load(emodb_root / "wav" / "03a01Fa.wav"),
        "ravdess": audio.load(ravdess_root / "Actor_01" / "03-01-02-01-01-02-01.flac"),
    }


@pytest.mark.parametrize("cfg", [RAW, OTHER], ids=["default", "128mel-10ms"])
@pytest.mark.parametrize("corpus", ["emodb", "ravdess"])
def test_log_mel_equals_librosa(speech, corpus, cfg):
    y = speech[corpus]
    ours = log_mel(y, cfg)
    reference = librosa_log_mel(y, cfg)
    assert ours.shape == reference.shape == (cfg.n_mels, 1 + len(y) // cfg.hop_length)
    # float32 arithmetic on both sides: agreement to a thousandth of a dB.
    np.testing.assert_allclose(ours, reference, atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    "sr, n_fft, n_mels, fmin, fmax",
    [
        (16000, 512, 64, 20.0, 8000.0),
        (16000, 1024, 128, 0.0, 7600.0),
        (22050, 2048, 40, 300.0, 4000.0),
    ],
)
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax):
    import librosa

    cfg = FeatureConfig(
        sample_rate=sr, n_fft=n_fft, win_length=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax
    )
    reference = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney"
    )
    ours = mel_filterbank(cfg)
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-9)
    assert mel_filterbank(cfg) is ours  # cached
    assert not ours.flags.writeable


def test_clip_normalisation_and_db_floor(speech):
    y = speech["emodb"]
    raw = log_mel(y, RAW)
    assert raw.min() >= raw.max() - RAW.top_db - 1e-4
    S = log_mel(y, FeatureConfig())
    assert S.dtype == np.float32
    assert S.mean() == pytest.approx(0.0, abs=1e-4)
    assert S.std() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(S, (raw - raw.mean()) / raw.std(), atol=1e-4)


def test_silence_gives_a_constant_zero_spectrogram():
    S = log_mel(np.zeros(16000, np.float32))
    assert S.shape == (64, 63) and not S.any()


@pytest.mark.parametrize("n", [1, 255, 256, 257, 48000, 48001])
def test_frame_count_matches_centred_framing(n, rng):
    y = rng.standard_normal(n).astype(np.float32)
    assert log_mel(y).shape == (64, 1 + n // 256)


def test_dtype_and_shape_checks(rng):
    y64 = 0.1 * rng.standard_normal(16000)
    assert log_mel(y64).dtype == np.float32
    np.testing.assert_allclose(log_mel(y64), log_mel(y64.astype(np.float32)), atol=1e-5)
    with pytest.raises(ValueError, match="mono 1-D"):
        log_mel(np.zeros((2, 16000), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        log_mel(np.full(1000, np.nan, np.float32))


# ------------------------------------------------------------------------- FeatureConfig


def test_default_config_contract():
    cfg = FeatureConfig()
    assert cfg.to_dict() == {
        "sample_rate": 16000, "n_fft": 512, "win_length": 512, "hop_length": 256, "n_mels": 64,
        "fmin": 20.0, "fmax": 8000.0, "top_db": 80.0, "normalization": "clip", "duration": 3.0,
    }
    assert cfg.n_frames == 188
    assert log_mel(np.zeros(cfg.n_samples, np.float32), cfg).shape[1] == cfg.n_frames


def test_config_round_trips():
    assert FeatureConfig.from_dict(OTHER.to_dict()) == OTHER
    assert FeatureConfig.from_json(OTHER.to_json()) == OTHER
    assert json.loads(FeatureConfig().to_json())["n_mels"] == 64
    with pytest.raises(ValueError, match=r"unknown FeatureConfig keys: \['n_mfcc'\]"):
        FeatureConfig.from_dict({**RAW.to_dict(), "n_mfcc": 13})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fmax": 9000.0}, "above the Nyquist"),
        ({"fmin": 8000.0}, "fmin < fmax"),
        ({"win_length": 1024}, "win_length=1024 must be <= n_fft=512"),
        ({"hop_length": 0}, "hop_length must be a positive integer"),
        ({"n_mels": 64.0}, "n_mels must be a positive integer"),
        ({"normalization": "global"}, "normalization must be one of"),
        ({"top_db": -1.0}, "top_db must be positive"),
        ({"duration": 0.0}, "duration must be positive"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureConfig(**kwargs)


# ---------------------------------------------------------------------------- fix_frames


def test_fix_frames_crops():
    S = np.arange(20, dtype=np.float32).reshape(2, 10)
    np.testing.assert_array_equal(fix_frames(S, 4, "center"), S[:, 3:7])
    np.testing.assert_array_equal(fix_frames(S, 4, "start"), S[:, :4])
    rngs = [np.random.default_rng(seed) for seed in range(40)]
    starts = {int(fix_frames(S, 4, "random", rng)[0, 0]) for rng in rngs}
    assert starts == set(range(7))  # every valid window is reachable, none beyond the end
    with pytest.raises(ValueError, match="needs rng"):
        fix_frames(S, 4, "random")
    with pytest.raises(ValueError, match="mode must be"):
        fix_frames(S, 4, "middle")


def test_fix_frames_pads_at_the_end_with_the_minimum(speech):
    S = log_mel(speech["emodb"])
    n = S.shape[1]
    out = fix_frames(S, n + 50)
    assert out.shape == (64, n + 50) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :n], S)
    assert np.all(out[:, n:] == S.min())
    np.testing.assert_array_equal(fix_frames(S, n), S)


def test_fix_frames_on_a_batch_pads_each_with_its_own_minimum():
    batch = np.random.default_rng(1).standard_normal((3, 64, 100)).astype(np.float32)
    batch[1] -= 10.0
    padded = fix_frames(batch, 188)
    assert padded.shape == (3, 64, 188)
    for spec, out in zip(batch, padded):
        np.testing.assert_array_equal(out[:, :100], spec)
        assert np.all(out[:, 100:] == spec.min())
    np.testing.assert_array_equal(fix_frames(batch, 50, "start"), batch[..., :50])


# ------------------------------------------------------------------------- frame_windows


@pytest.mark.parametrize("seconds", [0.5, 3.0, 5.0, 5.5, 61.3])
def test_frame_windows_cover_the_recording(seconds):
    sr = 16000
    n = int(seconds * sr)
    starts, ends = frame_windows(n, sr, window_s=3.0, hop_s=1.0)
    assert starts[0] == 0 and ends[-1] == n
    assert np.all(ends - starts == min(n, 3 * sr))
    assert np.all(np.diff(starts) > 0) and np.all(np.diff(starts) <= sr)


def test_core_modules_do_not_import_heavy_libraries():
    code = (
        "import sys, numpy as np; import serwidgets.audio, serwidgets.features as f; "
        "f.log_mel(np.zeros(48000, np.float32)); "
        "print([m for m in ('tensorflow', 'librosa', 'numba', 'matplotlib') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
