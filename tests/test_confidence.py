"""Confidence for strangers: synthetic heads whose right answer is known, the card block, the meta-estimator
on real EmoDB speakers, and the shipped model's "not sure" on real clips."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from serwidgets.calibration import LeaveOneOut
from serwidgets.confidence import (MIN_TEMPERATURE, NOT_SURE, NOT_SURE_CALIBRATED, Confidence, ConfidenceRule,
                                   choose_threshold, fit_rule, softmax, takes_accuracy_logit)
from serwidgets.reliability import expected_calibration_error, reliability_table, risk_coverage, selective


def stranger_head(n, rng, shift):
    """Probabilities of a head that is as sure everywhere but right less often as ``shift`` grows;
    the signal a model could compute (``shift`` plus noise) says how far the clip lies from home."""
    k = 4
    y = rng.integers(0, k, n)
    noise = 1.0 + 2.5 * shift  # farther from home: noisier evidence ...
    logits = 4.0 * np.eye(k)[y] + rng.normal(0, noise[:, None], (n, k))
    logits *= 4.0 / noise[:, None]  # ... but logits of the same scale (equally sure)
    return softmax(logits), y, (shift + rng.normal(0, 0.1, n))[:, None]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    shift = np.repeat([0.0, 0.5, 1.0, 1.5], 800)
    p, y, signal = stranger_head(len(shift), rng, shift)
    return p, y, signal, np.repeat(["a", "b", "c", "d"], 800)


def test_calibration_is_applied_and_lowers_ece_on_new_data(data):
    """Fails if the rule skips the temperature (the head's probabilities as they are)."""
    p, y, signal, groups = data
    rule = fit_rule(p, y, signal, names=("distance",), groups=groups)
    test_p, test_y, test_signal = stranger_head(2000, np.random.default_rng(1), np.full(2000, 1.5))
    calibrated = rule.apply(test_p, test_signal)
    assert expected_calibration_error(test_p, test_y) > 0.2
    assert expected_calibration_error(calibrated, test_y) < 0.06
    assert np.allclose(calibrated.sum(1), 1.0) and not np.allclose(calibrated, test_p)


def test_temperature_grows_with_distance_where_one_temperature_cannot_fit_all(data):
    p, y, signal, groups = data
    one = fit_rule(p, y, signal[:, :0], groups=groups)
    per_clip = fit_rule(p, y, signal, names=("distance",), groups=groups)
    assert per_clip.coef[0] > 0

    def worst(rule, s):
        return max(expected_calibration_error(rule.apply(p[groups == g], s[groups == g]), y[groups == g]) for g in "abcd")

    assert worst(one, signal[:, :0]) > 0.1
    assert worst(per_clip, signal) < 0.6 * worst(one, signal[:, :0])


def test_never_changes_the_top_label_and_keeps_zeros(data):
    p, y, signal, groups = data
    rule = fit_rule(p, y, signal, names=("distance",), groups=groups)
    assert np.array_equal(rule.apply(p, signal).argmax(1), p.argmax(1))
    assert rule.temperature(np.array([[-1e6]]))[0] == MIN_TEMPERATURE
    unseen = np.array([[0.7, 0.3, 0.0]])  # a class the head never saw stays impossible
    assert ConfidenceRule(np.log(3.0)).apply(unseen, np.zeros((1, 0)))[0, 2] == 0.0


def test_groups_weigh_equally():
    """A large, well-calibrated group must not decide the temperature of a small, over-confident one alone."""
    rng = np.random.default_rng(2)
    home_p, home_y, _ = stranger_head(5000, rng, np.zeros(5000))
    away_p, away_y, _ = stranger_head(500, rng, np.full(500, 1.5))
    p, y = np.concatenate([home_p, away_p]), np.concatenate([home_y, away_y])
    groups = np.array(["home"] * 5000 + ["away"] * 500)
    none = np.zeros((len(y), 0))
    assert fit_rule(p, y, none, groups=groups).intercept > fit_rule(p, y, none).intercept + 0.1


def test_threshold_reaches_its_target_on_new_data(data):
    p, y, signal, groups = data
    rule = fit_rule(p, y, signal, names=("distance",), groups=groups, target_accuracy=0.8)
    assert 0 < rule.threshold < 1
    shift = np.repeat([0.0, 0.5, 1.0, 1.5], 1000)
    test_p, test_y, test_signal = stranger_head(len(shift), np.random.default_rng(3), shift)
    q = rule.apply(test_p, test_signal)
    sure = rule.sure(q)
    assert 0.2 < sure.mean() < 1.0
    assert (q.argmax(1) == test_y)[sure].mean() > 0.77
    assert choose_threshold(np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), 0.95) == 1.0   # nothing reaches it


def test_each_calibration_state_has_its_rule_and_its_words():
    """Uncalibrated, calibrated and calibrated with labelled takes get their own rules; the takes' signal
    is their leave-one-out accuracy (good takes: a cooler temperature)."""
    labels = ("angry", "happy", "sad")

    class Takes:  # a calibration whose leave-one-out answers are given
        def __init__(self, right, n=9):
            self.labels = [labels[i % 3] for i in range(n)]
            self.predicted = [label if i < right else labels[(i + 1) % 3] for i, label in enumerate(self.labels)]

        def leave_one_out(self, head):
            return LeaveOneOut(labels, self.labels, self.predicted)

    head = type("Head", (), {"labels": labels})()
    takes = ConfidenceRule(0.5, (-0.8,), ("takes_accuracy_logit",), (0.0,), (1.0,), threshold=0.6)
    confidence = Confidence({"uncalibrated": ConfidenceRule(np.log(3.0), threshold=0.9),
                             "calibrated": ConfidenceRule(np.log(1.5), threshold=0.5), "calibrated_labelled": takes})
    p = np.array([[0.8, 0.15, 0.05]])
    unlabelled = type("Unlabelled", (), {"labels": []})()
    assert confidence.probabilities(p)[0, 0] == pytest.approx(ConfidenceRule(np.log(3.0)).apply(p, np.zeros((1, 0)))[0, 0])
    assert confidence.probabilities(p, unlabelled, head)[0, 0] > confidence.probabilities(p)[0, 0]
    good, bad = confidence.probabilities(p, Takes(9), head), confidence.probabilities(p, Takes(2), head)
    assert good[0, 0] > bad[0, 0]
    assert good[0, 0] == pytest.approx(takes.apply(p, [[takes_accuracy_logit(9, 9)]])[0, 0])
    assert confidence.not_sure(confidence.probabilities(p)) == NOT_SURE
    assert confidence.not_sure(good, Takes(9), head) == "" and confidence.not_sure(bad, Takes(2), head) == NOT_SURE_CALIBRATED
    assert Confidence({}).probabilities(p) is not None and Confidence({}).not_sure(p) == ""   # no rule: as they are


def test_json_round_trip_and_refusals(data):
    p, y, signal, groups = data
    rule = fit_rule(p, y, signal[:, :0], groups=groups, target_accuracy=0.8)
    confidence = Confidence({"uncalibrated": rule}, 0.8, {"uncalibrated": {"clips": len(y)}})
    d = json.loads(json.dumps(confidence.to_dict()))
    again = Confidence.from_dict(d)
    assert again == confidence and again.fitted_on == confidence.fitted_on
    np.testing.assert_allclose(again.probabilities(p[:5]), confidence.probabilities(p[:5]))
    with pytest.raises(ValueError, match="unknown keys"):
        Confidence.from_dict({**d, "bias": [0.0]})
    with pytest.raises(ValueError, match="format"):
        Confidence.from_dict({**d, "format": 99})
    with pytest.raises(ValueError, match="unknown keys in a confidence rule"):
        Confidence.from_dict({**d, "rules": {"uncalibrated": {**d["rules"]["uncalibrated"], "slope": 1.0}}})
    with pytest.raises(ValueError, match="unknown calibration states"):
        Confidence.from_dict({**d, "rules": {"sleepy": d["rules"]["uncalibrated"]}})
    with pytest.raises(ValueError, match="unknown signals"):
        Confidence({"uncalibrated": ConfidenceRule(0.0, (1.0,), ("loudness",), (0.0,), (1.0,))})
    with pytest.raises(ValueError, match="signals must be"):
        rule.temperature(np.zeros((3, 2)))


def test_reliability_measures():
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 0, 1])
    # bins: 0.9 right, 0.8 wrong, 0.6 right, 0.7 right
    assert expected_calibration_error(p, y) == pytest.approx((0.1 + 0.8 + 0.4 + 0.3) / 4)
    assert [row["n"] for row in reliability_table(p, y)] == [1, 1, 1, 1]
    assert risk_coverage(p.max(1), p.argmax(1) == y, coverages=(0.25, 1.0)) == {0.25: 1.0, 1.0: 0.75}
    assert selective(p.max(1) >= 0.85, p.argmax(1) == y) == {"accuracy": 1.0, "coverage": 0.25}


def test_takes_accuracy_logit():
    values = [takes_accuracy_logit(r, 10) for r in range(11)]
    assert values == sorted(values) and values[5] == 0.0
    assert takes_accuracy_logit(10, 10) == -takes_accuracy_logit(0, 10)
    with pytest.raises(ValueError):
        takes_accuracy_logit(11, 10)


# -- the card --------------------------------------------------------------------------------------------

def test_card_carries_the_confidence_and_reads_it_strictly(tmp_path):
    from serwidgets import shipped
    from serwidgets.card import BundleError, Card, EncoderHeadCard

    card = EncoderHeadCard.read(shipped.path("models") / "ser-emotion6")
    assert isinstance(card.confidence, Confidence)
    assert set(card.confidence.rules) == {"uncalibrated", "calibrated", "calibrated_labelled"}
    assert Card.from_dict(json.loads(card.to_json())) == card
    data = json.loads(card.to_json())
    data["confidence"]["rules"]["uncalibrated"]["colour"] = "red"
    with pytest.raises(BundleError, match="unknown keys in a confidence rule"):
        Card.from_dict(data)
    without = dataclasses.replace(card, confidence=None)
    assert Card.from_dict(json.loads(without.to_json())).confidence is None


# -- the meta-estimator on real speech ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def confident(emodb3):
    """Three EmoDB speakers, each standing in for a corpus: the confidence is fitted on each predicted by
    a head of the other two."""
    from serwidgets.confident_classifier import ConfidentClassifier
    from serwidgets.embedding_classifier import EmbeddingClassifier
    from tests.conftest import EMODB3_TASK

    df = emodb3.assign(corpus=emodb3["speaker"].str.replace(":", "-"))
    train, test = df[df["speaker"] != "emodb:16"], df[df["speaker"] == "emodb:16"]
    return ConfidentClassifier(EmbeddingClassifier(EMODB3_TASK), clips=6).fit(train), train, test


def test_confident_classifier_fits_inside_its_training_side_and_saves_what_it_applies(confident, tmp_path):
    from serwidgets.model import load_model

    clf, train, test = confident
    assert set(clf.confidence_.rules) == {"uncalibrated", "calibrated", "calibrated_labelled"}
    assert clf.confidence_.fitted_on["uncalibrated"]["corpora"] == sorted(train["corpus"].unique())
    assert set(clf.chosen_["confidence"]) == set(clf.confidence_.rules)
    raw, p = clf.estimator_.predict_proba(test), clf.predict_proba(test)
    assert np.array_equal(p.argmax(1), raw.argmax(1)) and not np.allclose(p, raw)
    np.testing.assert_allclose(p, clf.confidence_.probabilities(raw))
    me = clf.calibrate(test.iloc[:6], labels=list(test["emotion"].iloc[:6]))
    calibrated = clf.predict_proba(test.iloc[6:], calibrations={"emodb:16": me})
    np.testing.assert_allclose(calibrated, clf.confidence_.probabilities(
        clf.estimator_.predict_proba(test.iloc[6:], calibrations={"emodb:16": me}), me, clf.calibration_head))
    model = load_model(clf.save(tmp_path / "bundle", task="emodb3"))
    assert model.confidence == clf.confidence_
    path = test["path"].iloc[0]
    assert list(model.predict_file(path).values()) == pytest.approx(p[0], abs=1e-6)


# -- the shipped model on real clips ----------------------------------------------------------------------

def clips(corpus, n, data_dir):
    from serwidgets import corpora, labels

    df = labels.select_task(corpora.load_corpus(corpus, data_dir=data_dir), "emotion6")
    return list(df.sample(n, random_state=0)["path"])


def test_shipped_model_is_sure_at_home_and_rarely_with_strangers(shared_data):
    """EmoDB (in its training data) against nEMO and Korean (never heard): the confidence, fitted for
    strangers, shows some of the first as sure -- and right -- and far fewer of the second; a clip is
    sure exactly when its rescaled top probability reaches the card's threshold."""
    from serwidgets import corpora, labels
    from serwidgets.model import NOT_SURE_ATYPICAL, load_model

    model = load_model("ser-emotion6")

    def analyses(corpus, n):
        df = labels.select_task(corpora.load_corpus(corpus, data_dir=shared_data), "emotion6").sample(n, random_state=0)
        return [model.analyze(path) for path in df["path"]], list(df["emotion"])

    home, truth = analyses("emodb", 20)
    away = analyses("nemo", 8)[0] + analyses("korean-emotiontts", 8)[0]
    threshold = model.confidence.rules["uncalibrated"].threshold
    for analysis in home + away:
        if analysis.not_sure != NOT_SURE_ATYPICAL:
            assert analysis.sure == (analysis.confidence >= threshold)
            assert analysis.not_sure in ("", NOT_SURE)
    sure_home = [a.sure for a in home]
    assert np.mean(sure_home) >= np.mean([a.sure for a in away]) + 0.15
    assert np.mean([a.top == t for a, t, s in zip(home, truth, sure_home) if s]) >= 0.75
    raw = model.head.predict_features(np.stack([model.pool(model.encode(away[0].waveform))]))[0]
    assert away[0].confidence < raw.max()      # a stranger's confidence is flattened, not left as the head says
