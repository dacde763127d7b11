"""Data augmentation for training: noise, time shift, speed and pitch, SpecAugment.

Augmentation is applied **on the fly, to training folds only — never before splitting**. An
augmented copy carries its recording's speaker, sentence and voice; if copies exist before the
split, a random split puts copies of most test recordings in training and the model is scored
on near-duplicates of what it learned. That is how the seed app reported 99.3 % accuracy
(noisy copies added, then a random split). :func:`serwidgets.splits.check_leakage` rejects such
splits when copies carry a ``source`` column; augmenting inside the training loop avoids them.

Every random function takes an explicit ``rng`` (:class:`numpy.random.Generator`), so a seed
reproduces a training run. Waveforms are 1-D float32 (at :data:`~serwidgets.audio.TARGET_SR`
unless ``sr`` says otherwise); spectrogram batches are float32 ``(batch, n_mels, frames)``.
:class:`Augmenter` composes the operations with probabilities and ranges and serialises to a
dict for the model card.

Examples
--------
>>> import numpy as np
>>> from serwidgets import augment
>>> from serwidgets.audio import TARGET_SR
>>> rng = np.random.default_rng(0)
>>> y = np.sin(2 * np.pi * 220 * np.arange(TARGET_SR) / TARGET_SR).astype(np.float32)
>>> noisy = augment.add_noise(y, 10.0, "pink", rng=rng)
>>> round(augment.measure_snr(y, noisy), 3)
10.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from .audio import TARGET_SR

__all__ = [
    "NOISE_KINDS",
    "add_noise",
    "measure_snr",
    "time_shift",
    "speed_perturb",
    "pitch_shift",
    "spec_augment",
    "Augmenter",
]

NOISE_KINDS = ("white", "pink", "babble")


def _as_waveform(y) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape (n,), got shape {y.shape}")
    return y


def _energy(x: np.ndarray) -> float:
    # float64 accumulation: float32 sums of ~1e5 squares lose the precision the SNR needs.
    # (Not np.dot: a BLAS call here fights the training threads for the cores.)
    return float(np.square(x, dtype=np.float64).sum())


def _pink(n: int, rng: np.random.Generator, sr: int, fmin: float = 20.0) -> np.ndarray:
    # 1/f power = 1/sqrt(f) amplitude applied to white noise's spectrum; below fmin the gain is
    # held flat so DC and sub-audio rumble do not dominate the noise.
    # Shaped at a power-of-two length (fast FFT whatever n is), then cropped.
    m = 1 << max(n - 1, 1).bit_length()
    spectrum = np.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, d=1.0 / sr)
    return np.fft.irfft(spectrum / np.sqrt(np.maximum(f, fmin)), n=m)[:n]


def _babble(n: int, rng: np.random.Generator, pool: Sequence, n_talkers: int) -> np.ndarray:
    if len(pool) == 0:
        raise ValueError("babble noise needs a babble_pool of training waveforms")
    noise = np.zeros(n)
    for k in rng.choice(len(pool), size=n_talkers, replace=len(pool) < n_talkers):
        talker = np.asarray(pool[k], dtype=np.float64)
        rms = np.sqrt(_energy(talker) / max(talker.size, 1))
        if rms == 0:
            raise ValueError(f"babble_pool[{k}] is silent")
        # A random starting point, looped when the talker is shorter than the target.
        start = rng.integers(talker.size)
        noise += talker[(start + np.arange(n)) % talker.size] / rms
    return noise


def add_noise(
    y,
    snr_db: float,
    kind: str = "white",
    *,
    rng: np.random.Generator,
    babble_pool: Sequence | None = None,
    sr: int = TARGET_SR,
    n_talkers: int = 4,
) -> np.ndarray:
    """Add noise at a given signal-to-noise ratio over the whole utterance.

    The noise is scaled so that ``10 log10(sum(y**2) / sum(noise**2))`` equals ``snr_db``
    (:func:`measure_snr` of the result returns it). The output is not clipped, since clipping
    would change the SNR; it may exceed [-1, 1].

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Clean waveform (not silent).
    snr_db : float
        Requested SNR in dB.
    kind : {"white", "pink", "babble"}
        White Gaussian noise; pink noise (1/f power, shaped in the FFT domain); or babble, the
        sum of ``n_talkers`` utterances from ``babble_pool`` (each at unit RMS, from a random
        offset, looped or cropped to ``len(y)``).
    rng : np.random.Generator
        Source of randomness.
    babble_pool : sequence of np.ndarray, optional
        Waveforms for babble, at rate ``sr``. They must come from the **training** fold: babble
        made from test utterances puts test speakers' voices and sentences into training
        inputs, a leak that no split check can see.
    sr : int
        Sample rate of ``y`` (pink noise's spectral shape is defined in Hz).
    n_talkers : int
        Utterances summed into babble.

    Returns
    -------
    np.ndarray, float32, shape (n,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal(TARGET_SR).astype(np.float32)
    >>> round(measure_snr(y, add_noise(y, 5.0, rng=rng)), 3)
    5.0
    """
    y = _as_waveform(y)
    n = y.size
    if kind == "white":
        noise = rng.standard_normal(n)
    elif kind == "pink":
        noise = _pink(n, rng, sr)
    elif kind == "babble":
        noise = _babble(n, rng, [] if babble_pool is None else babble_pool, n_talkers)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    signal, noise_energy = _energy(y), _energy(noise)
    if signal == 0 or noise_energy == 0:
        raise ValueError("cannot set an SNR on a silent signal")
    gain = np.sqrt(signal / (noise_energy * 10.0 ** (snr_db / 10.0)))
    return (y + gain * noise).astype(np.float32)


def measure_snr(clean, noisy) -> float:
    """Signal-to-noise ratio in dB of ``noisy`` against ``clean`` (noise = ``noisy - clean``).

    Examples
    --------
    >>> round(measure_snr(np.ones(4), np.ones(4) * 1.1), 6)
    20.0
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noisy, dtype=np.float64) - clean
    return float(10.0 * np.log10(_energy(clean) / _energy(noise)))


def time_shift(
    y, max_shift_s: float, rng: np.random.Generator, sr: int = TARGET_SR, mode: str = "circular"
) -> np.ndarray:
    """Shift a waveform in time by a uniform random amount in ``[-max_shift_s, max_shift_s]``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    max_shift_s : float
        Largest shift in seconds (either direction).
    rng : np.random.Generator
    sr : int
        Sample rate of ``y``.
    mode : {"circular", "zero"}
        ``"circular"`` (default) wraps the samples pushed off one end round to the other, so
        no speech is lost; ``"zero"`` drops them and fills the gap with silence.

    Returns
    -------
    np.ndarray, float32, same length as ``y``

    Examples
    --------
    >>> y = np.arange(1, 6, dtype=np.float32)
    >>> time_shift(y, 2 / TARGET_SR, np.random.default_rng(0), mode="zero")  # shift = +2
    array([0., 0., 1., 2., 3.], dtype=float32)
    """
    y = _as_waveform(y)
    limit = int(round(max_shift_s * sr))
    shift = int(rng.integers(-limit, limit + 1))
    if mode == "circular":
        return np.roll(y, shift)
    if mode != "zero":
        raise ValueError(f"unknown mode {mode!r}; expected 'circular' or 'zero'")
    out = np.zeros_like(y)
    if shift >= 0:
        out[shift:] = y[: y.size - shift]
    else:
        out[:shift] = y[-shift:]
    return out


def speed_perturb(y, factor: float, sr: int = TARGET_SR) -> np.ndarray:
    """Play the waveform ``factor`` times faster, changing tempo *and* pitch (Kaldi-style).

    The signal is resampled as though it had been recorded at ``factor * sr``: the result
    has ``len(y) / factor`` samples and every frequency is multiplied by ``factor``.
    Kaldi's recipes use factors 0.9, 1.0 and 1.1.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    factor : float
        Speed factor (> 1 is faster and higher).
    sr : int
        Sample rate of ``y`` (and of the result).

    Returns
    -------
    np.ndarray, float32, shape (about ``n / factor``,)

    Examples
    --------
    >>> speed_perturb(np.zeros(TARGET_SR, np.float32), 1.1).size  # 1 s at 1.1x speed
    14545
    """
    import soxr

    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    y = _as_waveform(y)
    return soxr.resample(y, factor * sr, sr).astype(np.float32)


def pitch_shift(y, semitones: float, sr: int = TARGET_SR) -> np.ndarray:
    """Shift the pitch by ``semitones`` and keep the duration.

    Uses :func:`librosa.effects.pitch_shift` (a phase-vocoder time stretch followed by soxr
    resampling); librosa is imported here, since this runs only when training.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    semitones : float
        Shift in equal-tempered semitones; frequencies are multiplied by ``2 ** (semitones/12)``.
    sr : int
        Sample rate of ``y``.

    Returns
    -------
    np.ndarray, float32, shape (n,)

    Examples
    --------
    >>> pitch_shift(np.zeros(TARGET_SR, np.float32), 2.0).shape == (TARGET_SR,)  # doctest: +SKIP
    True
    """
    import librosa

    y = _as_waveform(y)
    shifted = librosa.effects.pitch_shift(y, sr=sr, n_steps=semitones, res_type="soxr_hq")
    return shifted.astype(np.float32)


def _band_masks(
    rng: np.random.Generator, batch: int, size: int, n_masks: int, max_width: int
) -> np.ndarray:
    """``(batch, size)`` booleans: the union of ``n_masks`` random bands per element."""
    width = rng.integers(0, min(max_width, size) + 1, size=(batch, n_masks))
    start = rng.integers(0, size - width + 1)  # broadcast: one start per band, band stays inside
    position = np.arange(size)[None, None, :]
    inside = (position >= start[..., None]) & (position < (start + width)[..., None])
    return inside.any(axis=1)


def spec_augment(
    specs,
    rng: np.random.Generator,
    n_freq_masks: int = 2,
    max_freq: int = 8,
    n_time_masks: int = 2,
    max_time: int = 20,
    fill: str = "min",
) -> np.ndarray:
    """SpecAugment frequency and time masking (Park et al., 2019), vectorised over a batch.

    Each spectrogram gets ``n_freq_masks`` bands of ``f ~ U{0..max_freq}`` consecutive mel
    bins and ``n_time_masks`` bands of ``t ~ U{0..max_time}`` consecutive frames, at uniform
    positions inside the spectrogram, independently per element.

    Parameters
    ----------
    specs : np.ndarray, shape (batch, n_mels, frames) or (n_mels, frames)
    rng : np.random.Generator
    n_freq_masks, max_freq : int
        Number of frequency masks, and the widest one in mel bins.
    n_time_masks, max_time : int
        Number of time masks, and the widest one in frames.
    fill : {"min", "mean"}
        Masked cells take each spectrogram's minimum (silence in a log-mel) or mean.

    Returns
    -------
    np.ndarray, float32, same shape as ``specs`` (a new array)

    Examples
    --------
    >>> batch = np.random.default_rng(0).random((8, 64, 188), dtype=np.float32)
    >>> spec_augment(batch, np.random.default_rng(1)).shape
    (8, 64, 188)
    """
    specs = np.asarray(specs, dtype=np.float32)
    if specs.ndim == 2:
        return spec_augment(
            specs[None], rng, n_freq_masks, max_freq, n_time_masks, max_time, fill
        )[0]
    if specs.ndim != 3:
        raise ValueError(f"expected (batch, n_mels, frames), got shape {specs.shape}")
    if fill == "min":
        value = specs.min(axis=(1, 2))
    elif fill == "mean":
        value = specs.mean(axis=(1, 2))
    else:
        raise ValueError(f"unknown fill {fill!r}; expected 'min' or 'mean'")
    b, n_mels, n_frames = specs.shape
    masked = (
        _band_masks(rng, b, n_mels, n_freq_masks, max_freq)[:, :, None]
        | _band_masks(rng, b, n_frames, n_time_masks, max_time)[:, None, :]
    )
    return np.where(masked, value[:, None, None], specs)


@dataclass(frozen=True)
class Augmenter:
    """A training-time augmentation recipe: which operations, how often, how strong.

    Each waveform operation is applied independently with its probability, in the order
    speed → pitch → shift → noise (noise last, so its SNR is measured against the signal the
    model sees). Ranges are ``(low, high)`` drawn uniformly. Serialises with :meth:`to_dict`
    into the model card.

    Parameters
    ----------
    noise_prob : float
        Probability of adding noise.
    snr_db : (float, float)
        SNR range in dB.
    noise_kinds : tuple of str
        Kinds drawn uniformly from (see :func:`add_noise`); ``"babble"`` needs a
        ``babble_pool`` of training waveforms.
    shift_prob, max_shift_s : float
        Probability and largest shift (seconds) of a circular :func:`time_shift`.
    speed_prob : float
        Probability of :func:`speed_perturb`.
    speed_factors : tuple of float
        Factors drawn uniformly from (Kaldi: 0.9, 1.0, 1.1).
    pitch_prob : float
        Probability of :func:`pitch_shift`.
    semitones : (float, float)
        Pitch shift range.
    spec_prob : float
        Probability, per spectrogram, of :func:`spec_augment`.
    n_freq_masks, max_freq, n_time_masks, max_time : int
        SpecAugment masks (mel bins / frames).
    fill : {"min", "mean"}
        SpecAugment fill value.
    sample_rate : int
        Rate of the waveforms passed to :meth:`waveform` (default
        :data:`~serwidgets.audio.TARGET_SR`). A serialised field: its name stays
        ``sample_rate`` so cards keep their keys; the functions it calls take ``sr``.

    Examples
    --------
    >>> aug = Augmenter(noise_kinds=("white", "pink"), pitch_prob=0.0)
    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal(TARGET_SR).astype(np.float32)
    >>> aug.waveform(y, rng).dtype
    dtype('float32')
    >>> Augmenter.from_dict(aug.to_dict()) == aug
    True
    """

    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (5.0, 20.0)
    noise_kinds: tuple[str, ...] = ("white", "pink", "babble")
    shift_prob: float = 0.5
    max_shift_s: float = 0.25
    speed_prob: float = 0.0
    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    pitch_prob: float = 0.0
    semitones: tuple[float, float] = (-2.0, 2.0)
    spec_prob: float = 0.5
    n_freq_masks: int = 2
    max_freq: int = 8
    n_time_masks: int = 2
    max_time: int = 20
    fill: str = "min"
    sample_rate: int = TARGET_SR

    def __post_init__(self):
        # Lists (from JSON) become tuples, so instances stay hashable and comparable.
        for name in ("snr_db", "noise_kinds", "speed_factors", "semitones"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = set(self.noise_kinds) - set(NOISE_KINDS)
        if unknown:
            raise ValueError(f"unknown noise kinds {sorted(unknown)}; expected {NOISE_KINDS}")
        for name in ("noise_prob", "shift_prob", "speed_prob", "pitch_prob", "spec_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")

    def waveform(self, y, rng: np.random.Generator, babble_pool: Sequence | None = None):
        """Augment one waveform; returns float32 (length changes only with speed perturbation).

        ``babble_pool`` holds training-fold waveforms (see :func:`add_noise`); it is required
        when babble noise is drawn.
        """
        y = _as_waveform(y)
        sr = self.sample_rate
        if self.speed_prob and rng.random() < self.speed_prob:
            y = speed_perturb(y, float(rng.choice(self.speed_factors)), sr)
        if self.pitch_prob and rng.random() < self.pitch_prob:
            y = pitch_shift(y, float(rng.uniform(*self.semitones)), sr)
        if self.shift_prob and rng.random() < self.shift_prob:
            y = time_shift(y, self.max_shift_s, rng, sr)
        if self.noise_prob and self.noise_kinds and rng.random() < self.noise_prob:
            kind = str(rng.choice(self.noise_kinds))
            if kind == "babble" and (babble_pool is None or len(babble_pool) == 0):
                raise ValueError(
                    "babble noise drawn but no babble_pool given: pass training waveforms, "
                    "or leave 'babble' out of noise_kinds"
                )
            snr = float(rng.uniform(*self.snr_db))
            y = add_noise(y, snr, kind, rng=rng, babble_pool=babble_pool, sr=sr)
        return y

    def spectrogram(self, batch, rng: np.random.Generator) -> np.ndarray:
        """SpecAugment a batch ``(b, n_mels, frames)``, each element with ``spec_prob``."""
        batch = np.asarray(batch, dtype=np.float32)
        masked = spec_augment(
            batch, rng, self.n_freq_masks, self.max_freq, self.n_time_masks, self.max_time,
            self.fill,
        )
        chosen = rng.random(batch.shape[0]) < self.spec_prob
        return np.where(chosen[:, None, None], masked, batch)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples as lists) for the model card."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Augmenter:
        """Inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown Augmenter fields: {sorted(unknown)}")
        return cls(**d)
