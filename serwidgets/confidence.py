"""Confidence calibrated for strangers: how sure a model may be of a voice it never heard.

A head's probabilities are honest only for the voices, languages and studios it was trained on:
on a corpus it never heard it is as *sure* as at home and right far less often (leave one corpus
out, 7 corpora: mean top probability 0.74-0.82 where accuracy is 0.33-0.78). A
:class:`Confidence` rescales the head's probabilities by a temperature

.. math:: p' = \\mathrm{softmax}(\\log p \\,/\\, T), \\qquad
          \\log T = a + \\sum_j b_j \\, (s_j - c_j) / d_j

(``p ** (1 / T)``, renormalised), where the signals :math:`s_j` are what the model knows about
the speaker (:data:`SIGNALS`), and says "not sure" below a threshold on the rescaled top
probability. It keeps one :class:`ConfidenceRule` per calibration state of the speaker
(:data:`STATES`): nothing known (``"uncalibrated"``: one global temperature), calibrated with
unlabelled clips (``"calibrated"``), and calibrated with labelled takes
(``"calibrated_labelled"``: the temperature grows as the head's leave-one-out accuracy on the
speaker's own takes falls, :func:`takes_accuracy_logit`). Dividing by a positive temperature
never changes the top label: UA is unchanged.

Every rule is fitted by :func:`fit_rule` on *out-of-corpus* predictions -- clips of corpora the
head did not see, each such corpus weighing the same -- and its threshold chosen on the same
predictions for a stated accuracy among the clips shown as sure (:func:`choose_threshold`);
:class:`serwidgets.confident_classifier.ConfidentClassifier` makes those predictions inside its
training side. Per-clip signals of the head (typicality, distance to the nearest class mean,
entropy) were measured and do not tell a stranger it reads well from one it does not (research
report of issue 18: ECE no better than one temperature); the clip's typicality keeps its own job,
the broken-input check (``atypical``).

Prediction is numpy only; a :class:`Confidence` is a small JSON block of an encoder-head model
card (:attr:`serwidgets.card.EncoderHeadCard.confidence`). Fitting imports scipy.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 3, 600)
>>> p = softmax(3.0 * np.eye(3)[y] + rng.normal(0, 3.0, (600, 3)))   # an over-confident head
>>> rule = fit_rule(p, y, np.zeros((600, 0)), names=(), target_accuracy=0.8)
>>> bool(rule.temperature(np.zeros((1, 0)))[0] > 1.0)       # it flattens an over-confident head
True
>>> q = rule.apply(p, np.zeros((600, 0)))
>>> bool(np.all(q.argmax(1) == p.argmax(1)))                  # never changes the top label
True
>>> from serwidgets.reliability import expected_calibration_error
>>> bool(expected_calibration_error(q, y) < expected_calibration_error(p, y) / 2)
True
>>> confidence = Confidence({"uncalibrated": rule}, target_accuracy=0.8)
>>> Confidence.from_dict(confidence.to_dict()) == confidence
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Confidence", "ConfidenceRule", "fit_rule", "choose_threshold", "takes_accuracy_logit", "softmax",
           "STATES", "SIGNALS", "MIN_TAKES", "MIN_TEMPERATURE", "TARGET_ACCURACY", "FORMAT", "NOT_SURE", "NOT_SURE_CALIBRATED"]

#: Calibration states of a speaker, each with its rule: nothing known, calibrated with unlabelled
#: clips, calibrated with labelled takes (at least MIN_TAKES of the head's labels).
STATES = ("uncalibrated", "calibrated", "calibrated_labelled")
#: Labelled takes from which the takes' leave-one-out accuracy is a signal (fewer: the
#: unlabelled rule). The rules are fitted on 10 takes per speaker; 3 is the fewest a
#: calibration accepts at all.
MIN_TAKES = 3
#: Lowest temperature a rule applies (a stranger's probabilities are never sharpened much; below
#: this a fit only chases noise on the training side).
MIN_TEMPERATURE = 0.5
#: Accuracy among the clips shown as sure that thresholds are chosen for (the issue's target).
TARGET_ACCURACY = 0.75
#: Layout of :meth:`Confidence.to_dict` (bumped when a field changes meaning; others are refused).
FORMAT = 1
#: What a model says about a clip below the threshold, uncalibrated and calibrated to the speaker.
NOT_SURE = "not sure — tune the model to your voice"
NOT_SURE_CALIBRATED = "not sure, even tuned to your voice"
#: Smallest probability taken as a log (a class the head never saw has probability 0).
_TINY = 1e-300


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, k)`` logits.

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0], [0.0, np.log(3.0)]])).round(2)
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    z = np.asarray(logits, np.float64)
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _log(p) -> np.ndarray:
    return np.log(np.maximum(np.asarray(p, np.float64), _TINY))


@dataclass(frozen=True)
class ConfidenceRule:
    """One temperature on a head's probabilities, and the "sure" threshold (module docstring).

    Parameters
    ----------
    intercept : float
        :math:`a`, the log temperature where the signals sit at ``center``.
    coef : tuple of float
        :math:`b_j`, one per signal.
    signals : tuple of str
        Names of the signals, in the column order :meth:`temperature` expects (a
        :class:`Confidence` takes only those of :data:`SIGNALS`).
    center, scale : tuple of float
        :math:`c_j, d_j`: the signals' median and spread on the fitting data.
    threshold : float
        Rescaled top probability from which a prediction is shown as sure (1.0: never).

    Examples
    --------
    >>> rule = ConfidenceRule(1.0, (-0.4,), ("takes_accuracy_logit",), (0.0,), (1.0,), threshold=0.6)
    >>> rule.temperature(np.array([[0.0], [1.0]])).round(3)     # better on the takes: less flattening
    array([2.718, 1.822])
    >>> rule.sure(np.array([[0.7, 0.3], [0.55, 0.45]]))
    array([ True, False])
    """

    intercept: float
    coef: tuple = ()
    signals: tuple = ()
    center: tuple = ()
    scale: tuple = ()
    threshold: float = 1.0

    def __post_init__(self):
        n = len(self.signals)
        if not (len(self.coef) == len(self.center) == len(self.scale) == n):
            raise ValueError(f"coef, center and scale need one value per signal ({n}: {list(self.signals)})")
        if any(s <= 0 for s in self.scale):
            raise ValueError("scale must be positive")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold is a probability, got {self.threshold}")

    def temperature(self, signals) -> np.ndarray:
        """Temperature of each row, ``(n,)``, from signals ``(n, len(self.signals))``."""
        s = np.asarray(signals, np.float64)
        if s.ndim != 2 or s.shape[1] != len(self.signals):
            raise ValueError(f"signals must be (n, {len(self.signals)}) for {list(self.signals)}, got {s.shape}")
        z = (s - np.asarray(self.center, np.float64)) / np.asarray(self.scale, np.float64)
        return np.maximum(np.exp(self.intercept + z @ np.asarray(self.coef, np.float64)), MIN_TEMPERATURE)

    def apply(self, probabilities, signals) -> np.ndarray:
        """Rescaled probabilities ``(n, k)``: ``softmax(log p / T)`` row by row (zeros stay zero)."""
        p = np.asarray(probabilities, np.float64)
        return softmax(_log(p) / self.temperature(signals)[:, None]) * (p > 0)

    def sure(self, probabilities) -> np.ndarray:
        """Whether each row of *rescaled* probabilities is shown as sure (bool ``(n,)``)."""
        return np.asarray(probabilities).max(1) >= self.threshold

    def to_dict(self) -> dict:
        return {"intercept": float(self.intercept), "coef": [float(v) for v in self.coef],
                "signals": list(self.signals), "center": [float(v) for v in self.center],
                "scale": [float(v) for v in self.scale], "threshold": float(self.threshold)}

    @classmethod
    def from_dict(cls, data: dict) -> ConfidenceRule:
        _check_keys(data, {"intercept", "coef", "signals", "center", "scale", "threshold"}, "confidence rule")
        return cls(float(data["intercept"]), tuple(map(float, data["coef"])), tuple(map(str, data["signals"])),
                   tuple(map(float, data["center"])), tuple(map(float, data["scale"])), float(data["threshold"]))


def _check_keys(data, keys: set, what: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"a {what} is a JSON object, got {type(data).__name__}")
    unknown, missing = sorted(set(data) - keys), sorted(keys - set(data))
    if unknown:
        raise ValueError(f"unknown keys in a {what}: {unknown}")
    if missing:
        raise ValueError(f"a {what} lacks {missing}")


@dataclass(frozen=True)
class Confidence:
    """The rule of each calibration state, and where they were fitted (a model card's ``confidence``).

    Parameters
    ----------
    rules : dict
        State (one of :data:`STATES`) -> :class:`ConfidenceRule`. A state without a rule uses
        the head's probabilities as they are and is never "not sure" for confidence.
    target_accuracy : float
        The accuracy among sure clips the thresholds were chosen for.
    fitted_on : dict
        Provenance: the predictions, corpora and clips of each rule's fit.

    Examples
    --------
    >>> confidence = Confidence({"uncalibrated": ConfidenceRule(np.log(2.0), threshold=0.7)})
    >>> p = np.array([[0.9, 0.1]])
    >>> confidence.probabilities(p).round(3)                   # T = 2: sqrt, renormalised
    array([[0.75, 0.25]])
    >>> confidence.not_sure(confidence.probabilities(p))
    ''
    >>> confidence.not_sure(confidence.probabilities(np.array([[0.7, 0.3]])))
    'not sure — tune the model to your voice'
    """

    rules: dict
    target_accuracy: float = TARGET_ACCURACY
    fitted_on: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        unknown = sorted(set(self.rules) - set(STATES))
        if unknown:
            raise ValueError(f"unknown calibration states {unknown}; known: {list(STATES)}")
        # A rule measured with another signal (e.g. per-clip typicality) cannot be used by a model.
        unknown = sorted({name for rule in self.rules.values() for name in rule.signals} - set(SIGNALS))
        if unknown:
            raise ValueError(f"unknown signals {unknown}; known: {sorted(SIGNALS)}")

    # -- using it ------------------------------------------------------------------------------
    @staticmethod
    def state(calibration=None, head=None) -> str:
        """The calibration state of a speaker (:data:`STATES`): ``"calibrated_labelled"`` needs at
        least :data:`MIN_TAKES` takes of ``head``'s labels.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> head = SimpleNamespace(labels=("angry", "sad"))
        >>> [Confidence.state(c, head) for c in (None, SimpleNamespace(labels=["sad"] * 2),
        ...                                      SimpleNamespace(labels=["sad", "angry", "sad"]))]
        ['uncalibrated', 'calibrated', 'calibrated_labelled']
        """
        if calibration is None:
            return "uncalibrated"
        labels = set(getattr(head, "labels", ()))
        takes = sum(label in labels for label in calibration.labels)
        return "calibrated_labelled" if takes >= MIN_TAKES else "calibrated"

    def rule(self, calibration=None, head=None) -> ConfidenceRule | None:
        """The rule for a speaker in this calibration state (None: no rule for it)."""
        return self.rules.get(self.state(calibration, head))

    def probabilities(self, probabilities, calibration=None, head=None) -> np.ndarray:
        """Rescaled probabilities ``(n, k)`` of ``n`` clips of one speaker.

        ``calibration`` (:class:`~serwidgets.calibration.Calibration`) and ``head`` (the
        :class:`~serwidgets.calibration.SpeakerHead` it scores with) say the speaker's state and
        give its signals; None: uncalibrated.
        """
        rule = self.rule(calibration, head)
        p = np.asarray(probabilities, np.float64)
        if rule is None:
            return p
        signals = [SIGNALS[name](calibration, head) for name in rule.signals]
        return rule.apply(p, np.tile(np.asarray(signals, np.float64), (len(p), 1)))

    def not_sure(self, probabilities, calibration=None, head=None) -> str:
        """Why a clip's rescaled ``probabilities`` ``(k,)`` or ``(1, k)`` should not be trusted, or ``""``."""
        rule = self.rule(calibration, head)
        p = np.asarray(probabilities, np.float64).reshape(1, -1)
        if rule is None or rule.sure(p)[0]:
            return ""
        return NOT_SURE if calibration is None else NOT_SURE_CALIBRATED

    # -- the card's JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": "confidence", "format": FORMAT, "target_accuracy": float(self.target_accuracy),
                "fitted_on": self.fitted_on, "rules": {state: rule.to_dict() for state, rule in self.rules.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> Confidence:
        """The inverse of :meth:`to_dict`; refuses another kind or format, unknown or missing keys.

        Examples
        --------
        >>> Confidence.from_dict({"kind": "confidence", "format": 1, "rules": {}, "target_accuracy": 0.75,
        ...                       "fitted_on": {}, "bias": 0.1})
        Traceback (most recent call last):
        ...
        ValueError: unknown keys in a confidence block: ['bias']
        """
        if not isinstance(data, dict) or data.get("kind") != "confidence" or data.get("format") != FORMAT:
            raise ValueError(f"not a confidence block of format {FORMAT}")
        _check_keys(data, {"kind", "format", "target_accuracy", "fitted_on", "rules"}, "confidence block")
        if not isinstance(data["rules"], dict):
            raise ValueError("a confidence block's rules are a JSON object")
        return cls({state: ConfidenceRule.from_dict(rule) for state, rule in data["rules"].items()},
                   float(data["target_accuracy"]), dict(data["fitted_on"]))


# -- signals ------------------------------------------------------------------------------------

def takes_accuracy_logit(n_right: int, n_takes: int) -> float:
    """Smoothed log-odds that the head is right for this speaker, from their labelled takes.

    ``log((n_right + 1) / (n_takes - n_right + 1))``. With it the temperature knows how well the
    model reads *this* voice, which no per-clip signal of the head knows.

    Examples
    --------
    >>> round(takes_accuracy_logit(8, 10), 3), takes_accuracy_logit(5, 10)
    (1.099, 0.0)
    """
    if not 0 <= n_right <= n_takes:
        raise ValueError(f"n_right must be in 0..n_takes, got {n_right} of {n_takes}")
    return float(np.log((n_right + 1) / (n_takes - n_right + 1)))


def _takes_signal(calibration, head) -> float:
    # Leave-one-out: each take scored by a calibration of the others (the scorecard's figure), so
    # the takes' own correction cannot make the head look right on them.
    loo = calibration.leave_one_out(head)
    return takes_accuracy_logit(loo.correct, loo.n)


#: Signal name -> ``f(calibration, head) -> float``: what a rule may depend on.
SIGNALS = {"takes_accuracy_logit": _takes_signal}


# -- fitting ------------------------------------------------------------------------------------

def _group_weights(groups, n) -> np.ndarray:
    """Weights giving every group (held-out corpus) the same total weight, mean 1."""
    if groups is None:
        return np.ones(n)
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w * n / w.sum()


def fit_rule(probabilities, y, signals, *, names=(), groups=None, target_accuracy=TARGET_ACCURACY,
             l2: float = 1e-3) -> ConfidenceRule:
    """Fit a :class:`ConfidenceRule` by minimising the group-balanced negative log-likelihood.

    Parameters
    ----------
    probabilities : np.ndarray [shape=(n, k)]
        The head's probabilities for clips of corpora it did not see (out-of-corpus predictions).
    y : np.ndarray [shape=(n,)]
        True class indices.
    signals : np.ndarray [shape=(n, m)]
        The signals ``names`` of the same clips (``m = 0``: one global temperature).
    names : sequence of str
        The signals' names (a :class:`Confidence` takes only those of :data:`SIGNALS`).
    groups : array-like, optional
        Held-out corpus of each clip: every group weighs the same in the fit and the threshold.
    target_accuracy : float or None
        Choose the threshold for this accuracy among sure clips (:func:`choose_threshold`);
        None: 1.0 (never sure).
    l2 : float
        Ridge on ``coef`` (on standardised signals).
    """
    from scipy.optimize import minimize

    logits = _log(probabilities)
    y = np.asarray(y, int)
    s = np.asarray(signals, np.float64).reshape(len(logits), -1)
    if s.shape[1] != len(names):
        raise ValueError(f"{s.shape[1]} signal columns for {len(names)} names")
    center = np.median(s, 0) if s.shape[1] else np.zeros(0)
    scale = np.std(s, 0) if s.shape[1] else np.zeros(0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (s - center) / scale
    w = _group_weights(groups, len(y))
    rows = np.arange(len(y))

    def nll(theta):
        t = np.exp(theta[0] + z @ theta[1:])
        scaled = logits / t[:, None]
        scaled = scaled - scaled.max(1, keepdims=True)
        e = np.exp(scaled)
        total = e.sum(1)
        loss = -(w * (scaled[rows, y] - np.log(total))).sum() / len(y) + l2 * (theta[1:] ** 2).sum()
        # d(-log p_y)/d(log T) = (z_y - E_p[z]) / T with z the logits
        g = logits[rows, y] / t - ((e / total[:, None]) * (logits / t[:, None])).sum(1)
        grad = np.concatenate([[np.sum(w * g)], z.T @ (w * g)]) / len(y)
        grad[1:] += 2 * l2 * theta[1:]
        return loss, grad

    theta = minimize(nll, np.zeros(1 + z.shape[1]), jac=True, method="L-BFGS-B").x
    rule = ConfidenceRule(float(theta[0]), tuple(map(float, theta[1:])), tuple(names), tuple(map(float, center)),
                          tuple(map(float, scale)))
    if target_accuracy is None:
        return rule
    q = rule.apply(probabilities, s)
    threshold = choose_threshold(q.max(1), q.argmax(1) == y, target_accuracy, groups)
    return ConfidenceRule(rule.intercept, rule.coef, rule.signals, rule.center, rule.scale, threshold)


def choose_threshold(confidence, correct, target_accuracy, groups=None) -> float:
    """The lowest threshold whose sure clips (``confidence >= threshold``) reach ``target_accuracy``.

    Accuracy among sure clips is averaged over ``groups`` (each held-out corpus counts the same;
    a group with no sure clip does not count). 1.0 (nothing sure) when no threshold reaches it.

    Examples
    --------
    >>> choose_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 1]), 0.99)
    0.8
    >>> choose_threshold(np.array([0.9, 0.8]), np.array([0, 0]), 0.5)
    1.0
    """
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, bool)
    groups = np.zeros(len(confidence), int) if groups is None else np.asarray(groups)
    names = np.unique(groups)
    members = [groups == g for g in names]
    for t in np.unique(confidence):  # ascending: the first that reaches the target covers most
        sure = confidence >= t
        accs = [correct[sure & m].mean() for m in members if np.any(sure & m)]
        if accs and np.mean(accs) >= target_accuracy:
            return float(t)
    return 1.0
