from pathlib import Path

import numpy as np
import pytest

import fixtures_corpora as fx
from serwidgets import cache

FEATURES = {"n_mels": 8}
AUDIO = {"sample_rate": 16000}


class CountingCompute:
    """A stand-in feature function: the file's first bytes as floats; records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, path, feature_config, audio_options):
        self.calls.append(Path(path).name)
        data = np.frombuffer(Path(path).read_bytes()[:64], dtype=np.uint8)
        return data.astype(np.float32) * feature_config["n_mels"]


@pytest.fixture
def wavs(tmp_path):
    paths = [fx.write_wav(tmp_path / "audio" / f"{i}.wav", seconds=0.01 * (i + 1)) for i in range(3)]
    return [str(p) for p in paths]


def test_second_call_reads_from_disk(wavs, tmp_path):
    compute = CountingCompute()
    first = cache.cached_features(wavs, FEATURES, AUDIO, cache_dir=tmp_path / "c", compute=compute)
    assert compute.calls == ["0.wav", "1.wav", "2.wav"]
    again = cache.cached_features(wavs[::-1], FEATURES, AUDIO, cache_dir=tmp_path / "c", compute=compute)
    assert len(compute.calls) == 3  # nothing recomputed
    for a, b in zip(first, again[::-1]):
        np.testing.assert_array_equal(a, b)
    assert first[0].dtype == np.float32
    # No temporary files are left behind; one entry per file plus the config description.
    files = sorted(p.name for p in (tmp_path / "c").rglob("*") if p.is_file())
    assert not any(name.endswith(".tmp") for name in files)
    assert len(files) == 4 and "config.json" in files


def test_key_follows_bytes_and_configs(wavs, tmp_path):
    compute = CountingCompute()
    store = tmp_path / "c"
    cache.cached_features(wavs, FEATURES, AUDIO, cache_dir=store, compute=compute)
    cache.cached_features(wavs, {"n_mels": 16}, AUDIO, cache_dir=store, compute=compute)
    assert len(compute.calls) == 6  # new feature config: all recomputed
    cache.cached_features(wavs, FEATURES, {"sample_rate": 8000}, cache_dir=store, compute=compute)
    assert len(compute.calls) == 9  # new audio options too
    # Same bytes under another name: a cache hit.
    copy = Path(wavs[0]).with_name("renamed.wav")
    copy.write_bytes(Path(wavs[0]).read_bytes())
    cache.cached_features([str(copy)], FEATURES, AUDIO, cache_dir=store, compute=compute)
    assert len(compute.calls) == 9
    # Changed bytes: a miss.
    fx.write_wav(Path(wavs[0]), seconds=0.5)
    out = cache.cached_features(wavs[:1], FEATURES, AUDIO, cache_dir=store, compute=compute)
    assert len(compute.calls) == 10
    np.testing.assert_array_equal(out[0], CountingCompute()(wavs[0], FEATURES, AUDIO))


def test_damaged_entry_is_recomputed(wavs, tmp_path):
    compute = CountingCompute()
    expected = cache.cached_features(wavs[:1], FEATURES, AUDIO, cache_dir=tmp_path, compute=compute)
    (entry,) = tmp_path.rglob("*.npy")
    entry.write_bytes(b"\x93NUMPY truncated")
    out = cache.cached_features(wavs[:1], FEATURES, AUDIO, cache_dir=tmp_path, compute=compute)
    assert len(compute.calls) == 2
    np.testing.assert_array_equal(out[0], expected[0])
    np.testing.assert_array_equal(np.load(entry), expected[0])


def test_cache_dir_from_environment(wavs, tmp_path, monkeypatch):
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "env"))
    assert cache.default_cache_dir() == tmp_path / "env"
    cache.cached_features(wavs, FEATURES, AUDIO, compute=CountingCompute(), progress=False)
    assert len(list((tmp_path / "env").rglob("*.npy"))) == 3


def test_errors_name_the_file(wavs, tmp_path):
    def broken(path, feature_config, audio_options):
        raise ValueError("cannot decode")

    with pytest.raises(ValueError, match="cannot decode") as info:
        cache.cached_features(wavs, FEATURES, AUDIO, cache_dir=tmp_path, compute=broken)
    assert any(wavs[0] in note for note in info.value.__notes__)


def test_real_emodb_log_mels(emodb_root, tmp_path):
    from serwidgets import audio, corpora, features

    df = corpora.load_corpus("emodb", emodb_root).iloc[::53].head(10)
    config, options = features.FeatureConfig(), audio.AudioOptions()
    specs = cache.cached_features(df, config, options, cache_dir=tmp_path)
    assert len(specs) == 10 == len(list(tmp_path.rglob("*.npy")))
    for path, spec in zip(df["path"], specs):
        direct = features.log_mel(audio.load(path, options), config)
        # Not bit-equal: the cache computes with one BLAS thread, which changes summation order.
        np.testing.assert_allclose(spec, direct, rtol=1e-5, atol=1e-5)
        assert spec.shape[0] == config.n_mels and spec.dtype == np.float32
    again = cache.cached_features(list(df["path"]), config, options, cache_dir=tmp_path)
    for a, b in zip(specs, again):
        np.testing.assert_array_equal(a, b)
    # The default and an injected compute never share entries.
    assert cache.config_key(config, options)[0] != cache.config_key(config, options, compute=CountingCompute())[0]
