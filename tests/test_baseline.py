"""The baseline classifier on real EmoDB speakers: scikit-learn conventions (parameters, clone,
fitted attributes), the nested choice of C, speaker normalisation, the feature cache, saving."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from serwidgets import splits, train
from serwidgets.audio import AudioOptions
from serwidgets.baseline import AUTO_C, BaselineClassifier
from serwidgets.features import FeatureConfig
from serwidgets.functionals import FEATURE_SETS

from tests.conftest import EMODB3_TASK as TASK


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("baseline-features")


def accuracy(clf, df):
    return np.mean(clf.predict_proba(df).argmax(1) == df["emotion"].map(TASK.index).to_numpy())


def test_parameters_are_stored_as_given_and_checked_by_fit(emodb3):
    clf = BaselineClassifier(TASK, feature_set="mfcc")  # stored, not checked yet (scikit-learn style)
    assert clf.get_params()["feature_set"] == "mfcc"
    with pytest.raises(ValueError, match="feature_set must be one of"):
        clf.fit(emodb3)
    with pytest.raises(ValueError, match="logistic regression only"):
        BaselineClassifier(TASK, estimator="svm", C="auto").fit(emodb3)
    with pytest.raises(ValueError, match="estimator must be"):
        BaselineClassifier(TASK, estimator="tree").fit(emodb3)
    assert BaselineClassifier(TASK).C is None
    assert BaselineClassifier(TASK).to_recipe()["C"] == 0.1
    assert BaselineClassifier(TASK, feature_set="egemaps").to_recipe()["C"] == "auto"
    with pytest.raises(RuntimeError, match="fit the classifier"):
        BaselineClassifier(TASK).predict_proba(emodb3)


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(emodb3, cache_dir):
    clf = BaselineClassifier(TASK, feature_set="egemaps", C=0.01, cache_dir=cache_dir).fit(emodb3)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert hasattr(clf, "pipeline_") and not hasattr(copy, "pipeline_") and not hasattr(copy, "classes_")
    assert clf.classes_ == TASK and clf.C_ == 0.01


def test_the_recipe_makes_the_same_classifier_again():
    clf = BaselineClassifier(TASK, estimator="svm", C=1.0, feature_set="compare", speaker_norm=True)
    assert clf.to_recipe() == {"feature_set": "compare", "estimator": "svm", "C": 1.0, "speaker_norm": True,
                               "seed": 0}
    again = BaselineClassifier.from_recipe(TASK, clf.to_recipe(), cache_dir="x")
    assert again.get_params() == {**clf.get_params(), "cache_dir": "x"}


def test_auto_C_is_chosen_on_training_speakers_only(emodb3, cache_dir, monkeypatch):
    fold = next(splits.loso(emodb3))
    seen = []
    original = BaselineClassifier._choose

    def spy(self, candidates, fit_predict, y, speakers, n_folds):
        seen.append(set(speakers))
        return original(self, candidates, fit_predict, y, speakers, n_folds)

    monkeypatch.setattr(BaselineClassifier, "_choose", spy)
    clf = train.fit_split(BaselineClassifier(TASK, feature_set="egemaps", cache_dir=cache_dir), emodb3, fold)
    assert clf.C_ in AUTO_C and clf.chosen_ == {"C": clf.C_} and set(clf.cv_scores_) == set(AUTO_C)
    assert clf.cv_scores_[clf.C_] == max(clf.cv_scores_.values())
    test_speakers = set(emodb3.iloc[fold.test]["speaker"])
    assert seen == [set(emodb3.iloc[fold.train]["speaker"])] and not seen[0] & test_speakers
    # An unseen speaker, 3 classes: well above chance (1/3).
    assert accuracy(clf, emodb3.iloc[fold.test]) > 0.6


def test_features_are_cached_on_disk_by_feature_set(emodb3, cache_dir):
    from serwidgets import cache

    rows = emodb3.iloc[:3]
    clf = BaselineClassifier(TASK, feature_set="egemaps", cache_dir=cache_dir)
    X = clf._features(rows)
    key, description = cache.config_key(FeatureConfig(), AudioOptions(), FEATURE_SETS["egemaps"])
    entries = sorted((cache_dir / key).rglob("*.npy"))
    assert description["compute"].endswith("_egemaps_of_file") and len(entries) >= 3
    digest = cache.file_sha256(rows["path"].iloc[0])
    np.testing.assert_array_equal(np.load(cache_dir / key / digest[:2] / f"{digest}.npy"), X[0])
    stats_key, _ = cache.config_key(FeatureConfig(), AudioOptions(), FEATURE_SETS["stats"])
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


@pytest.mark.parametrize("feature_set", ["stats", "egemaps"])
def test_baseline_bundle_holds_the_fitted_arrays(emodb3, cache_dir, tmp_path, feature_set):
    """The bundle's arrays predict what the classifier predicts (standardise, then softmax of the logits)."""
    from serwidgets.card import Card

    fold = next(splits.loso(emodb3))
    clf = train.fit_split(BaselineClassifier(TASK, feature_set=feature_set, C=0.01, cache_dir=cache_dir),
                          emodb3, fold)
    test = emodb3.iloc[fold.test]
    card = Card.read(clf.save(tmp_path / "b", task="emodb3", metrics={"UA": 0.5}))
    assert (card.kind, card.feature_set, card.labels, card.metrics) == ("baseline", feature_set, TASK, {"UA": 0.5})
    assert card.training["chosen"] == {"C": 0.01} and card.training["speakers"] == 3
    arrays = np.load(tmp_path / "b" / "baseline.npz")
    logits = (clf._features(test) - arrays["mean"]) / arrays["scale"] @ arrays["coef"].T + arrays["intercept"]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(test), expected / expected.sum(1, keepdims=True), atol=1e-6)
    with pytest.raises(NotImplementedError, match="speaker"):
        BaselineClassifier(TASK, feature_set=feature_set, speaker_norm=True, C=0.01,
                           cache_dir=cache_dir).fit(emodb3).save(tmp_path / "c", task="emodb3")
