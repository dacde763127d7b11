"""serwidgets.audio: decoding every input kind, cleaning, and each typed error with real bytes."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile as sf

from serwidgets import audio
from serwidgets.audio import AudioOptions

NO_TRIM = AudioOptions(trim=False)


def speechlike(seconds: float, sr: int, freq: float = 440.0, level: float = 0.3) -> np.ndarray:
    """A tone with a 4 Hz syllable-like envelope (float32, mono)."""
    t = np.arange(int(round(seconds * sr))) / sr
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return (level * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def sf_bytes(y: np.ndarray, sr: int, format: str = "WAV", subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=format, subtype=subtype)
    return buf.getvalue()


def av_bytes(y: np.ndarray, sr: int, container: str, codec: str) -> bytes:
    """Encode (n, 2) float samples with PyAV, as a browser or phone would send them."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr, layout="stereo")
        fmt = stream.codec_context.format.name  # e.g. "s16" for libopus, "fltp" for aac
        size = stream.codec_context.frame_size or 1024
        for i in range(0, len(y), size):
            chunk = y[i : i + size]
            if fmt.startswith("s16"):
                chunk = (chunk * 32767).astype(np.int16)
            planar = fmt.endswith("p")
            data = np.ascontiguousarray(chunk.T if planar else chunk.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="stereo")
            frame.sample_rate, frame.pts = sr, i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def dominant_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


def rms_dbfs(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64)))))


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_32", "FLOAT"])
def test_wav_sample_types_decode_to_the_same_level(subtype):
    y = speechlike(1.0, 16000)
    out = audio.load(sf_bytes(y, 16000, subtype=subtype), NO_TRIM)
    assert out.dtype == np.float32 and out.shape == (16000,)
    assert rms_dbfs(out) == pytest.approx(-20.0, abs=0.2)
    assert dominant_hz(out, 16000) == pytest.approx(440, abs=2)


def test_48k_stereo_int16_becomes_16k_mono_float32():
    sr = 48000
    left = speechlike(2.0, sr)
    stereo = np.stack([left, 0.5 * left], axis=1)
    int16 = np.round(stereo * 32767).astype(np.int16)

    from_array = audio.prepare(int16, sr, NO_TRIM)
    assert from_array.dtype == np.float32 and from_array.ndim == 1
    assert len(from_array) == 2 * 16000
    # Channels-first arrays are recognised by shape and give the same signal.
    np.testing.assert_allclose(audio.prepare(int16.T, sr, NO_TRIM), from_array, atol=1e-6)

    y, native_sr = audio.decode(sf_bytes(int16, sr, subtype="PCM_16"))
    assert native_sr == sr and y.shape == (2 * sr, 2) and y.dtype == np.float32
    from_wav = audio.load(sf_bytes(int16, sr, subtype="PCM_16"), NO_TRIM)
    np.testing.assert_allclose(from_wav, from_array, atol=1e-5)
    assert dominant_hz(from_wav, 16000) == pytest.approx(440, abs=1)


@pytest.mark.parametrize(
    "container, codec, magic",
    [("webm", "libopus", b"\x1a\x45\xdf\xa3"), ("ipod", "aac", b"ftyp")],
    ids=["webm-opus", "m4a-aac"],
)
def test_browser_and_phone_formats_decode_via_pyav(container, codec, magic):
    sr = 48000
    y = speechlike(1.5, sr)
    data = av_bytes(np.stack([y, y], axis=1), sr, container, codec)
    assert magic in data[:12]
    with pytest.raises(sf.LibsndfileError):  # really the PyAV path
        sf.info(io.BytesIO(data))

    out = audio.load(data, NO_TRIM)
    assert out.dtype == np.float32 and out.ndim == 1
    # Lossy codecs add priming/padding samples: allow a few tens of milliseconds.
    assert len(out) / 16000 == pytest.approx(1.5, abs=0.05)
    assert dominant_hz(out, 16000) == pytest.approx(440, abs=2)


@pytest.mark.parametrize(
    "format, subtype", [("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III"), ("FLAC", None)]
)
def test_soundfile_formats(format, subtype):
    y = speechlike(1.0, 22050)
    out = audio.load(sf_bytes(y, 22050, format, subtype), NO_TRIM)
    assert len(out) / 16000 == pytest.approx(1.0, abs=0.06)
    assert dominant_hz(out, 16000) == pytest.approx(440, abs=2)


def test_path_bytes_and_file_like_agree(tmp_path):
    data = sf_bytes(speechlike(1.0, 16000), 16000)
    path = tmp_path / "tone.wav"
    path.write_bytes(data)
    from_bytes = audio.load(data)
    np.testing.assert_array_equal(audio.load(path), from_bytes)
    np.testing.assert_array_equal(audio.load(str(path)), from_bytes)
    with open(path, "rb") as f:
        np.testing.assert_array_equal(audio.load(f), from_bytes)
    np.testing.assert_array_equal(audio.load(io.BytesIO(data)), from_bytes)


def test_emodb_file(emodb_root):
    path = emodb_root / "wav" / "03a01Fa.wav"
    raw, sr = audio.decode(path)
    assert sr == 16000 and raw.shape[1] == 1
    y = audio.load(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert 0.25 * sr < len(y) <= len(raw)
    assert np.abs(y).max() <= 0.99 + 1e-6
    assert rms_dbfs(y) < -20.0 + 1e-3  # the active part is at -20 dBFS, pauses pull it lower
    assert rms_dbfs(y) > -30.0


def test_ravdess_stereo_flac(ravdess_root):
    path = ravdess_root / "Actor_01" / "03-01-02-01-01-02-01.flac"
    raw, sr = audio.decode(path)
    assert sr == 48000 and raw.ndim == 2 and raw.shape[1] == 2
    untrimmed = audio.load(path, NO_TRIM)
    assert len(untrimmed) == pytest.approx(raw.shape[0] / 3, abs=1)
    trimmed = audio.load(path)
    # RAVDESS clips start and end with about a second of room tone.
    assert 0.5 * 16000 < len(trimmed) < len(untrimmed) - 0.3 * 16000
    assert np.abs(trimmed).max() <= 0.99 + 1e-6


# ----------------------------------------------------------------------------- cleaning


def test_trim_cuts_edge_silence_and_keeps_margin():
    sr = 16000
    tone = speechlike(1.0, sr)
    y = np.concatenate([np.zeros(sr), tone, np.zeros(sr)]).astype(np.float32)
    opts = AudioOptions(trim_margin=0.05)
    out = audio.prepare(y, sr, opts)
    # The tone plus a margin of 50 ms on each side (frame granularity: 10 ms hop, 25 ms frame).
    assert len(out) / sr == pytest.approx(1.0 + 2 * 0.05, abs=0.04)
    assert np.abs(out[:200]).max() < 1e-6  # the margin is kept silence, not speech
    assert len(audio.prepare(y, sr, NO_TRIM)) == 3 * sr


def test_loudness_normalised_and_peak_limited():
    sr = 16000
    quiet = 0.01 * speechlike(1.0, sr)
    out = audio.prepare(quiet, sr, NO_TRIM)
    assert rms_dbfs(out) == pytest.approx(-20.0, abs=0.2)

    clicky = quiet.copy()
    clicky[8000] = 0.9  # a click far above the speech level
    out = audio.prepare(clicky, sr, NO_TRIM)
    assert np.abs(out).max() == pytest.approx(0.99, abs=1e-6)
    assert rms_dbfs(out) < -20.0

    untouched = audio.prepare(quiet, sr, AudioOptions(trim=False, normalize=False))
    np.testing.assert_allclose(untouched, quiet, atol=1e-7)


def test_options_round_trip_and_validation():
    opts = AudioOptions(trim_db=30.0, max_seconds=60.0)
    assert AudioOptions.from_dict(opts.to_dict()) == opts
    with pytest.raises(ValueError, match="unknown AudioOptions keys"):
        AudioOptions.from_dict({**opts.to_dict(), "gain": 2})
    with pytest.raises(ValueError, match="min_seconds"):
        AudioOptions(min_seconds=5, max_seconds=1)
    with pytest.raises(ValueError, match="target_dbfs"):
        AudioOptions(target_dbfs=3.0)


# ----------------------------------------------------------------------------- errors


def test_empty_bytes():
    with pytest.raises(audio.EmptyAudioError, match="0 bytes"):
        audio.load(b"")


def test_wav_with_no_samples():
    with pytest.raises(audio.EmptyAudioError, match="no samples"):
        audio.load(sf_bytes(np.zeros(0, np.float32), 16000))


@pytest.mark.parametrize(
    "data, match",
    [
        (b"<html><body>not audio</body></html>" * 10, "not a recognised audio format"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "no audio stream"),
    ],
    ids=["text", "png"],
)
def test_non_audio_bytes(data, match):
    with pytest.raises(audio.UnsupportedFormatError, match=match):
        audio.load(data)


@pytest.mark.parametrize("damage", ["truncated-header", "garbled-fmt", "garbled-wave-id"])
def test_corrupt_wav_header(damage):
    good = sf_bytes(speechlike(1.0, 16000), 16000, subtype="PCM_16")
    bad = {
        "truncated-header": good[:30],
        "garbled-fmt": good[:12] + b"xxxx" + good[16:],
        "garbled-wave-id": good[:8] + b"WAXE" + good[12:],
    }[damage]
    with pytest.raises(audio.CorruptAudioError, match="header but could not be decoded"):
        audio.load(bad)


def test_truncated_flac():
    data = sf_bytes(speechlike(1.0, 16000), 16000, "FLAC")
    with pytest.raises(audio.CorruptAudioError, match="FLAC header"):
        audio.load(data[:60])


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_samples(bad_value):
    y = speechlike(1.0, 16000)
    y[100:110] = bad_value
    with pytest.raises(audio.NonFiniteAudioError, match="10 NaN or infinite"):
        audio.load(sf_bytes(y, 16000, subtype="FLOAT"))


def test_too_short_after_trimming():
    sr = 16000
    y = np.concatenate([np.zeros(sr), speechlike(0.1, sr), np.zeros(sr)]).astype(np.float32)
    with pytest.raises(audio.TooShortError, match="after trimming silence"):
        audio.load(sf_bytes(y, sr))
    assert len(audio.load(sf_bytes(y, sr), NO_TRIM)) == 2.1 * sr  # untrimmed it is long enough
    with pytest.raises(audio.TooShortError, match="shorter than one sample"):
        audio.prepare(np.ones(1, np.float32), 48000)  # nothing is left after resampling


def test_too_long_is_caught_before_decoding(monkeypatch):
    data = sf_bytes(speechlike(3.0, 16000), 16000)

    def no_read(*args, **kwargs):
        raise AssertionError("samples were decoded before the length check")

    monkeypatch.setattr(sf.SoundFile, "read", no_read)
    with pytest.raises(audio.TooLongError, match="3.0 s long; at most 2 s"):
        audio.load(data, AudioOptions(max_seconds=2.0))


def test_too_long_via_pyav_and_for_arrays():
    y = speechlike(3.0, 48000)
    data = av_bytes(np.stack([y, y], axis=1), 48000, "ipod", "aac")
    with pytest.raises(audio.TooLongError, match="at most 2 s"):
        audio.load(data, AudioOptions(max_seconds=2.0))
    with pytest.raises(audio.TooLongError):
        audio.prepare(y, 48000, AudioOptions(max_seconds=2.0))


@pytest.mark.parametrize("level", [0.0, 10 ** (-75 / 20)], ids=["digital-zero", "-75dBFS-noise"])
def test_pure_silence_is_no_speech(level, rng):
    y = (level * rng.standard_normal(16000)).astype(np.float32)
    with pytest.raises(audio.NoSpeechError, match="no speech detected"):
        audio.load(sf_bytes(y, 16000, subtype="FLOAT"))


def test_errors_are_value_errors_with_a_common_base():
    for error in (
        audio.EmptyAudioError,
        audio.UnsupportedFormatError,
        audio.CorruptAudioError,
        audio.NonFiniteAudioError,
        audio.TooShortError,
        audio.TooLongError,
        audio.NoSpeechError,
    ):
        assert issubclass(error, audio.AudioError) and issubclass(error, ValueError)


def test_ambiguous_array_shapes_are_rejected():
    with pytest.raises(audio.AudioError, match="1-D or 2-D"):
        audio.prepare(np.zeros((2, 2, 100), np.float32), 16000)
    with pytest.raises(audio.AudioError, match="cannot tell samples from channels"):
        audio.prepare(np.zeros((100, 100), np.float32), 16000)
