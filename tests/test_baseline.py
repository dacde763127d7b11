"""The baseline's feature sets (numpy statistics, openSMILE functionals), speaker normalisation,
the nested choice of C, and the feature cache -- on real EmoDB speakers."""

from __future__ import annotations

import numpy as np
import pytest

from serwidgets import splits, train
from serwidgets.baseline import (AUTO_C, FEATURE_SETS, BaselineClassifier, opensmile_functionals,
                                 speaker_normalize)

from tests.conftest import EMODB3_TASK as TASK


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("baseline-features")


def accuracy(clf, df):
    return np.mean(clf.predict_proba(df).argmax(1) == df["emotion"].map(TASK.index).to_numpy())


def test_speaker_normalize_standardises_each_speaker(rng):
    X = np.r_[rng.normal(5, 2, (6, 3)), rng.normal(-40, 9, (4, 3))]
    speakers = np.array(["a"] * 6 + ["b"] * 4)
    Z = speaker_normalize(X, speakers)
    for s in "ab":
        np.testing.assert_allclose(Z[speakers == s].mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(Z[speakers == s].std(0), 1, atol=1e-12)
    # A feature that is constant for a speaker stays finite (zero).
    X[:6, 0] = 3.0
    assert np.isfinite(speaker_normalize(X, speakers)).all()
    with pytest.raises(ValueError, match="b has 1"):
        speaker_normalize(X[:7], speakers[:7])


@pytest.mark.parametrize("feature_set, size", [("compare", 6373), ("egemaps", 88)])
def test_opensmile_functionals_of_a_real_clip(emodb3, feature_set, size):
    from serwidgets import audio

    y = audio.load(emodb3["path"].iloc[0])
    values = opensmile_functionals(y, feature_set)
    assert values.shape == (size,) and values.dtype == np.float32 and np.isfinite(values).all()
    # Not a constant vector: the clip's content is in it, and another clip differs.
    other = opensmile_functionals(audio.load(emodb3["path"].iloc[1]), feature_set)
    assert values.std() > 0 and not np.allclose(values, other)


def test_unknown_options_are_refused():
    with pytest.raises(ValueError, match="feature_set must be one of"):
        BaselineClassifier(TASK, feature_set="mfcc")
    with pytest.raises(ValueError, match="logistic regression only"):
        BaselineClassifier(TASK, classifier="svm", C="auto")
    assert BaselineClassifier(TASK).C == 0.1 and BaselineClassifier(TASK, feature_set="egemaps").C == "auto"


def test_auto_C_is_chosen_on_training_speakers_only(emodb3, cache_dir, monkeypatch):
    fold = next(splits.loso(emodb3))
    seen = []
    original = BaselineClassifier._choose_C

    def spy(self, X, y, speakers):
        seen.append(set(speakers))
        return original(self, X, y, speakers)

    monkeypatch.setattr(BaselineClassifier, "_choose_C", spy)
    clf = train.fit_split(BaselineClassifier(TASK, feature_set="egemaps", cache_dir=cache_dir), emodb3, fold)
    assert clf.chosen_C in AUTO_C
    test_speakers = set(emodb3.iloc[fold.test]["speaker"])
    assert seen == [set(emodb3.iloc[fold.train]["speaker"])] and not seen[0] & test_speakers
    # An unseen speaker, 3 classes: well above chance (1/3).
    assert accuracy(clf, emodb3.iloc[fold.test]) > 0.6


def test_features_are_cached_on_disk_by_feature_set(emodb3, cache_dir):
    from serwidgets import cache

    rows = emodb3.iloc[:3]
    clf = BaselineClassifier(TASK, feature_set="egemaps", cache_dir=cache_dir)
    X = clf._features(rows)
    key, description = cache.config_key(clf.feature_config, clf.audio_options, FEATURE_SETS["egemaps"])
    entries = sorted((cache_dir / key).rglob("*.npy"))
    assert description["compute"].endswith("_egemaps_of_file") and len(entries) >= 3
    digest = cache.file_sha256(rows["path"].iloc[0])
    np.testing.assert_array_equal(np.load(cache_dir / key / digest[:2] / f"{digest}.npy"), X[0])
    stats_key, _ = cache.config_key(clf.feature_config, clf.audio_options, FEATURE_SETS["stats"])
    assert stats_key != key


def test_speaker_normalisation_is_applied_per_table_and_needs_several_clips(emodb3, cache_dir):
    fold = next(splits.loso(emodb3))
    test = emodb3.iloc[fold.test]
    plain = train.fit_split(BaselineClassifier(TASK, feature_set="egemaps", C=0.01, cache_dir=cache_dir),
                            emodb3, fold)
    normed = train.fit_split(BaselineClassifier(TASK, feature_set="egemaps", C=0.01, speaker_norm=True,
                                                cache_dir=cache_dir), emodb3, fold)
    assert accuracy(normed, test) > 0.6
    assert not np.allclose(plain.predict_proba(test), normed.predict_proba(test))
    # The test speaker's statistics come from the clips passed in: one clip is not enough.
    with pytest.raises(ValueError, match="several clips"):
        normed.predict_proba(test.iloc[:1])


def test_a_crashed_opensmile_worker_is_replaced(emodb3):
    import os
    import signal

    from serwidgets import audio, baseline

    y = audio.load(emodb3["path"].iloc[0])
    first = opensmile_functionals(y, "egemaps")
    # Kill the worker as a native abort would; the next call starts a fresh one.
    for pid in list(baseline._smile_worker._pool._processes):
        os.kill(pid, signal.SIGKILL)
    np.testing.assert_array_equal(opensmile_functionals(y, "egemaps"), first)


@pytest.mark.parametrize("feature_set", ["stats", "egemaps"])
def test_baseline_save_load_predict_round_trip(emodb3, cache_dir, tmp_path, feature_set):
    fold = next(splits.loso(emodb3))
    clf = train.fit_split(BaselineClassifier(TASK, feature_set=feature_set, C=0.01, cache_dir=cache_dir),
                          emodb3, fold)
    test = emodb3.iloc[fold.test]
    loaded = BaselineClassifier.load(clf.save(tmp_path / "b"), cache_dir=cache_dir)
    assert loaded.recipe == clf.recipe and loaded.labels == clf.labels
    np.testing.assert_allclose(loaded.predict_proba(test), clf.predict_proba(test), rtol=0, atol=1e-12)
    with pytest.raises(NotImplementedError, match="speaker"):
        BaselineClassifier(TASK, feature_set=feature_set, speaker_norm=True, C=0.01,
                           cache_dir=cache_dir).fit(emodb3).save(tmp_path / "c")
