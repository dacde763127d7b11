"""serwidgets.audio: decoding every input kind, cleaning, and each typed error with real bytes."""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from serwidgets import audio
from serwidgets.audio import AudioOptions
from serwidgets.vad import synthetic_voice

# Test tones are not speech: the tests of decoding and cleaning turn the speech check off.
TONES = AudioOptions(min_speech_seconds=0)
NO_TRIM = AudioOptions(trim=False, min_speech_seconds=0)


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
    data = sf_bytes(synthetic_voice(1.0, 16000), 16000)
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
    opts = AudioOptions(trim_margin=0.05, min_speech_seconds=0)
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

    untouched = audio.prepare(quiet, sr, AudioOptions(trim=False, normalize=False, min_speech_seconds=0))
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
        audio.TooLargeError,
        audio.NoSpeechError,
    ):
        assert issubclass(error, audio.AudioError) and issubclass(error, ValueError)


def test_ambiguous_array_shapes_are_rejected():
    with pytest.raises(audio.AudioError, match="1-D or 2-D"):
        audio.prepare(np.zeros((2, 2, 100), np.float32), 16000)
    with pytest.raises(audio.AudioError, match="cannot tell samples from channels"):
        audio.prepare(np.zeros((100, 100), np.float32), 16000)


# ----------------------------------------------------------------------------- issue 12: hostile input


def with_format_tag(wav: bytes, tag: int) -> bytes:
    """A WAV with its fmt chunk's format tag (bytes 20-21) replaced."""
    assert wav[12:16] == b"fmt "
    return wav[:20] + struct.pack("<H", tag) + wav[22:]


def with_unknown_length(flac: bytes) -> bytes:
    """A FLAC whose STREAMINFO says "total samples: unknown" (0), as streaming encoders write."""
    data = bytearray(flac)
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # the first block is STREAMINFO
    # STREAMINFO starts at byte 8; its 36-bit total-samples field spans bytes 21 (low 4 bits) to 25.
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    return bytes(data)


def silent_flac(seconds: float, sr: int = 8000) -> bytes:
    """Digital silence as FLAC, encoded a block at a time (an hour compresses to ~200 KB)."""
    buf = io.BytesIO()
    block = np.zeros(sr * 60, np.int16)
    with sf.SoundFile(buf, "w", sr, 1, "PCM_16", format="FLAC") as f:
        for _ in range(int(seconds // 60)):
            f.write(block)
    return buf.getvalue()


@pytest.mark.parametrize("tag", [0x1234, 0x0000, 0xFFFE], ids=hex)
def test_unknown_wav_format_tag_is_a_corrupt_audio_error(tag, tmp_path):
    bad = with_format_tag(sf_bytes(synthetic_voice(1.0, 16000), 16000, subtype="PCM_16"), tag)
    with pytest.raises(audio.CorruptAudioError, match=r"^upload\.wav: has a WAV header but could not be decoded"):
        audio.load(bad, name="upload.wav")
    with pytest.raises(audio.CorruptAudioError, match="^<bytes>: "):
        audio.decode(bad)
    path = tmp_path / f"tag-{tag:04x}.wav"
    path.write_bytes(bad)
    with pytest.raises(audio.CorruptAudioError) as info:
        audio.load(path)
    assert str(info.value).startswith(str(path))


def test_flac_of_unknown_length_decodes_within_the_limit():
    voice = synthetic_voice(1.5, 16000)
    data = with_unknown_length(sf_bytes(voice, 16000, "FLAC"))
    y, sr = audio.decode(data, name="stream.flac")
    assert sr == 16000 and y.shape == (len(voice), 1)
    np.testing.assert_allclose(y[:, 0], voice, atol=1e-4)
    assert audio.load(data).size > 0.25 * 16000
    with pytest.raises(audio.TooLongError, match=r"^stream\.flac: audio is more than 1\.\d s long; at most 1 s"):
        audio.decode(data, max_seconds=1.0, name="stream.flac")
    # No limit at all still decodes it (in frames), with no raw ValueError.
    assert audio.decode(data, max_seconds=None, max_bytes=None)[0].shape == y.shape


def peak_bytes(action) -> int:
    """Peak Python/numpy memory allocated while ``action`` runs (tracemalloc), in bytes."""
    tracemalloc.start()
    try:
        action()
    except audio.AudioError:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_decode_bomb_is_stopped_at_the_limit_with_bounded_memory(tmp_path):
    bomb = silent_flac(3600)  # one hour at 8 kHz: 115 MB as float32 samples
    assert len(bomb) < 1_000_000
    path = tmp_path / "bomb.flac"
    path.write_bytes(bomb)
    # The header states the length: refused before decoding anything.
    with pytest.raises(audio.TooLongError, match=r"bomb\.flac: audio is 3600\.0 s long; at most 600 s"):
        audio.load(path)
    assert peak_bytes(lambda: audio.load(path)) < 5 * len(bomb)

    # The header does not state it: decoding stops once it passes the limit.
    streamed = with_unknown_length(bomb)
    with pytest.raises(audio.TooLongError, match=r"^<bytes>: audio is more than 60\.\d s long; at most 60 s"):
        audio.decode(streamed, max_seconds=60)
    limit_bytes = 60 * 8000 * 4  # 60 s of float32 samples: 1.9 MB
    peak = peak_bytes(lambda: audio.decode(streamed, max_seconds=60))
    assert peak < 4 * limit_bytes + 5 * len(bomb), f"peak {peak / 2**20:.1f} MiB"
    # The default limit (600 s) bounds it too: far below the hour's 115 MB.
    with pytest.raises(audio.TooLongError, match="more than 600"):
        audio.load(streamed, name="bomb.flac")
    assert peak_bytes(lambda: audio.load(streamed)) < 4 * 600 * 8000 * 4 + 5 * len(bomb)


def test_size_limits_on_the_file_and_on_the_decoded_samples(tmp_path):
    voice = synthetic_voice(10.0, 48000)
    wav = sf_bytes(np.stack([voice, voice], axis=1), 48000, subtype="PCM_16")  # 1.9 MB
    path = tmp_path / "big.wav"
    path.write_bytes(wav)
    small = AudioOptions(max_bytes=2**20)
    for source in (path, wav, io.BytesIO(wav)):
        with pytest.raises(audio.TooLargeError, match=r"the file is .*MiB; at most 1\.0 MiB"):
            audio.load(source, small)
    # 300 KB of FLAC that decodes to 3.8 MB of float32 samples.
    flac = sf_bytes(np.stack([voice, voice], axis=1), 48000, "FLAC")
    assert len(flac) < 2**20
    with pytest.raises(audio.TooLargeError, match=r"^voice\.flac: 10\.0 s of 2-channel audio at 48000 Hz decodes to"):
        audio.decode(flac, max_bytes=2**20, name="voice.flac")
    with pytest.raises(audio.TooLargeError, match="decodes to more than"):  # via PyAV, in frames
        audio.decode(with_unknown_length(flac), max_bytes=2**20)
    assert issubclass(audio.TooLargeError, audio.TooLongError)  # the uploader's "too long" branch


def test_errors_name_the_file(tmp_path):
    y = synthetic_voice(1.0, 16000)
    y[100:110] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    with pytest.raises(audio.NonFiniteAudioError, match=rf"^{path}: audio contains 10 NaN or infinite"):
        audio.load(path)
    with pytest.raises(audio.NonFiniteAudioError, match=r"^take\.wav: "):
        audio.load(path.read_bytes(), name="take.wav")

    short = np.concatenate([np.zeros(16000), synthetic_voice(0.1, 16000), np.zeros(16000)])
    path = tmp_path / "short.wav"
    sf.write(path, short, 16000)
    with pytest.raises(audio.TooShortError, match=rf"^{path}: audio is 0\.\d+ s long after trimming"):
        audio.load(path)
    with pytest.raises(audio.EmptyAudioError, match=r"^empty\.wav: no audio data"):
        audio.load(b"", name="empty.wav")
    with open(path, "rb") as f:  # a file object's own name
        with pytest.raises(audio.TooShortError, match=rf"^{path}: "):
            audio.load(f)


def noise(kind: str, n: int, rng) -> np.ndarray:
    white = rng.standard_normal(n)
    if kind == "white":
        return 0.1 * white
    spectrum = np.fft.rfft(white)
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))  # 1/f power
    pink = np.fft.irfft(spectrum, n)
    return 0.1 * pink / pink.std()


@pytest.mark.parametrize("kind", ["constant", "dc-offset-silence", "white", "pink", "tone"])
def test_no_speech_through_load(kind, rng):
    sr = 48000
    t = np.arange(3 * sr) / sr
    y = {
        "constant": np.full(3 * sr, 0.5),
        "dc-offset-silence": 0.05 + 1e-5 * rng.standard_normal(3 * sr),
        "white": noise("white", 3 * sr, rng),
        "pink": noise("pink", 3 * sr, rng),
        "tone": 0.3 * np.sin(2 * np.pi * 440 * t),
    }[kind]
    data = sf_bytes(y.astype(np.float32), sr, subtype="FLOAT")
    with pytest.raises(audio.NoSpeechError, match=rf"^no speech detected in {kind}\.wav"):
        audio.load(data, name=f"{kind}.wav")
    with pytest.raises(audio.NoSpeechError, match=r"^no speech detected in <array>"):
        audio.prepare(y, sr)


def test_dc_offset_is_removed(emodb_root):
    y, sr = audio.decode(emodb_root / "wav" / "03a01Wa.wav")  # angry
    clean = audio.prepare(y, sr)
    np.testing.assert_allclose(audio.prepare(y + 0.05, sr), clean, atol=2e-4)
    assert abs(float(clean.mean())) < 1e-3
    # remove_dc=False: the preparation of results computed before DC removal existed.
    kept = audio.prepare(y + 0.05, sr, AudioOptions(remove_dc=False, normalize=False, trim=False))
    assert float(kept.mean()) == pytest.approx(0.05 + float(y.mean()), abs=2e-3)


def test_the_model_says_no_speech_for_constant_audio_and_noise(rng):
    """The loaded model: what the dashboard showed as "sad 0.993" and "fear 0.975"."""
    from serwidgets.model import load_model

    model = load_model()
    sr = 48000
    for name, y in [("constant", np.full(sr, 0.5)), ("white noise", noise("white", 3 * sr, rng))]:
        data = sf_bytes(y.astype(np.float32), sr, subtype="FLOAT")
        with pytest.raises(audio.NoSpeechError, match="no speech detected"):
            model.analyze(data)
        with pytest.raises(audio.NoSpeechError, match="no speech detected"):
            model.analyze(y.astype(np.float32), sr)


# ----------------------------------------------------------------------------- corpus runs


@pytest.fixture
def table_with_bad_files(emodb_root, tmp_path):
    """30 real EmoDB clips (3 speakers, 3 emotions), plus an empty file and a corrupt one."""
    from serwidgets import corpora

    df = corpora.load_corpus("emodb", emodb_root)
    df = df[df["speaker"].isin(["emodb:03", "emodb:08", "emodb:10"])
            & df["emotion"].isin(["angry", "neutral", "sad"])]
    df = df.groupby("speaker", group_keys=False).head(10).reset_index(drop=True)
    assert len(df) == 30
    empty, corrupt = tmp_path / "empty.wav", tmp_path / "corrupt.wav"
    empty.write_bytes(b"")
    corrupt.write_bytes(Path(df["path"][0]).read_bytes()[:30])  # a truncated header
    bad = df.iloc[[0, 1]].assign(path=[str(empty), str(corrupt)])
    return pd.concat([df, bad], ignore_index=True)


def test_feature_scans_skip_unusable_files_and_count_them(table_with_bad_files, tmp_path, capsys):
    from serwidgets import cache, inputs

    df = table_with_bad_files.iloc[[0, 1, 30, 31]].reset_index(drop=True)
    specs = cache.cached_features(df, cache_dir=tmp_path / "cache", progress=False)
    assert [s is None for s in specs] == [False, False, True, True]
    assert specs.skipped_counts() == {"CorruptAudioError": 1, "EmptyAudioError": 1}
    assert set(specs.skipped) == set(df["path"][2:])
    assert "skipped 2 of 4 files" in capsys.readouterr().err
    waves = inputs.load_inputs(df.assign(snr_db=10.0), "waveform")  # the noisy, uncached path
    assert [w is None for w in waves] == [False, False, True, True]
    assert cache.count_causes(waves.skipped) == {"CorruptAudioError": 1, "EmptyAudioError": 1}


def test_evaluate_drops_unusable_files_and_records_them(table_with_bad_files, tmp_path, monkeypatch, capsys):
    from serwidgets import evaluate, labels, results
    from serwidgets.baseline import BaselineClassifier

    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    result = evaluate.evaluate(table_with_bad_files, BaselineClassifier(labels.task_labels("emodb7")),
                               evaluate.Protocol("loso"), task="emodb7", log=print)
    assert result.skipped_files == {"CorruptAudioError": 1, "EmptyAudioError": 1}
    assert result.n_clips == 30 and result.metrics["n"] == 30 and len(result.predictions.truth) == 30
    assert result.n_folds == 3
    assert "skipped 2 of 32 files that cannot be used" in capsys.readouterr().err
    _, md = results.write_results(result, "with-bad-files", tmp_path / "results")
    assert "Files skipped because they cannot be used: CorruptAudioError 1, EmptyAudioError 1." in md.read_text()


@pytest.mark.parametrize("format, subtype", [("WAV", "PCM_16"), ("FLAC", None), ("OGG", "VORBIS")])
def test_damaged_headers_raise_only_audio_errors(format, subtype):
    """Random damage to the first 80 bytes (and truncation): decoded, or a typed AudioError."""
    good = sf_bytes(synthetic_voice(0.5, 16000), 16000, format, subtype)
    rng = np.random.default_rng(12)
    for _ in range(60):
        bad = bytearray(good)
        for _ in range(rng.integers(1, 4)):
            bad[rng.integers(0, 80)] = rng.integers(0, 256)
        if rng.random() < 0.3:
            bad = bad[: rng.integers(4, len(bad))]
        try:
            audio.load(bytes(bad), name="damaged")
        except audio.AudioError as error:
            assert "damaged" in str(error)


# ----------------------------------------------------------------------------- issue 20: loose ends


@pytest.mark.parametrize("channels", [1, 2])
def test_float32_extremes_are_an_audio_error_naming_the_input(channels):
    # float32's largest values: removing the DC offset (or mixing channels) overflowed to inf,
    # and trimming then failed with a bare IndexError.
    top = np.finfo(np.float32).max
    y = np.full((16000, channels), top, np.float32)
    y[::3] = -top
    with pytest.raises(audio.AudioError, match=r"^loud\.wav: samples reach 3\.4e\+38"):
        audio.prepare(y, 16000, name="loud.wav")
    with pytest.raises(audio.AudioError, match=r"^<bytes>: samples reach"):
        audio.load(sf_bytes(y, 16000, subtype="FLOAT"))


def test_float_audio_at_integer_scale_is_still_analysed():
    # Unscaled int16 or int32 PCM in a float array stays usable, as before (loudness is normalised).
    voice = synthetic_voice(1.0, 16000)
    for scale in (32767.0, 2.0**31 - 1):
        y = audio.prepare(voice * np.float32(scale), 16000, NO_TRIM)
        np.testing.assert_allclose(y, audio.prepare(voice, 16000, NO_TRIM), rtol=1e-4, atol=1e-5)


def test_feature_extraction_skips_float32_extremes_as_unusable(tmp_path):
    # What `ser evaluate` does with every file: an unusable one is skipped and counted, not fatal.
    from serwidgets import cache

    top = np.finfo(np.float32).max
    y = np.full(16000, top, np.float32)
    y[::3] = -top
    loud = tmp_path / "loud.wav"
    sf.write(loud, y, 16000, subtype="FLOAT")
    good = tmp_path / "good.wav"
    sf.write(good, synthetic_voice(1.0, 16000), 16000)
    specs = cache.cached_features([str(good), str(loud)], cache_dir=tmp_path / "cache", report=False)
    assert specs[0] is not None and specs[1] is None
    assert list(specs.skipped) == [str(loud)] and isinstance(specs.skipped[str(loud)], audio.AudioError)


@pytest.mark.parametrize("make, reason", [
    (lambda tmp: tmp / "missing.wav", "no such file"),
    (lambda tmp: tmp, "a folder, not an audio file"),
], ids=["missing", "folder"])
def test_a_path_that_is_not_a_file_is_a_typed_error_naming_it(tmp_path, make, reason):
    path = make(tmp_path)
    for call in (audio.load, audio.decode):
        with pytest.raises(audio.UnreadableFileError) as info:
            call(path)
        assert str(info.value) == f"{path}: {reason}"
        assert isinstance(info.value, audio.AudioError) and isinstance(info.value, OSError)


@pytest.mark.parametrize("sr", [0, -16000, "16000", None, float("nan"), True], ids=repr)
def test_a_bad_sample_rate_is_a_typed_error_naming_the_input(sr):
    voice = synthetic_voice(1.0, 16000)
    with pytest.raises(audio.AudioError, match=rf"^clip\.wav: the sample rate must be a positive number of Hz, got {sr!r}$"):
        audio.prepare(voice, sr, name="clip.wav")
    with pytest.raises(audio.AudioError, match=r"^<array>: the sample rate"):
        audio.prepare(voice, sr)
