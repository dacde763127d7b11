"""Training on a small real EmoDB subset: round trips, the leakage guard, noisy inputs, bundles."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn.base import clone

from serwidgets import corpora, labels, splits, train
from serwidgets.baseline import BaselineClassifier

TINY = train.Recipe(net_kwargs={"filters": [4, 4, 8, 8], "lstm_units": 8}, epochs=2, val_speakers=1)
SPEAKERS = ["emodb:03", "emodb:08", "emodb:09"]


@pytest.fixture(scope="module")
def emodb6(emodb_root):
    df = labels.select_task(corpora.load_corpus("emodb", emodb_root), "emotion6")
    return df[df["speaker"].isin(SPEAKERS)].reset_index(drop=True)


@pytest.fixture(scope="module")
def fold(emodb6):
    return next(splits.loso(emodb6))


@pytest.fixture
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "features"


def check_probabilities(p, n, k):
    assert p.shape == (n, k)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_cnn_round_trip(emodb6, fold, cache_dir):
    clf = train.NetClassifier(labels.TASKS["emotion6"], TINY, cache_dir=cache_dir, verbose=0)
    train.fit_split(clf, emodb6, fold)
    assert 1 <= len(clf.history_["loss"]) <= TINY.epochs
    assert "val_loss" in clf.history_ and clf.classes_ == labels.TASKS["emotion6"]
    # One of the two training speakers held out for early stopping, by the classifier itself.
    training_speakers = set(emodb6.iloc[fold.train]["speaker"])
    (held_out,) = clf.validation_speakers_
    assert held_out in training_speakers and held_out not in set(emodb6.iloc[fold.test]["speaker"])
    assert clf.chosen_["n_val"] == (emodb6["speaker"] == held_out).sum()
    assert clf.chosen_["best_epoch"] in range(1, TINY.epochs + 1) and clf.chosen_["epochs_run"] == len(clf.history_["loss"])
    test = emodb6.iloc[fold.test]
    p = clf.predict_proba(test)
    check_probabilities(p, len(test), 6)
    # Training is deterministic: an unfitted clone trains the same network again.
    again = train.fit_split(clone(clf), emodb6, fold)
    np.testing.assert_array_equal(again.predict_proba(test), p)


@pytest.mark.slow
def test_waveform_cnn_round_trip(emodb6, fold):
    recipe = train.Recipe(net="zhao2019_1d", net_kwargs=TINY.net_kwargs, epochs=1)
    clf = train.NetClassifier(labels.TASKS["emotion6"], recipe, verbose=0)
    assert clf.input_shape == (48000,)
    clf.fit(emodb6.iloc[fold.train[::4]])
    test = emodb6.iloc[fold.test[:8]]
    check_probabilities(clf.predict_proba(test), len(test), 6)


def test_baseline_round_trip(emodb6, fold):
    clf = train.fit_split(BaselineClassifier(labels.TASKS["emotion6"], "logreg"), emodb6, fold)
    test = emodb6.iloc[fold.test]
    p = clf.predict_proba(test)
    check_probabilities(p, len(test), 6)
    # Far from perfect, but well above chance (1/6) on an unseen speaker.
    assert np.mean(p.argmax(1) == test["emotion"].map(labels.TASKS["emotion6"].index)) > 0.3


def test_net_classifier_stores_its_parameters_as_given():
    clf = train.NetClassifier(labels.TASKS["emotion6"], TINY, verbose=0)
    params = clf.get_params()
    assert params["recipe"] is TINY and params["feature_config"] is None and params["verbose"] == 0
    copy = clone(clf)
    assert copy.recipe == TINY and copy.get_params().keys() == params.keys()
    assert not hasattr(clf, "network_") and not hasattr(clf, "classes_")
    assert train.NetClassifier(("a", "b")).input_shape == (64, 188)
    assert train.NetClassifier(("a", "b"), train.Recipe(net="zhao2019_1d")).kind == "waveform"
    with pytest.raises(RuntimeError, match="fit the classifier"):
        clf.predict_proba(None)


class MustNotFit:
    def fit(self, *args):
        raise AssertionError("fit was called on a leaking split")


def test_fit_split_calls_the_leakage_guard(emodb6, fold):
    shared_speaker = splits.Split("bad", train=fold.train, test=np.r_[fold.test, fold.train[:1]])
    with pytest.raises(splits.LeakageError, match="speaker"):
        train.fit_split(MustNotFit(), emodb6, shared_speaker)
    # Validation rows are the classifier's own business.
    with pytest.raises(ValueError, match="validation rows"):
        train.fit_split(MustNotFit(), emodb6, splits.Split("with validation", train=fold.train[2:],
                                                           test=fold.test, val=fold.train[:2]))


@pytest.mark.slow
def test_a_saved_network_is_a_bundle_whose_card_says_how_it_was_trained(emodb6, tmp_path, cache_dir):
    from serwidgets.card import Card

    clf = train.NetClassifier(labels.TASKS["emotion6"], train.Recipe(net_kwargs=TINY.net_kwargs, epochs=1,
                                                                     val_speakers=1), cache_dir=cache_dir, verbose=0)
    clf.fit(emodb6).save(tmp_path / "b", task="emotion6", metrics={"UA": 0.5})
    card = Card.read(tmp_path / "b")
    assert card.labels == labels.TASKS["emotion6"] and card.metrics == {"UA": 0.5}
    assert card.training["chosen"]["n_val"] == clf.chosen_["n_val"] > 0
    assert card.training["speakers"] == 3 and card.training["recipe"]["val_speakers"] == 1
    assert set(card.files) >= {"model.keras", "model.tflite"}


def test_ser_train_fits_saves_and_puts_its_cross_validation_into_the_card(emodb6, tmp_path, monkeypatch, capsys):
    from serwidgets.card import BaselineCard
    from serwidgets.cli import main
    from serwidgets.cli import train as cli_train
    from serwidgets.results import load_results

    monkeypatch.setattr(cli_train, "load_table", lambda args: emodb6)
    assert main(["train", "--classifier", "baseline", "--task", "emotion6", "--out", str(tmp_path / "b"),
                 "--cv-folds", "3", "--results", str(tmp_path / "results")]) == 0
    card = BaselineCard.read(tmp_path / "b")
    (result,) = load_results(tmp_path / "results")
    assert result.name == "b-kfold3" and result.protocol == "speaker-kfold" and result.n_folds == 3
    assert card.metrics["UA"] == result.metrics["UA"] and card.metrics["results_file"] == "results/b-kfold3.json"
    assert card.training["recipe"] == result.recipe and card.training["speakers"] == 3
    assert card.description == "stats functionals + logistic regression, trained on emodb for emotion6"
    assert "card updated" in capsys.readouterr().out
