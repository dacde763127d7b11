"""Decode, resample and clean audio: any file or array in, 16 kHz mono float32 out.

Every waveform that reaches a model goes through :func:`load` (or :func:`decode` +
:func:`prepare`), for training and for inference alike, so both see the same signal:

1. **decode** -- wav/flac/ogg/mp3 (and the other libsndfile formats) with ``soundfile``;
   webm/opus/m4a/aac and anything libsndfile refuses with PyAV (FFmpeg). Any sample rate,
   channel count and sample type (uint8, int16, int32, float) is accepted.
2. **down-mix** to mono (mean over channels) and **resample** to 16 kHz with ``soxr``
   ("HQ" quality).
3. **reject** what cannot be speech: non-finite samples, pure silence (``NoSpeechError``),
   too long, and -- after trimming -- too short.
4. **trim** leading and trailing silence: frames quieter than the loudest frame minus
   ``trim_db`` are cut at both ends, keeping ``trim_margin`` seconds of context.
5. **normalise loudness**: the RMS over the non-silent frames is set to ``target_dbfs``, and
   the gain is lowered if needed so the peak stays at or below 0.99 (no clipping).

Browser recordings, phone uploads and studio corpora therefore arrive at the features
with the same rate, level and framing. Trimming is plain numpy (no librosa, whose numba
start-up costs seconds).

Examples
--------
>>> from serwidgets import audio
>>> y = audio.load("speech.webm")         # doctest: +SKIP
>>> audio.load(b"not audio")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
serwidgets.audio.UnsupportedFormatError: <bytes>: not a recognised audio format ...
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

__all__ = [
    "TARGET_SR",
    "AudioError",
    "EmptyAudioError",
    "UnsupportedFormatError",
    "CorruptAudioError",
    "NonFiniteAudioError",
    "TooShortError",
    "TooLongError",
    "NoSpeechError",
    "AudioOptions",
    "decode",
    "prepare",
    "load",
]

TARGET_SR = 16000

# Frames for the silence, trimming and loudness decisions: 25 ms windows every 10 ms.
_FRAME_S = 0.025
_HOP_S = 0.010
# The limiter keeps peaks at or below this amplitude.
_PEAK = 0.99
# More channels than this along the shorter axis means the 2-D shape is not (samples, channels).
_MAX_CHANNELS = 32


class AudioError(ValueError):
    """Base class: the audio cannot be used. The message says what was wrong."""


class EmptyAudioError(AudioError):
    """Zero bytes, or a valid container with zero samples."""


class UnsupportedFormatError(AudioError):
    """The bytes are not in any audio format that soundfile or FFmpeg can decode."""


class CorruptAudioError(AudioError):
    """The bytes look like audio (a known header) but decoding fails."""


class NonFiniteAudioError(AudioError):
    """The signal contains NaN or infinite samples."""


class TooShortError(AudioError):
    """Shorter than ``AudioOptions.min_seconds`` after trimming silence."""


class TooLongError(AudioError):
    """Longer than ``AudioOptions.max_seconds``."""


class NoSpeechError(AudioError):
    """Pure silence: the loudest frame is below ``AudioOptions.silence_dbfs``."""


@dataclass(frozen=True)
class AudioOptions:
    """How :func:`prepare` cleans a waveform; stored in each model card.

    Parameters
    ----------
    sample_rate : int
        Output sample rate in Hz.
    trim : bool
        Cut leading and trailing silence.
    trim_db : float
        Edge frames quieter than (loudest frame - ``trim_db``) dB are cut.
    trim_margin : float
        Seconds of context kept on each side of the trimmed region.
    normalize : bool
        Set the loudness of the non-silent frames to ``target_dbfs``.
    target_dbfs : float
        RMS level after normalisation, in dB relative to full scale (peak kept <= 0.99).
    silence_dbfs : float
        If the loudest frame is below this level the input is rejected with
        :class:`NoSpeechError`.
    min_seconds : float
        Shortest accepted duration after trimming (:class:`TooShortError`).
    max_seconds : float
        Longest accepted input duration, checked before trimming and, for files, before
        decoding where the container states its length (:class:`TooLongError`).

    Examples
    --------
    >>> opts = AudioOptions(trim=False)
    >>> AudioOptions.from_dict(opts.to_dict()) == opts
    True
    """

    sample_rate: int = TARGET_SR
    trim: bool = True
    trim_db: float = 40.0
    normalize: bool = True
    target_dbfs: float = -20.0
    silence_dbfs: float = -60.0
    min_seconds: float = 0.25
    max_seconds: float = 600.0
    trim_margin: float = 0.05

    def __post_init__(self):
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.trim_db <= 0:
            raise ValueError(f"trim_db must be positive, got {self.trim_db}")
        if self.trim_margin < 0:
            raise ValueError(f"trim_margin must be >= 0 seconds, got {self.trim_margin}")
        if self.target_dbfs >= 0:
            raise ValueError(f"target_dbfs must be below 0 dBFS, got {self.target_dbfs}")
        if not 0 <= self.min_seconds < self.max_seconds:
            raise ValueError(
                "need 0 <= min_seconds < max_seconds, "
                f"got min_seconds={self.min_seconds}, max_seconds={self.max_seconds}"
            )

    def to_dict(self) -> dict:
        """Plain-JSON dictionary of the options."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AudioOptions:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown AudioOptions keys: {sorted(unknown)}")
        return cls(**d)


# --------------------------------------------------------------------------- decoding


def decode(source, *, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 samples at its native rate.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file-like
        The encoded audio.
    max_seconds : float, optional
        Raise :class:`TooLongError` if the audio is longer -- from the container's stated
        length before decoding when available, otherwise as soon as decoding passes it.

    Returns
    -------
    y : np.ndarray [shape=(n_samples, n_channels), dtype=float32]
        Samples in [-1, 1] (integer formats are scaled).
    sr : int
        Native sample rate.

    Raises
    ------
    EmptyAudioError, UnsupportedFormatError, CorruptAudioError, TooLongError

    Notes
    -----
    libsndfile is tried first (exact, fast); PyAV/FFmpeg gets whatever it refuses. If both
    fail, bytes with a known audio header are :class:`CorruptAudioError`, anything else
    :class:`UnsupportedFormatError`.

    Examples
    --------
    >>> y, sr = decode("speech.flac")  # doctest: +SKIP
    >>> y.shape, sr                    # doctest: +SKIP
    ((173000, 2), 48000)
    """
    name, data = _read_source(source)
    if not data:
        raise EmptyAudioError(f"{name}: no audio data (0 bytes)")
    container = _sniff_container(data)

    try:
        y, sr = _decode_soundfile(data, name, max_seconds)
    except _SoundfileRefused as refused:
        y, sr = _decode_pyav(data, name, container, max_seconds, refused=str(refused))

    if y.shape[0] == 0:
        raise EmptyAudioError(f"{name}: the {container or 'audio'} file contains no samples")
    return y, sr


class _SoundfileRefused(Exception):
    """libsndfile could not open or read the bytes."""


def _read_source(source) -> tuple[str, bytes]:
    """Return a name for messages and the encoded bytes."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return str(path), path.read_bytes()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>", bytes(source)
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("file-like audio source must be opened in binary mode")
        return str(getattr(source, "name", "<file>")), bytes(data)
    raise TypeError(
        f"audio source must be a path, bytes or binary file-like, got {type(source).__name__}"
    )


def _sniff_container(data: bytes) -> str | None:
    """Name the container from its magic bytes, or None if it is not a known audio one."""
    head = data[:16]
    if head[:4] in (b"RIFF", b"RIFX", b"RF64"):
        return "WAV" if data[8:12] in (b"WAVE", b"") else "RIFF"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"FORM":
        return "AIFF"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "WebM/Matroska"
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return "MP3/AAC"
    return None


def _decode_soundfile(data: bytes, name: str, max_seconds: float | None):
    import soundfile as sf

    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.samplerate and max_seconds is not None and f.frames / f.samplerate > max_seconds:
                raise TooLongError(_too_long_message(name, f.frames / f.samplerate, max_seconds))
            y = f.read(dtype="float32", always_2d=True)
            return y, int(f.samplerate)
    except sf.LibsndfileError as err:
        raise _SoundfileRefused(err.error_string.rstrip(".")) from None


def _decode_pyav(data: bytes, name: str, container: str | None, max_seconds, refused: str):
    import av

    def failed(err) -> AudioError:
        if container is None:
            return UnsupportedFormatError(
                f"{name}: not a recognised audio format (first bytes {data[:8]!r})"
            )
        return CorruptAudioError(
            f"{name}: has a {container} header but could not be decoded "
            f"(libsndfile: {refused}; FFmpeg: {err.strerror})"
        )

    try:
        with av.open(io.BytesIO(data), mode="r") as c:
            if not c.streams.audio:
                kinds = sorted({s.type for s in c.streams}) or ["no streams"]
                raise UnsupportedFormatError(
                    f"{name}: {c.format.name} data has no audio stream ({', '.join(kinds)})"
                )
            stream = c.streams.audio[0]
            sr = int(stream.rate or stream.codec_context.sample_rate)
            stated = _stated_seconds(c, stream)
            if max_seconds is not None and stated is not None and stated > max_seconds:
                raise TooLongError(_too_long_message(name, stated, max_seconds))

            # Planar float keeps channels apart: each frame is (channels, samples).
            resampler = av.AudioResampler(format="fltp")
            chunks, n = [], 0
            for frame in c.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    n += out.samples
                if max_seconds is not None and n / sr > max_seconds:
                    raise TooLongError(_too_long_message(name, n / sr, max_seconds, partial=True))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    except av.FFmpegError as err:
        raise failed(err) from None
    if not chunks:
        return np.zeros((0, 1), np.float32), sr
    return np.ascontiguousarray(np.concatenate(chunks, axis=1).T, dtype=np.float32), sr


def _stated_seconds(container, stream) -> float | None:
    """Duration stated in the container header, if any (streamed webm often has none)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _too_long_message(name, seconds, max_seconds, partial=False) -> str:
    length = f"more than {seconds:.1f}" if partial else f"{seconds:.1f}"
    return f"{name}: audio is {length} s long; at most {max_seconds:g} s is accepted"


# --------------------------------------------------------------------------- cleaning


def prepare(y, sr: int, options: AudioOptions = AudioOptions()) -> np.ndarray:
    """Turn raw samples into the model's waveform: mono, resampled, trimmed, normalised.

    Parameters
    ----------
    y : array_like
        Samples of shape (n,), (n, channels) or (channels, n) -- the channel axis is the
        shorter one. float in [-1, 1], or int16/int32/uint8 PCM (scaled to [-1, 1]).
    sr : int
        Sample rate of ``y`` in Hz.
    options : AudioOptions
        Target rate, trimming and loudness settings.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Waveform at ``options.sample_rate``.

    Raises
    ------
    EmptyAudioError, NonFiniteAudioError, TooLongError, NoSpeechError, TooShortError

    Examples
    --------
    >>> sr = 48000
    >>> t = np.arange(sr) / sr
    >>> stereo = (0.1 * np.sin(2 * np.pi * 220 * t)[:, None] * [1, 1] * 32767).astype(np.int16)
    >>> y = prepare(stereo, sr)
    >>> y.dtype, y.shape
    (dtype('float32'), (16000,))
    """
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    y = _to_mono_float(np.asarray(y))
    if y.size == 0:
        raise EmptyAudioError("audio contains no samples")
    if not np.isfinite(y).all():
        bad = int(np.count_nonzero(~np.isfinite(y)))
        raise NonFiniteAudioError(f"audio contains {bad} NaN or infinite samples")
    seconds = y.size / sr
    if seconds > options.max_seconds:
        raise TooLongError(_too_long_message("audio", seconds, options.max_seconds))

    if sr != options.sample_rate:
        import soxr

        y = soxr.resample(y, sr, options.sample_rate, quality="HQ").astype(np.float32, copy=False)
        sr = options.sample_rate
        if y.size == 0:
            raise TooShortError(f"audio is shorter than one sample at {sr} Hz")

    frame_db = _frame_dbfs(y, sr)
    loudest = float(frame_db.max())
    if loudest < options.silence_dbfs:
        raise NoSpeechError(
            f"no speech detected: the loudest part is {loudest:.1f} dBFS, "
            f"below the silence threshold of {options.silence_dbfs:g} dBFS"
        )
    active = frame_db >= loudest - options.trim_db

    if options.trim:
        y = _trim(y, sr, active, options.trim_margin)
    if y.size / sr < options.min_seconds:
        what = " after trimming silence" if options.trim else ""
        raise TooShortError(
            f"audio is {y.size / sr:.2f} s long{what}; at least {options.min_seconds:g} s is needed"
        )
    if options.normalize:
        y = _normalize(y, frame_db, active, options.target_dbfs)
    return np.ascontiguousarray(y, dtype=np.float32)


def load(source, options: AudioOptions = AudioOptions()) -> np.ndarray:
    """Decode a file and :func:`prepare` it: the waveform the models see.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        Any format :func:`decode` reads.
    options : AudioOptions
        Cleaning settings (``max_seconds`` is also checked before decoding).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Mono waveform at ``options.sample_rate``.

    Examples
    --------
    >>> y = load("/data/emodb/wav/03a01Fa.wav")  # doctest: +SKIP
    >>> y.dtype, y.ndim                          # doctest: +SKIP
    (dtype('float32'), 1)
    """
    y, sr = decode(source, max_seconds=options.max_seconds)
    return prepare(y, sr, options)


def _to_mono_float(y: np.ndarray) -> np.ndarray:
    """Scale integer PCM to [-1, 1] and average the channels."""
    # float32 throughout: 24 bits of mantissa exceed any recording's noise floor, and
    # ten minutes of 48 kHz stereo stays at ~230 MB instead of twice that.
    if y.dtype.kind == "u":
        # Unsigned PCM (e.g. uint8 WAV) is centred at half scale.
        half = np.float32(2.0 ** (8 * y.dtype.itemsize - 1))
        y = (y.astype(np.float32) - half) / half
    elif y.dtype.kind == "i":
        y = y.astype(np.float32) / np.float32(2.0 ** (8 * y.dtype.itemsize - 1))
    elif y.dtype.kind != "f":
        raise AudioError(f"audio samples must be numeric PCM or float, got dtype {y.dtype}")

    if y.ndim == 2:
        channel_axis = 1 if y.shape[1] <= y.shape[0] else 0
        if y.shape[channel_axis] > _MAX_CHANNELS:
            raise AudioError(
                f"cannot tell samples from channels in a 2-D array of shape {y.shape}"
            )
        y = y.mean(axis=channel_axis)
    elif y.ndim != 1:
        raise AudioError(f"audio must be 1-D or 2-D (samples and channels), got shape {y.shape}")
    return y.astype(np.float32, copy=False)


def _frame_dbfs(y: np.ndarray, sr: int) -> np.ndarray:
    """RMS level (dBFS) of 25 ms frames every 10 ms; one frame if the signal is shorter."""
    frame, hop = int(_FRAME_S * sr), int(_HOP_S * sr)
    frame = min(frame, y.size)
    # Running sum of squares gives every frame's energy in O(n).
    energy = np.concatenate(([0.0], np.cumsum(np.square(y, dtype=np.float64))))
    starts = np.arange(0, y.size - frame + 1, hop)
    mean_square = (energy[starts + frame] - energy[starts]) / frame
    return 10.0 * np.log10(np.maximum(mean_square, 1e-12))


def _trim(y: np.ndarray, sr: int, active: np.ndarray, margin_s: float) -> np.ndarray:
    """Keep from the first to the last active frame, plus ``margin_s`` on each side."""
    frame, hop = min(int(_FRAME_S * sr), y.size), int(_HOP_S * sr)
    idx = np.flatnonzero(active)
    margin = int(round(margin_s * sr))
    start = max(idx[0] * hop - margin, 0)
    end = min(idx[-1] * hop + frame + margin, y.size)
    return y[start:end]


def _normalize(y, frame_db, active, target_dbfs) -> np.ndarray:
    """Scale so the active frames' RMS is ``target_dbfs``, peak at most ``_PEAK``."""
    # Mean power over the active frames (frame levels are in dB, average in power).
    active_power = np.mean(10.0 ** (frame_db[active] / 10.0))
    gain = 10.0 ** ((target_dbfs - 10.0 * np.log10(active_power)) / 20.0)
    peak = float(np.max(np.abs(y)))
    if peak * gain > _PEAK:
        gain = _PEAK / peak
    return (y * np.float32(gain)).astype(np.float32, copy=False)
