"""The classifier contract: the nested choices pick the best candidate, the head cache is keyed by
everything that changes a fit, and a saved classifier loads as a model that predicts what it did."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from serwidgets import cache, embedding_classifier, embeddings
from serwidgets.audio import AudioOptions
from serwidgets.baseline import BaselineClassifier
from serwidgets.classifier import Classifier
from serwidgets.embedding_classifier import EmbeddingClassifier

from tests.conftest import EMODB3_TASK as TASK


class _Fixed(Classifier):
    name = "fixed"

    def __init__(self, labels=TASK):
        self.labels = labels


def test_choose_picks_the_best_candidate_whatever_its_place():
    """Three candidates on 4 speakers: one predicts the truth, one a constant, one the truth shifted."""
    y = np.tile([0, 1, 2], 8)
    speakers = np.repeat(["a", "b", "c", "d"], 6)
    predictors = {"constant": lambda test: np.zeros(len(test), int), "right": lambda test: y[test],
                  "shifted": lambda test: (y[test] + 1) % 3}
    for order in (["constant", "right", "shifted"], ["shifted", "constant", "right"], ["right", "shifted", "constant"]):
        best, scores = _Fixed()._choose(order, lambda c, train, test: predictors[c](test), y, speakers, n_folds=3)
        assert best == "right" and scores == {"right": 1.0, "constant": pytest.approx(1 / 3), "shifted": 0.0}


def test_choose_fits_on_training_speakers_and_scores_the_others():
    y = np.tile([0, 1], 10)
    speakers = np.repeat(list("abcde"), 4)
    seen = []

    def fit_predict(candidate, train, test):
        seen.append((set(speakers[train]), set(speakers[test])))
        return y[test]

    _Fixed()._choose([1], fit_predict, y, speakers, n_folds=5)
    assert len(seen) == 5 and all(not train & test for train, test in seen)
    assert set().union(*(test for _, test in seen)) == set("abcde")


def _states(n_speakers=6, clips=24, seed=0):
    """Pooled states (n, 4, 1024) where only state 3 carries the emotion the same way for everyone.

    State 1 carries it too, but its direction flips from speaker to speaker (a cue that does not
    generalise to a new voice); state 2 is noise.
    """
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(3), n_speakers * clips // 3)
    speakers = np.repeat([f"s{i}" for i in range(n_speakers)], clips)
    X = rng.normal(size=(len(y), 4, 1024))
    centres = rng.normal(size=(3, 1024))
    X[:, 3] += 0.15 * centres[y]
    flip = np.where(np.arange(n_speakers) % 2, 1.0, -1.0)[np.repeat(np.arange(n_speakers), clips)]
    X[:, 1] += 0.6 * flip[:, None] * centres[y]
    df = pd.DataFrame({"emotion": np.array(TASK)[y], "speaker": speakers, "corpus": "toy",
                       "path": [f"{i}.wav" for i in range(len(y))]})
    return X, df


def test_the_head_chooses_the_states_that_carry_emotion_across_speakers():
    X, df = _states()
    clf = EmbeddingClassifier(TASK, layers="auto", balance=None).fit_features(X, df)
    scores = {layers: clf.cv_scores_[f"{list(layers)} C=0.01"] for layers in embedding_classifier.AUTO_LAYERS}
    assert clf.layers_ == (3,), scores
    assert scores[(3,)] > scores[(1, 2, 3)] + 0.05 and scores[(3,)] > scores[(2,)] + 0.3


# -- the head cache ------------------------------------------------------------------------------------

@pytest.fixture
def rows(emodb3):
    return emodb3[emodb3["speaker"].isin(["emodb:03", "emodb:08"])].groupby(["speaker", "emotion"]).head(2)


def test_identical_classifiers_share_their_fitted_heads(rows):
    a = EmbeddingClassifier(TASK).fit(rows)
    b = clone(a).fit(rows)
    assert b.global_head_ is a.global_head_  # memoised: the same objects
    c = EmbeddingClassifier(TASK, C=0.1).fit(rows)
    assert c.global_head_ is not a.global_head_ and not np.allclose(c.global_head_.coef, a.global_head_.coef)
    d = EmbeddingClassifier(TASK).fit(rows.iloc[1:])
    assert d.global_head_ is not a.global_head_


def test_classifiers_differing_in_audio_options_or_cached_states_do_not_share_heads(rows, tmp_path):
    a = EmbeddingClassifier(TASK, cache_dir=tmp_path).fit(rows)
    other_audio = EmbeddingClassifier(TASK, audio_options=AudioOptions(trim_db=30.0), cache_dir=tmp_path).fit(rows)
    assert other_audio.global_head_ is not a.global_head_
    assert not np.allclose(other_audio.global_head_.mean, a.global_head_.mean)
    # The same parameters, but the cache now holds other states for one clip: fitted again, on them.
    key, _ = cache.config_key(embeddings.embedding_config(), AudioOptions(), embeddings.embed_file)
    entry = sorted((tmp_path / key).rglob("*.npy"))[0]
    np.save(entry, np.load(entry) + 1.0)
    again = EmbeddingClassifier(TASK, cache_dir=tmp_path).fit(rows)
    assert again.global_head_ is not a.global_head_
    assert not np.allclose(again.global_head_.mean, a.global_head_.mean)


# -- save, then load_model ----------------------------------------------------------------------------

def test_a_saved_head_loads_as_a_model_that_predicts_what_the_classifier_did(rows, emodb3, tmp_path):
    from serwidgets.card import EncoderHeadCard
    from serwidgets.model import load_model

    clf = EmbeddingClassifier(TASK).fit(rows)
    directory = clf.save(tmp_path / "head", task="emodb3", metrics={"UA": 0.5}, description="test")
    card = EncoderHeadCard.read(directory)
    assert (card.name, card.task, card.labels, card.description) == ("head", "emodb3", TASK, "test")
    assert card.training["clips"] == len(rows) and card.training["chosen"] == {"layers": [1, 2, 3], "C": 0.01}
    model = load_model(directory)
    clip = emodb3[emodb3["speaker"] == "emodb:16"].iloc[:1]
    expected = clf.predict_proba(clip)[0]
    np.testing.assert_allclose([model.predict_file(clip["path"].iloc[0])[k] for k in TASK], expected, atol=1e-5)


def test_a_saved_baseline_loads_as_a_model_that_predicts_what_the_classifier_did(rows, emodb3, tmp_path):
    from serwidgets.model import load_model

    clf = BaselineClassifier(TASK, C=0.1).fit(rows)
    model = load_model(clf.save(tmp_path / "baseline", task="emodb3"))
    clip = emodb3[emodb3["speaker"] == "emodb:16"].iloc[:1]
    expected = clf.predict_proba(clip)[0]
    np.testing.assert_allclose([model.predict_file(clip["path"].iloc[0])[k] for k in TASK], expected, atol=1e-5)
