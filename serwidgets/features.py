"""The one log-mel path, shared by training and inference.

A waveform from :func:`serwidgets.audio.load` becomes a model input in two steps:
:func:`log_mel` (power spectrogram -> Slaney mel filterbank -> dB -> normalisation) and
:func:`fix_frames` (crop or pad to the model's fixed number of frames). Long recordings are
cut into overlapping windows with :func:`frame_windows` first. The settings live in a
:class:`FeatureConfig` that is saved in every model card, so a model is always fed
exactly what it was trained on.

Why the defaults
----------------
- **64 mel bands, 16 ms hop** (n_fft = win = 512 samples = 32 ms, hop 256): a 3-s input is
  64 x 188. The common 128 mels x 10 ms hop gives 128 x 301, 3.2x more input values and
  about as much more convolution work per epoch -- an estimated ~4x the training time on the
  2-core CPU this project targets. 64 bands over 20 Hz - 8 kHz (Nyquist at 16 kHz) still
  resolve the pitch harmonics and formants that carry emotion.
- **3-s window** (``duration``): covers the median utterance after loading and trimming
  -- EmoDB 2.54 s (2.59 s raw), RAVDESS 2.08 s (3.67 s raw, ~1 s of room tone at each
  end) -- measured with the default :class:`~serwidgets.audio.AudioOptions`. Longer audio
  is cropped for training and handled as a timeline of windows at inference.
- **dB floor** ``top_db`` = 80 below the clip's loudest bin, like ``librosa.power_to_db``,
  so near-zero bins (digital silence, padding) do not dominate the statistics.
- **"clip" normalisation** (subtract the clip's mean dB, divide by its std): the loudness is
  already normalised when the audio is loaded, so per-clip standardisation only removes
  what is left of channel and microphone gain, and needs no corpus statistics that a
  model card would have to carry.

Implementation: centre-padded (zero) framing, a cached periodic Hann window and
``scipy.fft.rfft`` (about 6x faster than ``numpy.fft`` on a batch of frames; the Whisper
front end, on the dashboard's path, uses ``numpy.fft`` so that kernels need not import scipy); the mel
matrix is librosa's Slaney filterbank (``librosa.filters.mel(htk=False, norm="slaney")``)
recomputed here in plain numpy and cached, because importing ``librosa.filters`` pulls in
numba and scipy.signal (~2.4 s measured) -- too slow for a dashboard's first prediction.
The test suite checks both against librosa.

Examples
--------
>>> import numpy as np
>>> cfg = FeatureConfig()
>>> y = np.zeros(48000, np.float32)
>>> log_mel(y, cfg).shape
(64, 188)
>>> cfg.n_frames
188
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np

from .audio import TARGET_SR

__all__ = [
    "FeatureConfig", "log_mel", "frame_signal", "power_spectrum", "mel_filterbank", "fix_frames",
    "frame_windows", "fix_samples", "windows", "whisper_log_mel", "WHISPER_HOP",
]

NORMALIZATIONS = ("clip", "none")
_AMIN = 1e-10  # power floor before the log, as in librosa.power_to_db


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel settings; saved in the model card.

    Parameters
    ----------
    sample_rate : int
        Sample rate of the input waveform in Hz (default :data:`~serwidgets.audio.TARGET_SR`).
        Saved in cards and cache keys under this name; functions call the rate ``sr``.
    n_fft : int
        FFT size in samples.
    win_length : int
        Hann window length in samples (<= ``n_fft``; zero-padded to ``n_fft`` centred).
    hop_length : int
        Samples between frames.
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Frequency range of the mel filterbank in Hz (``fmax`` <= ``sample_rate / 2``).
    top_db : float
        dB floor relative to the clip's loudest bin.
    normalization : {"clip", "none"}
        "clip" standardises each spectrogram by its own mean and std.
    duration : float
        Model input length in seconds (see :attr:`n_frames`).

    Examples
    --------
    >>> cfg = FeatureConfig(n_mels=128)
    >>> FeatureConfig.from_json(cfg.to_json()) == cfg
    True
    >>> FeatureConfig(fmax=9000)
    Traceback (most recent call last):
    ...
    ValueError: fmax=9000 Hz is above the Nyquist frequency 8000 Hz (sample_rate / 2)
    """

    sample_rate: int = TARGET_SR
    n_fft: int = 512
    win_length: int = 512
    hop_length: int = 256
    n_mels: int = 64
    fmin: float = 20.0
    fmax: float = 8000.0
    top_db: float = 80.0
    normalization: str = "clip"
    duration: float = 3.0

    def __post_init__(self):
        for name in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length={self.win_length} must be <= n_fft={self.n_fft}")
        if not 0 <= self.fmin < self.fmax:
            raise ValueError(f"need 0 <= fmin < fmax, got fmin={self.fmin}, fmax={self.fmax}")
        if self.fmax > self.sample_rate / 2:
            raise ValueError(
                f"fmax={self.fmax:g} Hz is above the Nyquist frequency "
                f"{self.sample_rate / 2:g} Hz (sample_rate / 2)"
            )
        if self.top_db <= 0:
            raise ValueError(f"top_db must be positive, got {self.top_db}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}"
            )
        if self.duration <= 0:
            raise ValueError(f"duration must be positive seconds, got {self.duration}")

    @property
    def n_samples(self) -> int:
        """Samples in ``duration`` seconds."""
        return int(round(self.duration * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Frames of a ``duration``-second input (centred framing: 1 + n_samples // hop)."""
        return 1 + self.n_samples // self.hop_length

    def to_dict(self) -> dict:
        """Plain-JSON dictionary of the settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown FeatureConfig keys: {sorted(unknown)}")
        return cls(**d)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): also usable as a cache key."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureConfig:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


def log_mel(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Log-mel spectrogram of a mono waveform.

    Equal (to float32 precision) to ``librosa.power_to_db(librosa.feature.melspectrogram(
    y=y, sr, n_fft, hop_length, win_length, center=True, pad_mode="constant", power=2,
    n_mels, fmin, fmax, htk=False, norm="slaney"), ref=1.0, top_db=top_db)``, followed by
    the configured normalisation.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform at ``config.sample_rate`` (see :func:`serwidgets.audio.load`).
    config : FeatureConfig
        Spectrogram settings.

    Returns
    -------
    np.ndarray [shape=(n_mels, 1 + n // hop_length), dtype=float32]
        dB values floored at ``top_db`` below the maximum; standardised if
        ``config.normalization == "clip"`` (a constant spectrogram becomes all zeros).

    Examples
    --------
    >>> t = np.arange(TARGET_SR) / TARGET_SR
    >>> S = log_mel(np.sin(2 * np.pi * 440 * t).astype(np.float32))
    >>> S.shape, S.dtype
    ((64, 63), dtype('float32'))
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"log_mel expects a mono 1-D waveform, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("log_mel input contains NaN or infinite samples")

    power = power_spectrum(frame_signal(y, config), config)  # (frames, n_fft // 2 + 1)
    mel = mel_filterbank(config) @ power.T  # (n_mels, frames)
    # Flooring the power at top_db below its maximum before the log is the same as
    # power_to_db's floor on the dB values, and saves a pass. In place: these arrays are ours.
    floor = max(float(mel.max()) * 10.0 ** (-config.top_db / 10.0), _AMIN)
    db = np.log10(np.maximum(mel, floor, out=mel), out=mel)
    db *= 10.0

    if config.normalization == "clip":
        db -= db.mean()
        std = float(np.sqrt(np.mean(np.square(db))))
        # A constant spectrogram (digital silence) has no scale: map it to zeros.
        if std > 1e-6:
            db /= std
        else:
            db[:] = 0.0
    return db.astype(np.float32, copy=False)


#: Whisper's front end: 25-ms window (400 samples), 10-ms hop, 80 Slaney bands to 8 kHz, at 16 kHz.
WHISPER_N_FFT = 400
WHISPER_HOP = 160
WHISPER_N_MELS = 80


def whisper_log_mel(y: np.ndarray) -> np.ndarray:
    """Whisper's own log-mel of a 16-kHz waveform, the input of :mod:`serwidgets.encoders.whisper`.

    Whisper's recipe, step for step: reflect-padded centred frames (400-sample periodic Hann,
    hop 160), power spectrum, the last frame dropped, 80 Slaney mel bands (0-8 kHz),
    ``log10`` of the power floored at 1e-10, values floored at the clip's maximum - 8, then
    ``(x + 4) / 4``. Unlike :func:`log_mel` it has no :class:`FeatureConfig`: the encoder was
    trained on exactly this, so it is not a setting.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform at 16 kHz (:data:`serwidgets.audio.TARGET_SR`).

    Returns
    -------
    np.ndarray [shape=(80, n // 160), dtype=float32]

    See Also
    --------
    log_mel : the log-mel of the from-scratch CNN.

    Examples
    --------
    >>> whisper_log_mel(np.zeros(3 * TARGET_SR, np.float32)).shape
    (80, 300)
    """
    y = np.asarray(y, np.float32)
    if len(y) < 2:
        raise ValueError(f"need at least 2 samples, got {len(y)}")
    padded = np.pad(y, WHISPER_N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, WHISPER_N_FFT)[::WHISPER_HOP][:-1]
    # numpy's FFT (float32 in, complex64 out), not scipy.fft: this is the dashboard's path, and
    # importing scipy.fft costs every kernel ~17 MB of memory for ~1 ms per 3-s clip (issue 20).
    spectrum = np.abs(np.fft.rfft(frames * _hann(WHISPER_N_FFT, WHISPER_N_FFT), axis=1))
    spectrum *= spectrum
    mel = _mel_filterbank(TARGET_SR, WHISPER_N_FFT, WHISPER_N_MELS, 0.0, TARGET_SR / 2) @ spectrum.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def frame_signal(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Centred, unwindowed analysis frames of a waveform, as :func:`log_mel` uses them.

    Frame ``t`` is centred on sample ``t * hop_length`` (librosa's ``center=True`` with zero
    padding), so there are ``1 + len(y) // hop_length`` frames. The result is a read-only
    view; its dtype is ``y``'s.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    config : FeatureConfig
        Uses ``n_fft`` and ``hop_length``.

    Returns
    -------
    np.ndarray [shape=(1 + n // hop_length, n_fft)]

    Examples
    --------
    >>> frame_signal(np.zeros(48000, np.float32)).shape
    (188, 512)
    """
    padded = np.pad(np.asarray(y), config.n_fft // 2)
    return np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length]


def power_spectrum(frames: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Power spectrum ``|rfft(frame * hann)|**2`` of each frame from :func:`frame_signal`.

    Parameters
    ----------
    frames : np.ndarray [shape=(frames, n_fft)]
    config : FeatureConfig
        Uses ``n_fft`` and ``win_length``.

    Returns
    -------
    np.ndarray [shape=(frames, n_fft // 2 + 1)]
        float32 for float32 frames, float64 for float64 frames.

    Examples
    --------
    >>> power_spectrum(frame_signal(np.ones(TARGET_SR, np.float32))).shape
    (63, 257)
    """
    import scipy.fft

    windowed = frames * _hann(config.n_fft, config.win_length)
    power = np.abs(scipy.fft.rfft(windowed, axis=1, overwrite_x=True))
    power *= power
    return power


def mel_filterbank(config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Slaney-style mel filterbank, identical to ``librosa.filters.mel(htk=False, norm="slaney")``.

    Cached per configuration; the returned array is read-only.

    Parameters
    ----------
    config : FeatureConfig
        Uses ``sample_rate``, ``n_fft``, ``n_mels``, ``fmin`` and ``fmax``.

    Returns
    -------
    np.ndarray [shape=(n_mels, n_fft // 2 + 1), dtype=float32]

    Examples
    --------
    >>> mel_filterbank(FeatureConfig()).shape
    (64, 257)
    """
    c = config
    return _mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.fmin, c.fmax)


@lru_cache(maxsize=16)
def _mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    # Band edges equally spaced on the Slaney mel scale (linear below 1 kHz, log above).
    mel_edges = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    hz_edges = _mel_to_hz(mel_edges)
    fft_hz = np.fft.rfftfreq(n_fft, d=1.0 / sr)

    # Triangles: rising from edge i to i+1, falling from i+1 to i+2.
    widths = np.diff(hz_edges)
    ramps = hz_edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    # Slaney normalisation: each triangle has unit area (constant energy per band).
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None].astype(np.float32)
    weights.flags.writeable = False
    return weights


_F_SP = 200.0 / 3  # Hz per mel in the linear region
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, mel * _F_SP)


@lru_cache(maxsize=16)
def _hann(n_fft: int, win_length: int) -> np.ndarray:
    """Periodic Hann window of ``win_length``, zero-padded to ``n_fft`` and centred (librosa)."""
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)
    left = (n_fft - win_length) // 2
    out = np.zeros(n_fft, dtype=np.float32)
    out[left : left + win_length] = window
    out.flags.writeable = False
    return out


def fix_frames(
    spec: np.ndarray,
    n_frames: int,
    mode: str = "center",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Crop or pad a spectrogram along time to exactly ``n_frames`` frames.

    Policy: a longer spectrogram is cropped -- its middle (``"center"``, for evaluation and
    inference), its beginning (``"start"``), or a random window (``"random"``, for
    training, drawn from ``rng``). A shorter one is padded **at the end** with its own
    minimum value, which after dB flooring and normalisation is what silence looks like;
    the speech keeps its position at the start, as it would in a longer recording.

    Parameters
    ----------
    spec : np.ndarray [shape=(..., frames)]
        Spectrogram(s), time on the last axis.
    n_frames : int
        Target number of frames (e.g. ``FeatureConfig.n_frames``).
    mode : {"center", "start", "random"}
        Where to crop.
    rng : np.random.Generator, optional
        Required for ``mode="random"``.

    Returns
    -------
    np.ndarray [shape=(..., n_frames)]
        Same dtype as ``spec``.

    Examples
    --------
    >>> S = np.arange(10, dtype=np.float32).reshape(1, 10)
    >>> fix_frames(S, 4)
    array([[3., 4., 5., 6.]], dtype=float32)
    >>> fix_frames(S[:, :3], 5)
    array([[0., 1., 2., 0., 0.]], dtype=float32)
    """
    if mode not in ("center", "start", "random"):
        raise ValueError(f"mode must be 'center', 'start' or 'random', got {mode!r}")
    if n_frames <= 0:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    spec = np.asarray(spec)
    have = spec.shape[-1]
    if have == 0:
        raise ValueError(f"spectrogram has no frames (shape {spec.shape})")
    if have > n_frames:
        if mode == "center":
            start = (have - n_frames) // 2
        elif mode == "start":
            start = 0
        else:
            if rng is None:
                raise ValueError("mode='random' needs rng (a numpy Generator)")
            start = int(rng.integers(0, have - n_frames + 1))
        return spec[..., start : start + n_frames]
    if have < n_frames:
        # Each spectrogram of a batch (..., mels, frames) is padded with its own minimum.
        fill = spec.min(axis=tuple(range(max(spec.ndim - 2, 0), spec.ndim)), keepdims=True)
        out = np.empty(spec.shape[:-1] + (n_frames,), dtype=spec.dtype)
        out[..., :have] = spec
        out[..., have:] = fill
        return out
    return spec


def fix_samples(y: np.ndarray, n_samples: int, mode: str = "center", rng=None) -> np.ndarray:
    """A waveform cropped to ``n_samples``, or padded at the end with zeros (silence).

    The waveform counterpart of :func:`fix_frames`, with the same policy and modes.

    Parameters
    ----------
    y : np.ndarray [shape=(..., samples)]
    n_samples : int
    mode : {"center", "start", "random"}
    rng : np.random.Generator, optional
        Required for ``mode="random"``.

    See Also
    --------
    fix_frames, windows

    Examples
    --------
    >>> fix_samples(np.arange(5.0), 3)
    array([1., 2., 3.])
    >>> fix_samples(np.ones(2), 4)
    array([1., 1., 0., 0.])
    """
    have = y.shape[-1]
    if have >= n_samples:
        if mode == "center":
            start = (have - n_samples) // 2
        elif mode == "start":
            start = 0
        elif rng is None:
            raise ValueError("mode='random' needs rng (a numpy Generator)")
        else:
            start = int(rng.integers(0, have - n_samples + 1))
        return y[..., start:start + n_samples]
    return np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, n_samples - have)])


#: A network scores a clip longer than its input as the mean over windows this many seconds apart
#: (in training's evaluation and in a loaded model alike).
WINDOW_HOP_SECONDS = 1.0


def windows(x: np.ndarray, length: int, hop: int, size: int | None = None,
            kind: str = "log_mel") -> tuple[np.ndarray, np.ndarray]:
    """Model inputs of ``size`` steps cut from ``x`` every ``hop`` steps along its last axis.

    The one windowing of training, evaluation and a loaded model (:mod:`serwidgets.model`): windows of
    ``length`` steps (:func:`frame_windows`, the last one ends at the end), each brought to
    ``size`` steps (default ``length``) with :func:`fix_frames` (a log-mel: padded with its
    minimum) or :func:`fix_samples` (a waveform: padded with zeros). A clip shorter than one
    window gives one padded window.

    Parameters
    ----------
    x : np.ndarray [shape=(..., steps)]
        A log-mel ``(n_mels, frames)`` or a waveform ``(samples,)``.
    length, hop : int
        Window length and hop, in steps (frames or samples).
    size : int, optional
        Steps of each returned window (the model's input length).
    kind : {"log_mel", "waveform"}

    Returns
    -------
    batch : np.ndarray [shape=(n_windows, ..., size)]
    starts : np.ndarray [dtype=int64]
        First step of each window.

    See Also
    --------
    frame_windows, fix_frames, fix_samples

    Examples
    --------
    >>> batch, starts = windows(np.arange(10.0), length=4, hop=3, kind="waveform")
    >>> starts, batch[-1]
    (array([0, 3, 6]), array([6., 7., 8., 9.]))
    >>> windows(np.ones((2, 3)), length=5, hop=1)[0].shape
    (1, 2, 5)
    """
    if kind not in ("log_mel", "waveform"):
        raise ValueError(f"kind must be 'log_mel' or 'waveform', got {kind!r}")
    size = length if size is None else size
    fix = fix_samples if kind == "waveform" else fix_frames
    starts, ends = _step_windows(x.shape[-1], length, hop)
    return np.stack([fix(x[..., s:e], size) for s, e in zip(starts, ends)]), starts


def frame_windows(
    n_samples: int, sr: int, window_s: float, hop_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end sample indices of sliding windows over a long recording.

    Windows start every ``hop_s`` seconds; the last window ends exactly at the end of
    the recording (it is shifted back, not padded), so the tail is always covered. A
    recording no longer than one window gives a single window ``[0, n_samples)``.

    Parameters
    ----------
    n_samples : int
        Length of the recording in samples.
    sr : int
        Sample rate in Hz.
    window_s, hop_s : float
        Window length and hop in seconds.

    Returns
    -------
    starts, ends : np.ndarray [dtype=int64]
        ``y[starts[i]:ends[i]]`` is window ``i``.

    Examples
    --------
    >>> frame_windows(5 * TARGET_SR, TARGET_SR, window_s=3.0, hop_s=1.0)
    (array([    0, 16000, 32000]), array([48000, 64000, 80000]))
    >>> frame_windows(5 * TARGET_SR + 8000, TARGET_SR, window_s=3.0, hop_s=1.0)[0]
    array([    0, 16000, 32000, 40000])
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError(f"window_s and hop_s must be positive, got {window_s}, {hop_s}")
    return _step_windows(n_samples, int(round(window_s * sr)), max(int(round(hop_s * sr)), 1))


def _step_windows(n: int, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`frame_windows` in steps: windows of ``window`` steps every ``hop`` steps over ``n``."""
    if n <= 0 or window <= 0 or hop <= 0:
        raise ValueError(f"length, window and hop must be positive, got {n}, {window}, {hop}")
    if n <= window:
        return np.array([0], dtype=np.int64), np.array([n], dtype=np.int64)
    starts = np.arange(0, n - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < n:
        starts = np.append(starts, n - window)
    return starts, starts + window
