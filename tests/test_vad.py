"""serwidgets.vad: real speech passes, what merely is loud does not.

The full validation (every EmoDB and RAVDESS clip) is ``benchmarks/bench_vad.py --corpora``;
here a few dozen real clips of each corpus keep the test quick.
"""

from __future__ import annotations

import numpy as np
import pytest

from serwidgets import audio, vad

SR = audio.TARGET_SR


def waveform(path) -> np.ndarray:
    """A real clip as the detector sees it inside audio.prepare: 16 kHz, no DC, not trimmed."""
    return audio.load(path, audio.AudioOptions(trim=False, normalize=False, min_speech_seconds=0))


@pytest.fixture(scope="module")
def emodb_clips(emodb_root):
    return sorted((emodb_root / "wav").glob("*.wav"))[::15]  # 36 clips: every speaker and emotion


@pytest.fixture(scope="module")
def ravdess_clips(ravdess_root):
    # One clip of each actor, across emotions and both intensities (soft ones peak near -45 dBFS).
    actors = sorted(ravdess_root.glob("Actor_*"))
    return [sorted(actor.glob("*.*"))[(7 * i) % 60] for i, actor in enumerate(actors)]


def test_real_speech_is_speech(emodb_clips, ravdess_clips):
    rejected = []
    for path in [*emodb_clips, *ravdess_clips]:
        activity = vad.voice_activity(waveform(path), SR)
        if not activity.speech:
            rejected.append(f"{path.name}: {activity.reason()}")
        assert activity.voiced_seconds >= 0.3, path.name  # well above the 0.2 s needed
    assert rejected == []
    # ... and the default audio.load runs the check and lets it through.
    for path in emodb_clips[:5] + ravdess_clips[:5]:
        assert audio.load(path).size > 0


def test_level_does_not_matter(emodb_clips):
    y = waveform(emodb_clips[0])
    for gain in (1.0, 0.01, 0.001):  # down to about -70 dBFS peaks
        assert vad.is_speech(gain * y, SR)


def test_speech_at_other_rates(emodb_clips):
    import soxr

    y = waveform(emodb_clips[1])
    for sr in (8000, 22050, 48000):
        assert vad.is_speech(soxr.resample(y, SR, sr), sr)


def synthetic(kind: str, rng, seconds: float = 3.0) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    white = rng.standard_normal(n)

    def coloured(exponent):
        spectrum = np.fft.rfft(white)
        spectrum[1:] /= np.arange(1, spectrum.size) ** (exponent / 2)
        y = np.fft.irfft(spectrum, n)
        return 0.1 * y / y.std()

    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    return {
        "silence": np.zeros(n),
        "constant": np.full(n, 0.5),
        "white-noise": 0.1 * white,
        "pink-noise": coloured(1),
        "brown-noise": coloured(2),
        "tone-220Hz": tone,
        "tone-220Hz-in-noise-20dB": tone + 0.1 * tone.std() * white,
        "tone-1kHz-syllables": 0.3 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) * np.sin(2 * np.pi * 1000 * t),
        "hum-50Hz": 0.2 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t),
        "buzz-150Hz": 0.05 * sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 30)),
        "clicks": np.where(np.arange(n) % 1600 == 0, 0.9, 0.0),
    }[kind]


NOT_SPEECH = ["silence", "constant", "white-noise", "pink-noise", "brown-noise", "tone-220Hz",
              "tone-220Hz-in-noise-20dB", "tone-1kHz-syllables", "hum-50Hz", "buzz-150Hz", "clicks"]


@pytest.mark.parametrize("kind", NOT_SPEECH)
def test_not_speech(kind, rng):
    y = synthetic(kind, rng)
    activity = vad.voice_activity(y - y.mean(), SR)
    assert not activity.speech, activity.reason()
    if kind.startswith("tone"):
        assert "tone" in activity.reason()
    if kind.startswith("buzz"):
        assert "steady pitch" in activity.reason()  # periodic, but its pitch never moves
    # What a user sees: prepare (DC removal, silence threshold, this check) says no speech.
    with pytest.raises(audio.NoSpeechError, match=f"^no speech detected in {kind}"):
        audio.prepare(y, SR, name=kind)


def test_dc_offset_alone_is_not_speech(rng):
    with pytest.raises(audio.NoSpeechError, match="no speech detected"):
        audio.prepare(np.full(3 * SR, 0.5), SR)
    # An offset under quiet room noise: the noise is loud enough, but it is no voice.
    with pytest.raises(audio.NoSpeechError, match="noise-like"):
        audio.prepare(0.05 + 0.003 * rng.standard_normal(3 * SR), SR)


def test_synthetic_voice_is_speech_and_min_duration_counts():
    activity = vad.voice_activity(vad.synthetic_voice(2.0), SR)
    assert activity.speech and activity.voiced_seconds > 1.5 and activity.pitch_spread > 2
    short = vad.synthetic_voice(0.5)
    assert vad.is_speech(short, SR)
    assert not vad.is_speech(short, SR, min_voiced_seconds=1.0)
    assert "only" in vad.voice_activity(short, SR, min_voiced_seconds=1.0).reason()


def test_the_check_can_be_turned_off(rng):
    y = synthetic("white-noise", rng)
    with pytest.raises(audio.NoSpeechError):
        audio.prepare(y, SR)
    assert audio.prepare(y, SR, audio.AudioOptions(min_speech_seconds=0)).size == y.size
    assert audio.AudioOptions().min_speech_seconds == vad.MIN_VOICED_SECONDS
    with pytest.raises(ValueError, match="min_speech_seconds"):
        audio.AudioOptions(min_speech_seconds=-1)


def test_frame_measures_and_bad_input():
    activity = vad.voice_activity(vad.synthetic_voice(1.0), SR)
    n = activity.times.size
    for values in (activity.level_db, activity.periodicity, activity.f0, activity.flatness,
                   activity.partials, activity.voiced):
        assert values.shape == (n,)
    assert np.all(np.diff(activity.times) > 0)
    voiced_f0 = activity.f0[activity.voiced]
    assert np.all((voiced_f0 >= vad.F0_RANGE[0]) & (voiced_f0 <= vad.F0_RANGE[1]))
    assert vad.voice_activity(np.zeros(10), SR).reason() == "silent"  # shorter than a frame
    with pytest.raises(ValueError, match="mono"):
        vad.voice_activity(np.zeros((2, 100)), SR)
    with pytest.raises(ValueError, match="8000"):
        vad.voice_activity(np.zeros(100), 4000)
