"""Voice-activity detection: is there speech in a waveform at all?

A loudness threshold cannot tell speech from a fan, a hum, a test tone or a DC offset: all of
them are loud. This detector looks for what speech has and those sounds lack, frame by frame
(40 ms frames every 10 ms), in numpy alone:

* **energy** -- the frame is within :data:`DYNAMIC_RANGE_DB` of the loudest frame (and not
  digital silence). The level itself does not matter: a take peaking at -45 dBFS is speech too;
* **voicing** -- the frame's normalised autocorrelation has a peak of at least
  :data:`MIN_PERIODICITY` at a lag in the pitch range :data:`F0_RANGE` (60-400 Hz), rising
  after a trough. White noise has no such peak; pink and brown noise are correlated at short
  lags but only decay; a vowel peaks at its pitch period;
* **harmonic structure** -- the spectrum is not flat (spectral flatness at most
  :data:`MAX_FLATNESS`; white noise is near 0.56) and has at least :data:`MIN_PARTIALS`
  spectral peaks within :data:`PARTIAL_DB` of its strongest: a whistle, a hum or a test tone
  is periodic, but it has one partial where a voice has several harmonics.

Frames passing all three are *voiced*. A recording holds speech when its voiced frames add up
to at least ``min_voiced_seconds`` (:data:`MIN_VOICED_SECONDS`, 0.2 s: a syllable or two) and
their pitch moves: the spread of the voiced frames' pitch (90th minus 10th percentile) is at
least :data:`MIN_PITCH_SPREAD` semitones. Intonation always moves a voice's pitch; a buzzer, a
sawtooth or a held organ note does not.

Measured on this project's corpora (``benchmarks/bench_vad.py --corpora``): every EmoDB clip
(535; smallest voiced duration 0.42 s, smallest pitch spread 2.1 semitones) and every RAVDESS
clip (1440) is speech, while digital silence, a constant, white, pink and brown noise, clicks,
a mains hum, pure and amplitude-modulated tones (also under noise at 10-20 dB SNR) and a
steady harmonic buzz are not (``tests/test_vad.py``). It costs a few milliseconds of CPU per 3-s
clip (``benchmarks/bench_vad.py`` prints it). It is
a plausibility check, not a speech recogniser: singing passes, and so may a tone buried in
noise louder than about 10 dB below it.

Examples
--------
>>> import numpy as np
>>> from serwidgets import vad
>>> sr = vad.TARGET_SR
>>> noise = np.random.default_rng(0).normal(0, 0.1, 3 * sr)
>>> vad.is_speech(noise, sr)
False
>>> vad.is_speech(vad.synthetic_voice(2.0, sr), sr)
True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FRAME_S",
    "HOP_S",
    "F0_RANGE",
    "MIN_VOICED_SECONDS",
    "VoiceActivity",
    "voice_activity",
    "is_speech",
    "synthetic_voice",
]

#: The sample rate (Hz) of every waveform that reaches a model. Its public name is
#: :data:`serwidgets.audio.TARGET_SR`; it is defined here, the lowest audio module, so that
#: :func:`synthetic_voice` can default to it without an import cycle (audio imports vad).
TARGET_SR = 16000

#: Analysis frames: 40 ms (two periods of the lowest pitch, 60 Hz, fit in two thirds of one)
#: every 10 ms.
FRAME_S = 0.040
HOP_S = 0.010
#: Pitch range searched for voicing, in Hz.
F0_RANGE = (60.0, 400.0)
#: Least total duration of voiced frames for a recording to count as speech.
MIN_VOICED_SECONDS = 0.2
#: Frames quieter than the loudest one minus this are never voiced.
DYNAMIC_RANGE_DB = 35.0
#: Frames below this absolute level (dBFS) are never voiced: digital silence. The detector is
#: otherwise blind to the recording level (quiet RAVDESS takes peak near -45 dBFS).
FLOOR_DBFS = -100.0
#: Least peak of the normalised autocorrelation in the pitch range for a voiced frame.
MIN_PERIODICITY = 0.6
#: Most spectral flatness (geometric over arithmetic mean power, 100-4000 Hz) of a voiced frame.
MAX_FLATNESS = 0.3
#: Least number of spectral peaks (60-4000 Hz) within PARTIAL_DB of a voiced frame's strongest.
MIN_PARTIALS = 2
PARTIAL_DB = 20.0
#: Least spread of the voiced frames' pitch (90th - 10th percentile), in semitones.
MIN_PITCH_SPREAD = 0.5

_SPREAD_PERCENTILES = (10, 90)
_BLOCK_FRAMES = 1000
_FLATNESS_BAND = (100.0, 4000.0)
_OCTAVE_TOLERANCE = 0.05


@dataclass(frozen=True)
class VoiceActivity:
    """Frame-by-frame measures of :func:`voice_activity`, and the decision.

    Attributes
    ----------
    times : np.ndarray
        Frame centres in seconds.
    level_db : np.ndarray
        Frame RMS level in dBFS.
    periodicity : np.ndarray
        Peak of the normalised autocorrelation in the pitch range (0-1).
    f0 : np.ndarray
        Pitch in Hz at that peak (meaningful where ``voiced``).
    flatness : np.ndarray
        Spectral flatness, 100-4000 Hz (0 = peaky, about 0.56 = white noise).
    partials : np.ndarray of int
        Spectral peaks (60-4000 Hz) within :data:`PARTIAL_DB` of the strongest (a pure tone: 1).
    voiced : np.ndarray of bool
        Frames passing every test.
    voiced_seconds : float
        Voiced frames times the hop.
    pitch_spread : float
        90th minus 10th percentile of the voiced frames' pitch, in semitones (0 if none).
    speech : bool
        The decision: enough voiced frames, with a moving pitch.
    min_voiced_seconds : float
        The voiced duration the decision asked for.
    """

    times: np.ndarray
    level_db: np.ndarray
    periodicity: np.ndarray
    f0: np.ndarray
    flatness: np.ndarray
    partials: np.ndarray
    voiced: np.ndarray
    voiced_seconds: float
    pitch_spread: float
    speech: bool
    min_voiced_seconds: float = MIN_VOICED_SECONDS

    def reason(self) -> str:
        """Why the recording is or is not speech, in a few words.

        Examples
        --------
        >>> voice_activity(np.zeros(TARGET_SR), TARGET_SR).reason()
        'silent'
        """
        if self.speech:
            return f"{self.voiced_seconds:.2f} s voiced, pitch spread {self.pitch_spread:.1f} semitones"
        if not self.level_db.size or self.level_db.max() < FLOOR_DBFS:
            return "silent"
        loud = self.level_db >= max(self.level_db.max() - DYNAMIC_RANGE_DB, FLOOR_DBFS)
        if self.voiced_seconds == 0:
            if np.median(self.partials[loud]) < MIN_PARTIALS:
                return "a steady tone, no voice"
            if np.median(self.flatness[loud]) > MAX_FLATNESS:
                return "noise-like, no voiced sound"
            return "no voiced sound"
        if self.voiced_seconds < self.min_voiced_seconds:
            return f"only {self.voiced_seconds:.2f} s voiced"
        return f"a steady pitch (spread {self.pitch_spread:.2f} semitones), not a voice"


class _Analysis:
    """Periodicity, pitch, flatness and partial count of a batch of frames at one rate."""

    def __init__(self, sr: int, frame: int):
        # numpy's FFT, not scipy.fft: scipy's is faster on these batches, but importing it costs
        # every dashboard kernel ~17 MB of memory (issue 20); the results agree to float32 rounding.
        self.fft = np.fft
        self.sr = sr
        self.lag_min, self.lag_max = int(np.floor(sr / F0_RANGE[1])), int(np.ceil(sr / F0_RANGE[0]))
        # No circular wrap-around for lags up to lag_max + 1: n_fft >= frame + lag_max + 1.
        self.n_fft = 1 << int(np.ceil(np.log2(frame + self.lag_max + 2)))
        self.window = np.hanning(frame).astype(np.float32)
        window_acf = np.fft.irfft(np.square(np.abs(np.fft.rfft(self.window, self.n_fft))), self.n_fft)
        self.window_acf = (window_acf[: self.lag_max + 2] / window_acf[0]).astype(np.float32)
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / sr)
        self.flat_band = (freqs >= _FLATNESS_BAND[0]) & (freqs <= _FLATNESS_BAND[1])
        self.partial_band = (freqs >= F0_RANGE[0]) & (freqs <= _FLATNESS_BAND[1])

    def __call__(self, frames: np.ndarray):
        lag_min, lag_max = self.lag_min, self.lag_max
        windowed = (frames - frames.mean(axis=1, keepdims=True)) * self.window
        spectrum = self.fft.rfft(windowed, self.n_fft)
        power = np.square(spectrum.real) + np.square(spectrum.imag)

        p = power[:, self.flat_band] + 1e-20
        flatness = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)

        # Partials: spectral peaks within PARTIAL_DB of the strongest. A voice has several
        # harmonics there; a sinusoid has one, even in noise (its power sits in a few bins).
        q = power[:, self.partial_band]
        is_peak = (q[:, 1:-1] > q[:, :-2]) & (q[:, 1:-1] >= q[:, 2:])
        strong = q[:, 1:-1] >= q.max(axis=1, keepdims=True) * 10.0 ** (-PARTIAL_DB / 10.0)
        partials = np.count_nonzero(is_peak & strong, axis=1)

        # Autocorrelation from the power spectrum, divided by the window's own autocorrelation
        # (Boersma, 1993). A voiced frame's has a peak at the pitch period after a trough;
        # pink or brown noise, correlated at short lags, only decays: the score of a lag is the
        # smaller of its value and its rise above the lowest value at any shorter lag, and only
        # local maxima count.
        acf = self.fft.irfft(power, self.n_fft)[:, : lag_max + 2]
        acf = acf / np.maximum(acf[:, :1], 1e-20) / self.window_acf
        trough = np.minimum.accumulate(acf, axis=1)[:, lag_min - 1 : lag_max]
        before, value, after = acf[:, lag_min - 1 : lag_max], acf[:, lag_min : lag_max + 1], acf[:, lag_min + 1 : lag_max + 2]
        score = np.where((value >= before) & (value >= after), np.minimum(value, value - trough), -1.0)
        # The shortest lag scoring nearly as well as the best one: a periodic signal scores
        # alike at every multiple of its period, and the first is the period.
        top = score.max(axis=1)
        best = np.argmax(score >= top[:, None] - _OCTAVE_TOLERANCE, axis=1)
        rows = np.arange(frames.shape[0])
        # Parabolic interpolation between lags: pitch to a fraction of a sample.
        a, b, c = before[rows, best], value[rows, best], after[rows, best]
        curvature = a - 2 * b + c
        shift = np.where(curvature < 0, 0.5 * (a - c) / np.where(curvature < 0, curvature, -1.0), 0.0)
        f0 = self.sr / (lag_min + best + np.clip(shift, -0.5, 0.5))
        return top, f0, flatness, partials


@functools.lru_cache(maxsize=8)
def _analysis(sr: int, frame: int) -> _Analysis:
    return _Analysis(sr, frame)


def _frames(y: np.ndarray, frame: int, hop: int) -> np.ndarray:
    if y.size < frame:
        y = np.pad(y, (0, frame - y.size))
    n = 1 + (y.size - frame) // hop
    return np.lib.stride_tricks.as_strided(y, (n, frame), (y.strides[0] * hop, y.strides[0]), writeable=False)


def voice_activity(y, sr: int, min_voiced_seconds: float = MIN_VOICED_SECONDS) -> VoiceActivity:
    """Measure voicing frame by frame and decide whether ``y`` holds speech.

    Parameters
    ----------
    y : array_like, shape (n,)
        Mono waveform in [-1, 1] (not normalised: levels are absolute dBFS). Remove any DC
        offset first (:func:`serwidgets.audio.prepare` does).
    sr : int
        Sample rate in Hz (at least 8000).
    min_voiced_seconds : float
        Least total duration of voiced frames for ``speech``.

    Returns
    -------
    VoiceActivity

    Examples
    --------
    >>> sr = TARGET_SR
    >>> t = np.arange(2 * sr) / sr
    >>> tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    >>> va = voice_activity(tone, sr)
    >>> va.speech, va.reason()
    (False, 'a steady tone, no voice')
    >>> voice_activity(synthetic_voice(1.0, sr), sr).speech
    True
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"voice_activity needs a mono waveform, got shape {y.shape}")
    if sr < 8000:
        raise ValueError(f"voice_activity needs a sample rate of at least 8000 Hz, got {sr}")
    frame, hop = int(round(FRAME_S * sr)), int(round(HOP_S * sr))
    frames = _frames(y, frame, hop)
    n_frames = frames.shape[0]
    level_db = 10.0 * np.log10(np.maximum(np.mean(np.square(frames, dtype=np.float64), axis=1), 1e-12))

    # Only frames loud enough to matter are analysed (silence costs nothing), a block at a
    # time so that a long recording's spectra never all sit in memory.
    loud = level_db >= max(level_db.max() - DYNAMIC_RANGE_DB, FLOOR_DBFS)
    periodicity, f0 = np.zeros(n_frames), np.zeros(n_frames)
    flatness, partials = np.ones(n_frames), np.zeros(n_frames, np.int64)
    idx = np.flatnonzero(loud)
    analysis = _analysis(sr, frame)
    for start in range(0, idx.size, _BLOCK_FRAMES):
        block = idx[start : start + _BLOCK_FRAMES]
        periodicity[block], f0[block], flatness[block], partials[block] = analysis(frames[block])

    voiced = (loud & (periodicity >= MIN_PERIODICITY) & (flatness <= MAX_FLATNESS)
              & (partials >= MIN_PARTIALS))
    voiced_seconds = float(np.count_nonzero(voiced) * hop / sr)
    if voiced.any():
        low, high = np.percentile(12.0 * np.log2(f0[voiced]), _SPREAD_PERCENTILES)
        pitch_spread = float(high - low)
    else:
        pitch_spread = 0.0
    speech = bool(voiced_seconds >= min_voiced_seconds and voiced.any() and pitch_spread >= MIN_PITCH_SPREAD)
    times = (np.arange(n_frames) * hop + frame / 2) / sr
    return VoiceActivity(times, level_db, periodicity, f0, flatness, partials, voiced,
                         voiced_seconds, pitch_spread, speech, min_voiced_seconds)


def is_speech(y, sr: int, min_voiced_seconds: float = MIN_VOICED_SECONDS) -> bool:
    """True if ``y`` holds at least ``min_voiced_seconds`` of voiced speech.

    Examples
    --------
    >>> is_speech(np.full(TARGET_SR, 0.5) - 0.5, TARGET_SR)
    False
    """
    return voice_activity(y, sr, min_voiced_seconds).speech


def synthetic_voice(seconds: float, sr: int = TARGET_SR, f0=(110.0, 180.0), level: float = 0.1,
                    syllables_per_second: float = 4.0) -> np.ndarray:
    """A crude voice: a glottal pulse train gliding through ``f0``, two formants, syllables.

    Enough like speech for :func:`is_speech` (and for warming up a model), nothing like a real
    voice to a listener. Deterministic.

    Parameters
    ----------
    seconds : float
    sr : int
        Sample rate (default :data:`serwidgets.audio.TARGET_SR`).
    f0 : (float, float)
        Pitch at the start and at the end (Hz); it also wobbles with the syllables.
    level : float
        Peak amplitude.
    syllables_per_second : float

    Returns
    -------
    np.ndarray, float32, shape (round(seconds * sr),)

    Examples
    --------
    >>> y = synthetic_voice(1.0)
    >>> y.shape == (TARGET_SR,), y.dtype, round(float(np.abs(y).max()), 3)
    (True, dtype('float32'), 0.1)
    """
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    syllable = np.sin(np.pi * syllables_per_second * t) ** 2
    pitch = np.geomspace(f0[0], f0[1], max(n, 1))[:n] * (1 + 0.03 * np.sin(2 * np.pi * syllables_per_second * t))
    phase = np.cumsum(pitch) / sr
    # A sawtooth-like glottal source: the sum of the first harmonics below 4 kHz, falling 12 dB/octave.
    source = np.zeros(n)
    for k in range(1, 40):
        source += np.where(k * pitch < 4000, np.sin(2 * np.pi * k * phase) / k**2, 0.0)
    # Two formant resonances (an /a/-like vowel) as second-order filters.
    out = np.zeros(n)
    for centre, bandwidth in ((700.0, 130.0), (1200.0, 150.0)):
        r = np.exp(-np.pi * bandwidth / sr)
        a1, a2 = -2 * r * np.cos(2 * np.pi * centre / sr), r * r
        out += _resonate(source, a1, a2)
    out *= syllable
    peak = np.abs(out).max()
    return (level * out / peak if peak > 0 else out).astype(np.float32)


def _resonate(x: np.ndarray, a1: float, a2: float) -> np.ndarray:
    """``y[n] = x[n] - a1 y[n-1] - a2 y[n-2]``."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, a1, a2], x)
