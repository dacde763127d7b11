"""Teach it your own classes (serwidgets.personal, model.PersonalModel, card.PersonalCard).

Synthetic pooled states where the classes are separable and where they are not (the solver, the
leave-one-out, the prior folded into one linear map, refusals), then real clips of one speaker of
a corpus the shipped model never heard (teach from files, recognise held-out takes), and the bundle:
save, ``load_model``, the card's strictness.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from serwidgets.personal import MAX_CLASSES, PersonalClassifier, TeachError, _ridge, teach, teach_features


def blobs(k=3, takes=5, spread=1.0, seed=0, n_states=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, n_states, 1024))
    X = np.concatenate([c + spread * rng.normal(size=(takes, n_states, 1024)) for c in centres])
    return X, [f"class {j}" for j in range(k) for _ in range(takes)], centres


# -- the classifier, on synthetic features ----------------------------------------------------

def test_separable_classes_are_learnt_and_left_out_takes_recognised():
    X, y, centres = blobs(k=3, spread=0.5)
    clf = PersonalClassifier().fit(X, y)
    assert clf.classes_ == ("class 0", "class 1", "class 2") and clf.n_takes_ == dict.fromkeys(clf.classes_, 5)
    assert clf.loo_accuracy_ == 1.0 and np.trace(clf.confusion_) == 15
    assert clf.predict(centres) == list(clf.classes_)
    p = clf.predict_proba(X)
    assert p.shape == (15, 3) and np.allclose(p.sum(1), 1)


def test_labels_fix_the_class_order():
    X, y, centres = blobs(k=2, spread=0.5)
    clf = PersonalClassifier(labels=["class 1", "class 0"]).fit(X, y)
    assert clf.classes_ == ("class 1", "class 0") and clf.predict(centres) == ["class 0", "class 1"]


def test_classes_that_are_noise_score_near_chance():
    # labels unrelated to the features: the leave-one-out must not flatter (it would with a leak)
    rng = np.random.default_rng(1)
    scores = [PersonalClassifier().fit(rng.normal(size=(20, 4, 1024)), ["a", "b", "c", "d"] * 5).loo_accuracy_
              for _ in range(10)]
    assert np.mean(scores) < 0.45


def test_closed_form_leave_one_out_equals_refitting_without_the_take():
    rng = np.random.default_rng(2)
    S = rng.normal(size=(11, 50))
    target = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    w = len(target) / (3 * np.bincount(target)[target])
    _, _, loo = _ridge(S, target, 3, alpha=0.7)
    for i in range(len(S)):
        rest = np.arange(len(S)) != i
        # the same problem without take i, by brute force in the full space (the full set's weights)
        S1 = np.hstack([S[rest], np.ones((rest.sum(), 1))])
        P = 0.7 * np.eye(51)
        P[-1, -1] = 0
        B = np.linalg.solve(S1.T @ (w[rest, None] * S1) + P, S1.T @ (w[rest, None] * (np.eye(3)[target[rest]] - 1 / 3)))
        assert np.allclose(np.append(S[i], 1) @ B, loo[i])


def test_ridge_matches_scikit_learn():
    from sklearn.linear_model import RidgeClassifier

    rng = np.random.default_rng(3)
    S = rng.normal(size=(12, 40))
    target = np.repeat(np.arange(3), 4)
    coef, intercept, _ = _ridge(S, target, 3, alpha=2.0)
    ref = RidgeClassifier(alpha=2.0).fit(S, target)
    # scikit-learn's targets are +-1 = 2 * ours + a constant: the same scores up to 2x and a shift
    diff = ref.decision_function(S) - 2 * (S @ coef.T + intercept)
    assert np.allclose(diff, diff[0, 0])


def test_leave_one_out_flags_the_take_that_does_not_fit():
    X, y, _ = blobs(k=2, takes=5, spread=0.3, seed=4)
    X[0] = X[7]  # take 0 says "class 0" but sounds like class 1
    clf = PersonalClassifier().fit(X, y)
    assert clf.loo_predictions_[0] == 1 and clf.confusion_[0, 1] >= 1 and clf.loo_accuracy_ < 1


def test_probabilities_from_a_few_takes_are_not_certain():
    X, y, centres = blobs(k=2, takes=3, spread=0.3)
    p = PersonalClassifier().fit(X, y).predict_proba(centres)
    assert p.max() < 0.99 and (p.argmax(1) == [0, 1]).all()


def test_a_clip_far_from_every_take_is_atypical():
    X, y, centres = blobs(k=2, spread=0.5)
    clf = PersonalClassifier().fit(X, y)
    assert not clf.atypical(X).any() and clf.atypical(centres[:1] + 50.0).all()


def test_the_prior_is_folded_into_one_linear_map():
    from serwidgets.calibration import SpeakerHead
    from serwidgets.heads import state_columns

    X, y, _ = blobs(k=3, takes=4, spread=2.0, seed=5)
    columns = state_columns(4, (1, 2, 3))
    prior = SpeakerHead.random(("a", "b", "c", "d", "e", "f"), n_features=len(columns), rng=6)
    prior.columns, prior.std_floor = columns, np.full(4 * 1024, 1e-3)
    clf = PersonalClassifier(prior=prior, prior_weight=1.0).fit(X, y)
    plain = PersonalClassifier().fit(X, y)
    # by hand: the prior's logits calibrated on the takes, standardised, as 6 more features
    F = X.reshape(len(X), -1)[:, columns]
    mean, std = F.mean(0), np.maximum(F.std(0), 1e-3)
    L = prior.logits_z(prior.standardize(X.reshape(len(X), -1), mean, std))
    S = (F - clf.global_head_.mean) / clf.global_head_.scale
    A = np.sqrt(S.shape[1] / 6) * (L - L.mean(0)) / L.std(0)
    target = np.repeat(np.arange(3), 4)
    coef, intercept, loo = _ridge(np.hstack([S, A]), target, 3, 1.0)
    new = X[:2] + np.random.default_rng(7).normal(size=(2, 4, 1024))
    Fn = new.reshape(2, -1)[:, columns]
    Ln = prior.logits_z(prior.standardize(new.reshape(2, -1), mean, std))
    by_hand = np.hstack([(Fn - clf.global_head_.mean) / clf.global_head_.scale,
                         np.sqrt(S.shape[1] / 6) * (Ln - L.mean(0)) / L.std(0)]) @ coef.T + intercept
    logits = np.log(clf.predict_proba(new))
    assert np.allclose(logits - logits[:, :1], clf.temperature_ * (by_hand - by_hand[:, :1]))
    assert (clf.loo_predictions_ == loo.argmax(1)).all()
    assert not np.allclose(clf.predict_proba(new), plain.predict_proba(new))


def test_it_clones_like_a_scikit_learn_estimator():
    from sklearn.base import clone

    clf = PersonalClassifier(alpha=3.0).fit(*blobs()[:2])
    copy = clone(clf)
    assert copy.get_params()["alpha"] == 3.0 and not hasattr(copy, "classes_")
    with pytest.raises(ValueError, match="unknown parameter 'C'"):
        copy.set_params(C=1.0)


@pytest.mark.parametrize("labels, message", [
    (["a"] * 6, "between 2 and 8 classes; got 1"),
    ([str(j) for j in range(MAX_CLASSES + 1) for _ in range(3)], "between 2 and 8 classes; got 9"),
    (["a", "a", "a", "b", "b"], "at least 3 takes: 'b' has 2"),
    (["a", "a", "a", " ", " ", " "], "a class needs a name"),
])
def test_lessons_it_cannot_learn_are_refused_with_what_is_missing(labels, message):
    X = np.random.default_rng(0).normal(size=(len(labels), 4, 1024))
    with pytest.raises(TeachError, match=message):
        PersonalClassifier().fit(X, labels)


def test_inputs_that_are_not_pooled_states_are_refused():
    X, y, _ = blobs()
    with pytest.raises(ValueError, match="pooled states"):
        PersonalClassifier().fit(X.reshape(len(X), -1), y)
    X[3, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PersonalClassifier().fit(X, y)
    with pytest.raises(TeachError, match=r"labels \['class 2'\] are not among"):
        PersonalClassifier(labels=["class 0", "class 1"]).fit(*blobs()[:2])
    with pytest.raises(RuntimeError, match="before predicting"):
        PersonalClassifier().predict_proba(X)


def test_teach_refuses_a_short_lesson_before_encoding_anything():
    # nonexistent files: the refusal must come first, not a decoding error
    with pytest.raises(TeachError, match="'sad' has 2"):
        teach(["/nonexistent.wav"] * 5, ["happy"] * 3 + ["sad"] * 2, model=object())


# -- real clips, the model, the bundle ---------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    from serwidgets import load_model

    return load_model()


@pytest.fixture(scope="module")
def speaker(shared_data):
    """One nEMO speaker (Polish; a corpus the shipped model never heard): 5 takes of anger, sadness and
    happiness to teach, 4 others of each to recognise."""
    from serwidgets import corpora

    df = corpora.load_corpus("nemo", shared_data / "nemo")
    one = df[df["speaker"] == sorted(df["speaker"].unique())[0]].sort_values("path")
    teach_rows, held_rows = [], []
    for emotion in ("angry", "sad", "happy"):
        paths = one.loc[one["emotion"] == emotion, "path"].tolist()
        teach_rows += [(p, emotion) for p in paths[:5]]
        held_rows += [(p, emotion) for p in paths[5:9]]
    return teach_rows, held_rows


@pytest.fixture(scope="module")
def taught(shipped, speaker):
    takes, _ = speaker
    return teach([path for path, _ in takes], [f"my {emotion} voice" for _, emotion in takes], shipped)


def test_taught_from_files_it_recognises_the_speakers_other_takes(taught, speaker):
    _, held = speaker
    answers = taught([path for path, _ in held])
    right = sum(a.top == f"my {emotion} voice" for a, (_, emotion) in zip(answers, held))
    assert right >= 9, [a.top for a in answers]                    # of 12; chance is 4
    assert taught.takes == {"my angry voice": 5, "my sad voice": 5, "my happy voice": 5}
    loo = taught.leave_one_out()
    assert loo.n == 15 and loo.confusion.sum() == 15 and loo.accuracy >= 0.6
    assert taught.card.metrics["accuracy"] == loo.accuracy


def test_a_taught_model_is_a_model_like_any_other(taught, speaker):
    path = speaker[1][0][0]
    from serwidgets import audio

    y = audio.load(path, taught.audio_options)
    assert taught.predict(y, taught.sr) == pytest.approx(taught.predict_file(path), abs=1e-4)  # prepared twice
    assert taught.analyze(path).probabilities == pytest.approx(list(taught.predict_file(path).values()))
    long = np.concatenate([y] * 3)
    timeline = taught.predict_timeline(long, taught.sr, hop=1.0)
    assert timeline.labels == taught.labels and np.allclose(timeline.probabilities.sum(1), 1)
    assert not taught.calibratable
    from serwidgets.calibration import CalibrationError

    with pytest.raises(CalibrationError):
        taught.calibrate([path] * 3)


def test_teach_features_is_teach_on_the_same_features(taught, shipped, speaker):
    takes, _ = speaker
    from serwidgets import audio

    X = shipped.features([audio.load(path, shipped.audio_options) for path, _ in takes])
    again = teach_features(X, [f"my {emotion} voice" for _, emotion in takes], shipped)
    assert again.head.global_head_.coef == pytest.approx(taught.head.global_head_.coef)
    assert again.encoder is shipped.encoder  # shared, not loaded again


def test_save_and_load_model_give_the_same_model(taught, speaker, tmp_path):
    from serwidgets import load_model
    from serwidgets.model import PersonalModel

    directory = taught.save(tmp_path / "my-voices")
    assert sorted(p.name for p in directory.iterdir()) == ["card.json", "head.npz"]
    loaded = load_model(directory)
    assert isinstance(loaded, PersonalModel) and loaded.name == "my-voices" and loaded.labels == taught.labels
    card = json.loads((directory / "card.json").read_text())
    assert card["kind"] == "personal" and card["encoder"]["sha256"] == taught.encoder.sha256
    assert card["takes"] == taught.takes and card["date"] and card["metrics"]["accuracy"] == taught.leave_one_out().accuracy
    path = speaker[1][0][0]
    assert loaded.predict_file(path) == pytest.approx(taught.predict_file(path), abs=1e-9)
    assert loaded.leave_one_out().predicted == taught.leave_one_out().predicted
    with np.load(directory / "head.npz", allow_pickle=False) as arrays:   # plain arrays, no pickle
        assert {a.dtype.kind for a in arrays.values()} <= {"f", "i"}


def test_the_card_is_strict(taught, tmp_path):
    from serwidgets import load_model
    from serwidgets.card import BundleError, IntegrityError
    from serwidgets.encoders import EncoderMismatchError

    directory = taught.save(tmp_path / "mine")
    card_path = directory / "card.json"
    good = json.loads(card_path.read_text())
    for change, error, message in [
        ({"colour": "red"}, BundleError, "unknown keys for a card of kind 'personal': colour"),
        ({"encoder": {**good["encoder"], "sha256": "0" * 64}}, EncoderMismatchError, "trained on encoder"),
    ]:
        card_path.write_text(json.dumps({**good, **change}))
        with pytest.raises(error, match=message):
            load_model(directory)
    card_path.write_text(json.dumps({key: value for key, value in good.items() if key != "takes"}))
    with pytest.raises(BundleError, match="lacks takes"):
        load_model(directory)
    card_path.write_text(json.dumps(good))
    with np.load(directory / "head.npz") as arrays:
        arrays = dict(arrays)
    arrays["global_coef"] = arrays["global_coef"] * 2
    np.savez(directory / "head.npz", **arrays)
    with pytest.raises(IntegrityError, match="head.npz"):
        load_model(directory)


def test_teaching_imports_no_heavy_library():
    # the dashboard teaches in the kernel that serves the page: no scikit-learn, pandas or TensorFlow
    from tests.test_imports import imported_after

    report = imported_after(
        "import numpy as np, serwidgets\n"
        "X = np.random.default_rng(0).normal(size=(6, 4, 1024))\n"
        "taught = serwidgets.teach_features(X, ['a'] * 3 + ['b'] * 3, serwidgets.load_model())\n"
        "result = [list(taught.labels), taught.leave_one_out().n]\n")
    assert report == {"heavy": [], "result": [["a", "b"], 6]}
