"""Utterance functionals: numpy statistics, openSMILE (in its worker process), speaker_norm,
the feature cache's keys, the features of one table row."""

from __future__ import annotations

import numpy as np
import pytest

from serwidgets import functionals
from serwidgets.audio import TARGET_SR, AudioOptions
from serwidgets.features import FeatureConfig
from serwidgets.functionals import FEATURE_SETS, opensmile_functionals, speaker_norm, utterance_features


def test_speaker_norm_standardises_each_speaker(rng):
    X = np.r_[rng.normal(5, 2, (6, 3)), rng.normal(-40, 9, (4, 3))]
    speakers = np.array(["a"] * 6 + ["b"] * 4)
    Z = speaker_norm(X, speakers)
    for s in "ab":
        np.testing.assert_allclose(Z[speakers == s].mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(Z[speakers == s].std(0), 1, atol=1e-12)
    # A feature that is constant for a speaker stays finite (zero).
    X[:6, 0] = 3.0
    assert np.isfinite(speaker_norm(X, speakers)).all()
    with pytest.raises(ValueError, match="b has 1"):
        speaker_norm(X[:7], speakers[:7])


def test_utterance_features_are_finite_and_fixed_length(rng):
    short, long = (0.1 * rng.standard_normal(n).astype(np.float32) for n in (TARGET_SR // 4, 5 * TARGET_SR // 2))
    a, b = utterance_features(short), utterance_features(long)
    assert a.shape == b.shape == (425,) and np.isfinite(a).all() and np.isfinite(b).all()
    assert not np.allclose(a, b)


@pytest.mark.parametrize("feature_set, size", [("compare", 6373), ("egemaps", 88)])
def test_opensmile_functionals_of_a_real_clip(emodb3, feature_set, size):
    from serwidgets import audio

    y = audio.load(emodb3["path"].iloc[0])
    values = opensmile_functionals(y, feature_set)
    assert values.shape == (size,) and values.dtype == np.float32 and np.isfinite(values).all()
    # Not a constant vector: the clip's content is in it, and another clip differs.
    other = opensmile_functionals(audio.load(emodb3["path"].iloc[1]), feature_set)
    assert values.std() > 0 and not np.allclose(values, other)


def test_opensmile_sr_keyword(emodb3):
    from serwidgets import audio

    y = audio.load(emodb3["path"].iloc[0])
    new = opensmile_functionals(y, "egemaps", sr=TARGET_SR)
    np.testing.assert_array_equal(functionals.clip_functionals(y, "egemaps"), new)
    # The rate matters: the same samples read as 8 kHz give other functionals.
    assert not np.allclose(opensmile_functionals(y, "egemaps", sr=TARGET_SR // 2), new)
    with pytest.raises(TypeError, match="sample_rate"):
        opensmile_functionals(y, "egemaps", sample_rate=TARGET_SR)   # one name: sr
    with pytest.raises(ValueError, match="feature_set"):
        opensmile_functionals(y, "mfcc")


def test_a_crashed_opensmile_worker_is_replaced(emodb3):
    import os
    import signal

    from serwidgets import audio

    y = audio.load(emodb3["path"].iloc[0])
    first = opensmile_functionals(y, "egemaps")
    # Kill the worker as a native abort would; the next call starts a fresh one.
    for pid in list(functionals._smile_worker._pool._processes):
        os.kill(pid, signal.SIGKILL)
    np.testing.assert_array_equal(opensmile_functionals(y, "egemaps"), first)


def test_cache_keys_name_each_feature_set(tmp_path):
    """The feature cache names an entry by its function: one key per feature set."""
    from serwidgets import cache

    described = {name: cache.config_key(FeatureConfig(), AudioOptions(), compute)[1]["compute"]
                 for name, compute in FEATURE_SETS.items()}
    assert described == {"stats": "serwidgets.functionals._stats_of_file",
                         "compare": "serwidgets.functionals._compare_of_file",
                         "egemaps": "serwidgets.functionals._egemaps_of_file"}


def test_row_functionals_are_the_clip_functionals_of_the_prepared_waveform(emodb3, tmp_path):
    from serwidgets import audio

    path = emodb3["path"].iloc[0]
    clean = functionals.row_functionals(path, float("nan"), None, 0, "stats", FeatureConfig(), AudioOptions(),
                                        str(tmp_path))
    np.testing.assert_allclose(clean, functionals.clip_functionals(audio.load(path)), rtol=1e-6)
    noisy = functionals.row_functionals(path, 0.0, "white", 0, "stats", FeatureConfig(), AudioOptions(), str(tmp_path))
    assert not np.allclose(noisy, clean)
    (tmp_path / "empty.wav").write_bytes(b"")
    empty = functionals.row_functionals(str(tmp_path / "empty.wav"), float("nan"), None, 0, "stats",
                                        FeatureConfig(), AudioOptions(), str(tmp_path))
    assert isinstance(empty, audio.EmptyAudioError)   # returned, not raised: the caller skips the row
