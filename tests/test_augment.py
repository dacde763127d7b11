"""Augmentation: SNR accuracy on real EmoDB speech, determinism, speed/pitch, SpecAugment."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from serwidgets.audio import TARGET_SR
from serwidgets.augment import (
    Augmenter,
    add_noise,
    measure_snr,
    pitch_shift,
    spec_augment,
    speed_perturb,
    time_shift,
)

SR = TARGET_SR


@pytest.fixture(scope="module")
def speech(emodb_root) -> np.ndarray:
    y, sr = sf.read(emodb_root / "wav" / "03a01Fa.wav", dtype="float32")
    assert sr == SR
    return y


@pytest.fixture(scope="module")
def babble_pool(emodb_root) -> list[np.ndarray]:
    # Other speakers' utterances, standing in for a training fold that excludes speaker 03.
    paths = sorted((emodb_root / "wav").glob("1[0-4]a0*.wav"))[::7][:6]
    return [sf.read(p, dtype="float32")[0] for p in paths]


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(y: np.ndarray) -> float:
    # Hann window, 8x zero padding, parabolic interpolation of the peak bin.
    n = 8 * y.size
    mag = np.log(np.abs(np.fft.rfft(y * np.hanning(y.size), n)) + 1e-12)
    k = int(np.argmax(mag))
    offset = 0.5 * (mag[k - 1] - mag[k + 1]) / (mag[k - 1] - 2 * mag[k] + mag[k + 1])
    return (k + offset) * SR / n


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr_db", [0.0, 5.0, 10.0, 20.0])
def test_add_noise_hits_requested_snr(speech, babble_pool, kind, snr_db):
    noisy = add_noise(speech, snr_db, kind, rng=np.random.default_rng(0), babble_pool=babble_pool)
    assert noisy.dtype == np.float32 and noisy.shape == speech.shape
    assert abs(measure_snr(speech, noisy) - snr_db) < 0.1


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_add_noise_is_seeded(speech, babble_pool, kind):
    def noisy(seed):
        rng = np.random.default_rng(seed)
        return add_noise(speech, 5.0, kind, rng=rng, babble_pool=babble_pool)

    assert np.array_equal(noisy(1), noisy(1))
    assert not np.array_equal(noisy(1), noisy(2))


def octave_powers_db(noise: np.ndarray, lows=(250, 1000, 4000)) -> np.ndarray:
    power = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(noise.size, 1 / SR)
    return np.array([10 * np.log10(power[(f >= lo) & (f < 2 * lo)].sum()) for lo in lows])


def test_pink_noise_has_equal_power_per_octave_white_does_not(speech):
    rng = np.random.default_rng(0)
    pink = add_noise(speech, 0.0, "pink", rng=rng) - speech
    white = add_noise(speech, 0.0, "white", rng=rng) - speech
    # 1/f: every octave carries the same power; white: each octave up doubles it (+3 dB).
    assert np.ptp(octave_powers_db(pink)) < 1.0
    assert np.allclose(np.diff(octave_powers_db(white)), 2 * 3.01, atol=1.0)


def test_babble_is_a_looped_training_utterance(speech, babble_pool):
    talker = babble_pool[0]
    noise = add_noise(
        speech, 10.0, "babble", rng=np.random.default_rng(3), babble_pool=[talker], n_talkers=1
    ).astype(np.float64) - speech
    # Find the talker's offset by circular cross-correlation, then check the noise is exactly
    # that (looped) stretch of the talker, scaled.
    n, size = noise.size, talker.size
    looped = talker[np.arange(size + n) % size].astype(np.float64)
    m = 2 * (size + n)
    corr = np.fft.irfft(np.fft.rfft(looped, m) * np.conj(np.fft.rfft(noise, m)), m)[:size]
    window = looped[int(np.argmax(corr)) :][:n]
    gain = np.dot(window, noise) / np.dot(window, window)
    assert np.linalg.norm(noise - gain * window) < 1e-3 * np.linalg.norm(noise)


def test_babble_needs_a_pool(speech):
    with pytest.raises(ValueError, match="babble_pool"):
        add_noise(speech, 10.0, "babble", rng=np.random.default_rng(0))


def test_add_noise_rejects_silence_and_unknown_kind():
    with pytest.raises(ValueError, match="silent"):
        add_noise(np.zeros(100, np.float32), 10.0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown noise kind"):
        add_noise(np.ones(100, np.float32), 10.0, "brown", rng=np.random.default_rng(0))


def test_measure_snr_of_a_known_mixture():
    clean = np.ones(1000)
    assert measure_snr(clean, clean + 0.1) == pytest.approx(20.0)
    assert measure_snr(clean, 2 * clean) == pytest.approx(0.0)


@pytest.mark.parametrize("mode", ["circular", "zero"])
def test_time_shift_moves_by_at_most_max_shift(speech, mode):
    max_shift = 0.1
    limit = int(max_shift * SR)
    inner = slice(limit, -limit)  # away from the edges, both modes are a plain shift
    for seed in range(5):
        shifted = time_shift(speech, max_shift, np.random.default_rng(seed), SR, mode=mode)
        again = time_shift(speech, max_shift, np.random.default_rng(seed), SR, mode=mode)
        assert shifted.dtype == np.float32 and shifted.shape == speech.shape
        assert np.array_equal(shifted, again)
        # Recover the shift: the one lag within the limit at which the signals match.
        matches = [
            k
            for k in range(-limit, limit + 1)
            if np.array_equal(np.roll(speech, k)[inner], shifted[inner])
        ]
        assert len(matches) == 1
        if mode == "circular":
            assert np.array_equal(np.roll(speech, matches[0]), shifted)
        else:
            k = matches[0]
            edge = shifted[:k] if k > 0 else shifted[shifted.size + k :]
            assert not edge.any()  # the gap is silence


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_duration_and_pitch_by_factor(speech, factor):
    out = speed_perturb(speech, factor, SR)
    assert out.dtype == np.float32
    assert abs(out.size - speech.size / factor) <= 1
    assert dominant_frequency(speed_perturb(tone(500.0), factor, SR)) == pytest.approx(
        500.0 * factor, rel=2e-3
    )


@pytest.mark.parametrize("semitones", [-3.0, 2.0, 4.0])
def test_pitch_shift_keeps_duration_and_moves_frequency(semitones):
    y = tone(440.0)
    out = pitch_shift(y, semitones, SR)
    assert out.dtype == np.float32 and out.shape == y.shape
    # Ignore the edges, where the phase vocoder's frames are incomplete.
    expected = 440.0 * 2 ** (semitones / 12)
    assert dominant_frequency(out[2000:-2000]) == pytest.approx(expected, rel=5e-3)


def test_spec_augment_masks_whole_bands_and_frames():
    rng = np.random.default_rng(0)
    batch = rng.uniform(1.0, 2.0, size=(32, 64, 188)).astype(np.float32)
    batch[:, 0, 0] = 0.5  # each spectrogram's minimum, the "min" fill value
    out = spec_augment(batch, np.random.default_rng(1), 2, 8, 3, 20, fill="min")
    assert out.dtype == np.float32 and out.shape == batch.shape
    changed = out != batch
    # Masked cells hold the fill value and form whole mel rows or whole frame columns.
    assert np.all(out[changed] == 0.5)
    # (Row 0 and frame 0 are left out: cell [0, 0] holds 0.5 whether masked or not.)
    masked = (out == 0.5)[:, 1:, 1:]
    rows, cols = masked.all(axis=2), masked.all(axis=1)
    assert np.array_equal(masked, rows[:, :, None] | cols[:, None, :])
    assert rows.sum(axis=1).max() <= 2 * 8 and cols.sum(axis=1).max() <= 3 * 20
    # Independent masks per element, and widths that reach the requested maximum.
    assert len({tuple(np.flatnonzero(r)) for r in rows}) > 16
    assert rows.sum(axis=1).max() > 8 and cols.sum(axis=1).max() > 20


def test_spec_augment_band_widths_respect_max():
    batch = np.ones((500, 64, 100), np.float32)
    batch[:, -1, -1] = 0.0
    out = spec_augment(batch, np.random.default_rng(2), 1, 5, 1, 7)
    masked = out == 0.0
    rows, cols = masked.all(axis=2), masked.all(axis=1)
    # One band each: contiguous, at most max wide, every width 0..max seen.
    for mask, max_width in ((rows, 5), (cols, 7)):
        widths = mask.sum(axis=1)
        assert set(widths) == set(range(max_width + 1))
        starts = mask.argmax(axis=1)
        spans = np.arange(mask.shape[1]) - starts[:, None]
        assert np.array_equal(mask, (spans >= 0) & (spans < widths[:, None]))


def test_spec_augment_mean_fill_seeded_and_2d():
    spec = np.random.default_rng(0).normal(size=(64, 188)).astype(np.float32)
    a = spec_augment(spec, np.random.default_rng(5), fill="mean")
    assert a.shape == spec.shape
    assert np.allclose(a[a != spec], spec.mean())
    assert np.array_equal(a, spec_augment(spec, np.random.default_rng(5), fill="mean"))
    none = spec_augment(spec, np.random.default_rng(5), n_freq_masks=0, n_time_masks=0)
    assert np.array_equal(none, spec)


def test_augmenter_round_trips_through_json():
    aug = Augmenter(snr_db=(0.0, 10.0), noise_kinds=("pink",), speed_prob=0.3)
    restored = Augmenter.from_dict(json.loads(json.dumps(aug.to_dict())))
    assert restored == aug and restored.snr_db == (0.0, 10.0)
    with pytest.raises(ValueError, match="unknown Augmenter fields"):
        Augmenter.from_dict({**aug.to_dict(), "mixup": 0.2})
    with pytest.raises(ValueError, match="probability"):
        Augmenter(noise_prob=1.5)


def test_augmenter_waveform_is_seeded_and_applies_noise(speech, babble_pool):
    aug = Augmenter(
        noise_prob=1.0, snr_db=(10.0, 10.0), shift_prob=0.0, speed_prob=1.0, speed_factors=(1.1,)
    )
    out = aug.waveform(speech, np.random.default_rng(0), babble_pool)
    again = aug.waveform(speech, np.random.default_rng(0), babble_pool)
    assert out.dtype == np.float32 and np.array_equal(out, again)
    sped = speed_perturb(speech, 1.1, SR)
    assert out.shape == sped.shape
    assert measure_snr(sped, out) == pytest.approx(10.0, abs=0.1)


def test_augmenter_babble_without_pool_is_an_error(speech):
    aug = Augmenter(noise_prob=1.0, noise_kinds=("babble",))
    with pytest.raises(ValueError, match="babble_pool"):
        aug.waveform(speech, np.random.default_rng(0))


def test_augmenter_spectrogram_probability():
    batch = np.random.default_rng(0).normal(size=(64, 32, 50)).astype(np.float32)
    untouched = Augmenter(spec_prob=0.0).spectrogram(batch, np.random.default_rng(1))
    assert np.array_equal(untouched, batch)
    half = Augmenter(spec_prob=0.5, max_freq=10, max_time=10).spectrogram(
        batch, np.random.default_rng(1)
    )
    changed = (half != batch).any(axis=(1, 2))
    assert 10 < changed.sum() < 54
