"""Decode, resample and clean audio: any file or array in, 16 kHz mono float32 out.

Every waveform that reaches a model goes through :func:`load` (or :func:`decode` +
:func:`prepare`), for training and for inference alike, so both see the same signal:

1. **decode** -- wav/flac/ogg/mp3 (and the other libsndfile formats) with ``soundfile``;
   webm/opus/m4a/aac, anything libsndfile refuses and files that do not state their length
   with PyAV (FFmpeg). Any sample rate, channel count and sample type (uint8, int16, int32,
   float) is accepted. Decoding is bounded: ``max_seconds`` and ``max_bytes`` are checked
   against the header *and* while decoding, so a small file that expands to hours of audio
   (a "decode bomb") is stopped at the limit, and memory stays bounded by the limits.
2. **down-mix** to mono (mean over channels) and **resample** to 16 kHz with ``soxr``
   ("HQ" quality).
3. **remove DC**: the mean is subtracted, so an offset neither counts as loudness nor
   reaches the features.
4. **reject** what cannot be used: non-finite samples, too long, silence, too short after
   trimming, and -- :mod:`serwidgets.vad` -- anything without voiced speech: a constant,
   noise, a steady tone (``NoSpeechError``).
5. **trim** leading and trailing silence: frames quieter than the loudest frame minus
   ``trim_db`` are cut at both ends, keeping ``trim_margin`` seconds of context.
6. **normalise loudness**: the RMS over the non-silent frames is set to ``target_dbfs``, and
   the gain is lowered if needed so the peak stays at or below 0.99 (no clipping).

Every failure is an :class:`AudioError` subclass whose message names the input (the path,
an upload's file name passed as ``name=``, or ``<bytes>``); no other exception escapes
:func:`decode`, :func:`load` or :func:`prepare` for bad audio, a bad sample rate or a path
that cannot be read (:class:`UnreadableFileError`, which is an ``OSError`` too).

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

from . import vad

__all__ = [
    "TARGET_SR",
    "AudioError",
    "EmptyAudioError",
    "UnsupportedFormatError",
    "CorruptAudioError",
    "NonFiniteAudioError",
    "UnreadableFileError",
    "TooShortError",
    "TooLongError",
    "TooLargeError",
    "NoSpeechError",
    "AudioOptions",
    "decode",
    "prepare",
    "load",
]

#: The sample rate (Hz) of everything that reaches a model: 16 kHz, the one constant for it
#: (every default; the browser's recorder gets it through a synced trait). Defined in
#: :mod:`serwidgets.vad`, the module below this one, so that vad can default to it too.
TARGET_SR = vad.TARGET_SR


# Frames for the silence, trimming and loudness decisions: 25 ms windows every 10 ms.
_FRAME_S = 0.025
_HOP_S = 0.010
# The limiter keeps peaks at or below this amplitude.
_PEAK = 0.99
# More channels than this along the shorter axis means the 2-D shape is not (samples, channels).
_MAX_CHANNELS = 32
# Largest float sample magnitude analysed: int32 full scale, so unscaled integer PCM in a float
# array still works (loudness is normalised). Far past it, float32 arithmetic (mixing channels,
# removing DC, resampling) overflows to inf: float32's largest values once ended in an IndexError.
_MAX_FLOAT_SAMPLE = 2.0**31


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


class UnreadableFileError(AudioError, OSError):
    """A path that cannot be read as a file: missing, a folder, no permission (also an ``OSError``)."""


class TooShortError(AudioError):
    """Shorter than ``AudioOptions.min_seconds`` after trimming silence."""


class TooLongError(AudioError):
    """Longer than ``AudioOptions.max_seconds``."""


class TooLargeError(TooLongError):
    """More than ``AudioOptions.max_bytes``: the encoded input, or its decoded samples."""


class NoSpeechError(AudioError):
    """No speech: silence (the loudest frame is below ``AudioOptions.silence_dbfs``), or no
    voiced speech at all (:mod:`serwidgets.vad`: a constant, noise, a steady tone)."""


@dataclass(frozen=True)
class AudioOptions:
    """How :func:`prepare` cleans a waveform; stored in each model card.

    Parameters
    ----------
    sample_rate : int
        Output sample rate in Hz (default :data:`TARGET_SR`). Saved in cards and cache keys
        under this name; functions call the rate ``sr``.
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
        Longest accepted input duration, checked before trimming and, for files, from the
        header before decoding and again while decoding (:class:`TooLongError`).
    remove_dc : bool
        Subtract the mean first, so a DC offset neither passes for loudness nor shifts the
        features. False reproduces results computed before this step existed (they record
        no ``audio_options``).
    min_speech_seconds : float
        Least total duration of voiced speech (:func:`serwidgets.vad.voice_activity`);
        less is :class:`NoSpeechError`. 0 turns the voice-activity check off (only the
        silence threshold is left).
    max_bytes : int
        Largest accepted file, in bytes, and largest decoded signal (float32 samples of all
        channels; 256 MiB holds ten minutes of 48 kHz stereo) (:class:`TooLargeError`).

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
    remove_dc: bool = True
    min_speech_seconds: float = vad.MIN_VOICED_SECONDS
    max_bytes: int = 256 * 2**20

    def __post_init__(self):
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.trim_db <= 0:
            raise ValueError(f"trim_db must be positive, got {self.trim_db}")
        if self.trim_margin < 0:
            raise ValueError(f"trim_margin must be >= 0 seconds, got {self.trim_margin}")
        if self.target_dbfs >= 0:
            raise ValueError(f"target_dbfs must be below 0 dBFS, got {self.target_dbfs}")
        if self.min_speech_seconds < 0:
            raise ValueError(f"min_speech_seconds must be >= 0, got {self.min_speech_seconds}")
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {self.max_bytes}")
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

#: libsndfile's frame count when the header does not state the length (FLAC "total samples 0").
_UNKNOWN_FRAMES = 2**62
#: Highest sample rate accepted from a header (a bogus huge rate would defeat the limits).
_MAX_SAMPLE_RATE = 768_000
#: Bytes per decoded sample (float32).
_SAMPLE_BYTES = 4


def decode(
    source,
    *,
    max_seconds: float | None = AudioOptions.max_seconds,
    max_bytes: int | None = AudioOptions.max_bytes,
    name: str | None = None,
) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 samples at its native rate, within limits.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file-like
        The encoded audio.
    max_seconds : float or None
        Raise :class:`TooLongError` if the audio is longer: from the header's stated length
        before decoding, and again while decoding (in blocks), so a file that does not state
        its length, or states it wrongly, is stopped once it passes the limit. Default
        ``AudioOptions.max_seconds``; None: no limit.
    max_bytes : int or None
        Raise :class:`TooLargeError` if the encoded input, or the decoded float32 samples
        (all channels), would take more bytes. Default ``AudioOptions.max_bytes``; None: no
        limit. Together the two bound the memory a decode can take, whatever the file says.
    name : str, optional
        What error messages call the input (an upload's file name, say). Default: the path,
        the file-like object's ``name``, or ``<bytes>``.

    Returns
    -------
    y : np.ndarray [shape=(n_samples, n_channels), dtype=float32]
        Samples in [-1, 1] (integer formats are scaled).
    sr : int
        Native sample rate.

    Raises
    ------
    EmptyAudioError, UnsupportedFormatError, CorruptAudioError, TooLongError, TooLargeError
        Every failure is an :class:`AudioError` whose message starts with ``name``.
    UnreadableFileError
        A path that cannot be read (missing file, a folder, no permission); also an ``OSError``.

    Notes
    -----
    libsndfile is tried first (exact, fast); PyAV/FFmpeg gets whatever it refuses, and
    files whose header does not state their length. If both fail, bytes with a known audio
    header are :class:`CorruptAudioError`, anything else :class:`UnsupportedFormatError`.

    Examples
    --------
    >>> y, sr = decode("speech.flac")  # doctest: +SKIP
    >>> y.shape, sr                    # doctest: +SKIP
    ((173000, 2), 48000)
    >>> decode(b"RIFF", name="upload.wav")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    serwidgets.audio.CorruptAudioError: upload.wav: has a WAV header but could not be decoded ...
    """
    name = _source_name(source, name)
    data = _read_source(source, name, max_bytes)
    if not data:
        raise EmptyAudioError(f"{name}: no audio data (0 bytes)")
    container = _sniff_container(data)
    limits = _Limits(name, max_seconds, max_bytes)

    try:
        try:
            y, sr = _decode_soundfile(data, limits)
        except _SoundfileRefused as refused:
            y, sr = _decode_pyav(data, name, container, limits, refused=str(refused))
    except AudioError:
        raise
    except MemoryError:
        raise TooLargeError(f"{name}: not enough memory to decode this audio") from None
    except Exception as err:  # a decoder library failing in a way it does not document
        raise _undecodable(name, data, container, f"{type(err).__name__}: {err}") from err

    if y.shape[0] == 0:
        raise EmptyAudioError(f"{name}: the {container or 'audio'} file contains no samples")
    return y, sr


class _SoundfileRefused(Exception):
    """libsndfile could not open or read the bytes."""


def _source_name(source, name: str | None = None) -> str:
    """What messages call ``source``: ``name`` if given, else its path, file name or kind."""
    if name is not None:
        return str(name)
    if isinstance(source, (str, os.PathLike)):
        return str(Path(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(source, np.ndarray):
        return "<array>"
    file_name = getattr(source, "name", None)
    return str(file_name) if isinstance(file_name, (str, os.PathLike)) and str(file_name) else "<file>"


def _read_source(source, name: str, max_bytes: int | None) -> bytes:
    """The encoded bytes, refusing more than ``max_bytes`` before reading them all."""

    def too_large(size: str) -> TooLargeError:
        return TooLargeError(f"{name}: the file is {size}; at most {_mib(max_bytes)} is accepted")

    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source), name, max_bytes, too_large)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if max_bytes is not None and len(source) > max_bytes:
            raise too_large(_mib(len(source)))
        return bytes(source)
    if hasattr(source, "read"):
        data = source.read() if max_bytes is None else source.read(max_bytes + 1)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("file-like audio source must be opened in binary mode")
        if max_bytes is not None and len(data) > max_bytes:
            raise too_large(f"more than {_mib(max_bytes)}")
        return bytes(data)
    raise TypeError(
        f"audio source must be a path, bytes or binary file-like, got {type(source).__name__}"
    )


def _read_file(path: Path, name: str, max_bytes: int | None, too_large) -> bytes:
    try:
        if path.is_dir():
            raise UnreadableFileError(f"{name}: a folder, not an audio file")
        if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
            raise too_large(_mib(size))
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFileError(f"{name}: no such file") from None
    except UnreadableFileError:
        raise
    except OSError as error:  # no permission, a broken device, ...
        raise UnreadableFileError(f"{name}: {error.strerror or error}") from None


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


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


def _undecodable(name: str, data: bytes, container: str | None, why: str) -> AudioError:
    if container is None:
        return UnsupportedFormatError(f"{name}: not a recognised audio format (first bytes {data[:8]!r})")
    return CorruptAudioError(f"{name}: has a {container} header but could not be decoded ({why})")


@dataclass(frozen=True)
class _Limits:
    """The duration and size limits of one decode, and the errors that report them."""

    name: str
    max_seconds: float | None
    max_bytes: int | None

    def check_format(self, sr: int, channels: int, container: str) -> None:
        if not 0 < sr <= _MAX_SAMPLE_RATE:
            raise CorruptAudioError(f"{self.name}: the {container} header states a sample rate of {sr} Hz")
        if not 0 < channels <= _MAX_CHANNELS:
            raise UnsupportedFormatError(
                f"{self.name}: {channels} channels; at most {_MAX_CHANNELS} are supported"
            )

    def max_frames(self, sr: int, channels: int) -> int | None:
        """Most frames (samples per channel) accepted at this rate and channel count."""
        limits = []
        if self.max_seconds is not None:
            limits.append(int(np.floor(self.max_seconds * sr)))
        if self.max_bytes is not None:
            limits.append(self.max_bytes // (_SAMPLE_BYTES * channels))
        return min(limits) if limits else None

    def check(self, frames: int, sr: int, channels: int, partial: bool = False) -> None:
        """Raise if ``frames`` (stated, or decoded so far if ``partial``) is past a limit."""
        if self.max_seconds is not None and frames > self.max_seconds * sr:
            raise TooLongError(_too_long_message(self.name, frames / sr, self.max_seconds, partial))
        if self.max_bytes is not None and frames * channels * _SAMPLE_BYTES > self.max_bytes:
            size = frames * channels * _SAMPLE_BYTES
            raise TooLargeError(
                f"{self.name}: {frames / sr:.1f} s of {channels}-channel audio at {sr} Hz decodes to "
                f"{'more than ' if partial else ''}{_mib(size)}; at most {_mib(self.max_bytes)} is accepted"
            )


def _decode_soundfile(data: bytes, limits: _Limits):
    import soundfile as sf

    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sr, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
            if frames >= _UNKNOWN_FRAMES:
                # libsndfile cannot read such a stream to its end: FFmpeg decodes it in frames.
                raise _SoundfileRefused("the header does not state the length")
            limits.check_format(sr, channels, f.format)
            limits.check(frames, sr, channels)
            # The header's length is within the limits: read exactly that much, no more.
            out = np.empty((frames, channels), np.float32)
            y = f.read(frames, dtype="float32", always_2d=True, out=out)
            return y, sr
    except sf.LibsndfileError as err:
        raise _SoundfileRefused(err.error_string.rstrip(".")) from None


def _decode_pyav(data: bytes, name: str, container: str | None, limits: _Limits, refused: str):
    import av

    chunks = []
    try:
        with av.open(io.BytesIO(data), mode="r") as c:
            if not c.streams.audio:
                kinds = sorted({s.type for s in c.streams}) or ["no streams"]
                raise UnsupportedFormatError(
                    f"{name}: {c.format.name} data has no audio stream ({', '.join(kinds)})"
                )
            stream = c.streams.audio[0]
            context = stream.codec_context
            if context is None:  # FFmpeg has no decoder for this codec (e.g. an unknown WAV format tag)
                raise _undecodable(name, data, container, f"libsndfile: {refused}; FFmpeg: no decoder for it")
            sr = int(getattr(stream, "rate", None) or context.sample_rate or 0)
            channels = int(context.channels or 0)
            limits.check_format(sr, channels or 1, container or c.format.name)
            stated = _stated_seconds(c, stream)
            if stated is not None:
                limits.check(int(np.ceil(stated * sr)), sr, channels or 1)

            # Planar float keeps channels apart: each frame is (channels, samples).
            resampler = av.AudioResampler(format="fltp")
            n = 0
            for frame in c.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    n += out.samples
                # Checked frame by frame: a stream that does not state its length (or lies)
                # is stopped as soon as it passes the limit.
                limits.check(n, sr, chunks[-1].shape[0] if chunks else 1, partial=True)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    except av.FFmpegError as err:
        raise _undecodable(name, data, container, f"libsndfile: {refused}; FFmpeg: {err.strerror}") from None
    if not chunks:
        return np.zeros((0, 1), np.float32), sr
    y = np.concatenate(chunks, axis=1)
    chunks.clear()
    return np.ascontiguousarray(y.T, dtype=np.float32), sr


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


def prepare(y, sr: int, options: AudioOptions = AudioOptions(), *, name: str | None = None) -> np.ndarray:
    """Turn raw samples into the model's waveform: mono, resampled, trimmed, normalised.

    Parameters
    ----------
    y : array_like
        Samples of shape (n,), (n, channels) or (channels, n) -- the channel axis is the
        shorter one. float in [-1, 1], or int16/int32/uint8 PCM (scaled to [-1, 1]).
    sr : int
        Sample rate of ``y`` in Hz.
    options : AudioOptions
        Target rate, trimming, loudness and speech-check settings.
    name : str, optional
        What error messages call the audio (default ``<array>``).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Waveform at ``options.sample_rate``.

    Raises
    ------
    EmptyAudioError, NonFiniteAudioError, TooLongError, NoSpeechError, TooShortError
        And :class:`AudioError` itself for a sample rate that is not a positive number, or
        samples that are not audio (a dtype other than PCM or float, an ambiguous shape,
        float samples past ±2**31).

    Examples
    --------
    >>> from serwidgets.vad import synthetic_voice
    >>> sr = 48000
    >>> voice = synthetic_voice(1.0, sr)
    >>> stereo = (voice[:, None] * [1, 1] * 32767).astype(np.int16)
    >>> y = prepare(stereo, sr)
    >>> y.dtype, y.ndim
    (dtype('float32'), 1)
    >>> prepare(np.full(sr, 0.5), sr, name="dc.wav")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    serwidgets.audio.NoSpeechError: no speech detected in dc.wav: ...
    """
    name = "<array>" if name is None else str(name)
    _check_sr(sr, name)
    y = _to_mono_float(np.asarray(y), name)
    if y.size == 0:
        raise EmptyAudioError(f"{name}: audio contains no samples")
    if not np.isfinite(y).all():
        bad = int(np.count_nonzero(~np.isfinite(y)))
        raise NonFiniteAudioError(f"{name}: audio contains {bad} NaN or infinite samples")
    seconds = y.size / sr
    if seconds > options.max_seconds:
        raise TooLongError(_too_long_message(name, seconds, options.max_seconds))

    if options.remove_dc:
        # A DC offset is no sound: it would pass for loudness and shift every feature. Removed
        # before resampling, whose filter would turn the offset's edges into clicks.
        y = (y - np.float32(np.mean(y, dtype=np.float64))).astype(np.float32, copy=False)
    if sr != options.sample_rate:
        import soxr

        y = soxr.resample(y, sr, options.sample_rate, quality="HQ").astype(np.float32, copy=False)
        sr = options.sample_rate
        if y.size == 0:
            raise TooShortError(f"{name}: audio is shorter than one sample at {sr} Hz")

    frame_db = _frame_dbfs(y, sr)
    loudest = float(frame_db.max())
    if loudest < options.silence_dbfs:
        raise NoSpeechError(
            f"no speech detected in {name}: the loudest part is {loudest:.1f} dBFS, "
            f"below the silence threshold of {options.silence_dbfs:g} dBFS"
        )
    active = frame_db >= loudest - options.trim_db

    if options.trim:
        y = _trim(y, sr, active, options.trim_margin)
    if y.size / sr < options.min_seconds:
        what = " after trimming silence" if options.trim else ""
        raise TooShortError(
            f"{name}: audio is {y.size / sr:.2f} s long{what}; at least {options.min_seconds:g} s is needed"
        )
    if options.min_speech_seconds > 0:
        activity = vad.voice_activity(y, sr, options.min_speech_seconds)
        if not activity.speech:
            raise NoSpeechError(f"no speech detected in {name}: {activity.reason()}")
    if options.normalize:
        y = _normalize(y, frame_db, active, options.target_dbfs)
    return np.ascontiguousarray(y, dtype=np.float32)


def load(source, options: AudioOptions = AudioOptions(), *, name: str | None = None) -> np.ndarray:
    """Decode a file and :func:`prepare` it: the waveform the models see.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        Any format :func:`decode` reads.
    options : AudioOptions
        Cleaning settings; ``max_seconds`` and ``max_bytes`` also bound the decoding.
    name : str, optional
        What error messages call the input (default: the path, or ``<bytes>``).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Mono waveform at ``options.sample_rate``.

    Raises
    ------
    AudioError
        One of its subclasses; the message names the input.

    Examples
    --------
    >>> y = load("/data/emodb/wav/03a01Fa.wav")  # doctest: +SKIP
    >>> y.dtype, y.ndim                          # doctest: +SKIP
    (dtype('float32'), 1)
    """
    name = _source_name(source, name)
    y, sr = decode(source, max_seconds=options.max_seconds, max_bytes=options.max_bytes, name=name)
    return prepare(y, sr, options, name=name)


def _check_sr(sr, name: str) -> None:
    """A sample rate is a positive, finite number of Hz (not a string, not a bool)."""
    import numbers

    if isinstance(sr, bool) or not isinstance(sr, numbers.Real) or not (np.isfinite(sr) and sr > 0):
        raise AudioError(f"{name}: the sample rate must be a positive number of Hz, got {sr!r}")


def _to_mono_float(y: np.ndarray, name: str = "<array>") -> np.ndarray:
    """Scale integer PCM to [-1, 1] and average the channels; refuse floats past ±2**31."""
    # float32 throughout: 24 bits of mantissa exceed any recording's noise floor, and
    # ten minutes of 48 kHz stereo stays at ~230 MB instead of twice that.
    if y.dtype.kind == "u":
        # Unsigned PCM (e.g. uint8 WAV) is centred at half scale.
        half = np.float32(2.0 ** (8 * y.dtype.itemsize - 1))
        y = (y.astype(np.float32) - half) / half
    elif y.dtype.kind == "i":
        y = y.astype(np.float32) / np.float32(2.0 ** (8 * y.dtype.itemsize - 1))
    elif y.dtype.kind != "f":
        raise AudioError(f"{name}: audio samples must be numeric PCM or float, got dtype {y.dtype}")
    elif y.size and np.isfinite(peak := float(np.max(np.abs(y)))) and peak > _MAX_FLOAT_SAMPLE:
        # (NaN and inf are reported by prepare's own check.)
        raise AudioError(f"{name}: samples reach {peak:.2g}; float audio should lie in [-1, 1], and past "
                         f"{_MAX_FLOAT_SAMPLE:.3g} it cannot be analysed")

    if y.ndim == 2:
        channel_axis = 1 if y.shape[1] <= y.shape[0] else 0
        if y.shape[channel_axis] > _MAX_CHANNELS:
            raise AudioError(
                f"{name}: cannot tell samples from channels in a 2-D array of shape {y.shape}"
            )
        y = y.mean(axis=channel_axis)
    elif y.ndim != 1:
        raise AudioError(f"{name}: audio must be 1-D or 2-D (samples and channels), got shape {y.shape}")
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
