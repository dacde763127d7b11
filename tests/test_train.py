"""Training on a small real EmoDB subset: round trips, the leakage guard, noisy inputs, bundles."""

from __future__ import annotations

import numpy as np
import pytest

from serwidgets import augment, corpora, labels, splits, train
from serwidgets.baseline import BaselineClassifier, utterance_features

TINY = train.Recipe(net_kwargs={"filters": [4, 4, 8, 8], "lstm_units": 8}, epochs=2, val_speakers=1)
SPEAKERS = ["emodb:03", "emodb:08", "emodb:09"]


@pytest.fixture(scope="module")
def emodb6(emodb_root):
    df = labels.select_task(corpora.load_corpus("emodb", emodb_root), "emotion6")
    return df[df["speaker"].isin(SPEAKERS)].reset_index(drop=True)


@pytest.fixture(scope="module")
def fold(emodb6):
    return next(splits.loso(emodb6, val_speakers=1))


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
    assert 1 <= len(clf.history["loss"]) <= TINY.epochs
    assert "val_loss" in clf.history
    test = emodb6.iloc[fold.test]
    p = clf.predict_proba(test)
    check_probabilities(p, len(test), 6)
    # Training is deterministic: the same recipe and split train the same model again.
    again = train.fit_split(train.NetClassifier(labels.TASKS["emotion6"], TINY, cache_dir=cache_dir,
                                                verbose=0), emodb6, fold)
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


def test_utterance_features_are_finite_and_fixed_length(rng):
    short, long = (0.1 * rng.standard_normal(n).astype(np.float32) for n in (4000, 40000))
    a, b = utterance_features(short), utterance_features(long)
    assert a.shape == b.shape and np.isfinite(a).all() and np.isfinite(b).all()


class MustNotFit:
    def fit(self, *args):
        raise AssertionError("fit was called on a leaking split")


def test_fit_split_calls_the_leakage_guard(emodb6, fold):
    shared_speaker = splits.Split("bad", train=fold.train, test=np.r_[fold.test, fold.train[:1]])
    with pytest.raises(splits.LeakageError, match="speaker"):
        train.fit_split(MustNotFit(), emodb6, shared_speaker)


def test_noisy_copies_are_caught_by_the_guard(emodb6):
    leaky = train.with_noisy_copies(emodb6, 1, seed=0)
    assert len(leaky) == 2 * len(emodb6)
    assert (leaky["source"].iloc[len(emodb6):].to_numpy() == emodb6["path"].to_numpy()).all()
    with pytest.raises(splits.LeakageError, match="source"):
        splits.check_leakage(leaky, splits.random_split(leaky), speaker_independent=False)


def test_noisy_inputs_have_the_requested_snr_and_are_reproducible(emodb6):
    rows = emodb6.iloc[:2]
    clean = train.load_inputs(rows, "waveform")
    noisy = train.load_inputs(rows.assign(snr_db=10.0), "waveform")
    again = train.load_inputs(rows.assign(snr_db=10.0), "waveform")
    for c, n, a in zip(clean, noisy, again):
        assert augment.measure_snr(c, n) == pytest.approx(10.0, abs=0.01)
        np.testing.assert_array_equal(n, a)


@pytest.mark.slow
def test_train_bundle_writes_a_loadable_bundle(emodb6, tmp_path, cache_dir):
    from serwidgets import bundle, predictor

    clf = train.train_bundle(emodb6, "emotion6", tmp_path / "b", recipe=train.Recipe(
        net_kwargs=TINY.net_kwargs, epochs=1, val_speakers=1), metrics={"UA": 0.5}, cache_dir=cache_dir,
        verbose=0)
    card = bundle.read_card(tmp_path / "b")
    assert card["labels"] == list(labels.TASKS["emotion6"])
    assert card["training"]["val_speakers"] == clf.training["val_speakers"]
    assert len(card["training"]["val_speakers"]) == 1
    model = predictor.load_model(tmp_path / "b")
    probabilities = model.predict_file(emodb6["path"].iloc[0])
    assert set(probabilities) == set(labels.TASKS["emotion6"])
    # The bundle predicts what the trained classifier predicts for a clip of one window.
    expected = clf.predict_proba(emodb6.iloc[:1])[0]
    np.testing.assert_allclose([probabilities[k] for k in clf.labels], expected, atol=1e-3)


@pytest.mark.slow
def test_waveform_cnn_bundle_round_trip(emodb6, tmp_path):
    from serwidgets import predictor

    recipe = train.Recipe(net="zhao2019_1d", net_kwargs=TINY.net_kwargs, epochs=1, val_speakers=1)
    clf = train.train_bundle(emodb6, "emotion6", tmp_path / "b1d", recipe=recipe, verbose=0)
    model = predictor.load_model(tmp_path / "b1d")
    assert model.card["input_kind"] == "waveform" and model.backend == "litert"
    probabilities = model.predict_file(emodb6["path"].iloc[0])
    expected = clf.predict_proba(emodb6.iloc[:1])[0]
    np.testing.assert_allclose([probabilities[k] for k in clf.labels], expected, atol=1e-3)
