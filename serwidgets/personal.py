"""Teach it your own classes: a head on the frozen encoder, taught from a few takes of each class.

A user names 2 to 8 classes (any text: "bored", "excited", "my teacher voice") and records at
least 3 takes of each. :func:`teach` encodes the takes with the model's frozen encoder (the
pooled states :meth:`serwidgets.model.Model.features` returns) and fits a
:class:`PersonalClassifier` on them; the result is a :class:`serwidgets.model.PersonalModel`
that predicts, analyses and draws timelines like the shipped model, knows how well each take
was recognised by a head taught from the others (:meth:`~serwidgets.model.PersonalModel.leave_one_out`),
and saves as a bundle that :func:`serwidgets.load_model` reads. :func:`teach_features` does the
same from features already computed (a widget keeps each take's features when it is recorded, so
"Train" costs milliseconds).

The head (chosen by measurement: the research of issue 19 compared it with logistic regression and
class prototypes; the README's "Teach it your own classes" has the figures, which
``scripts/run_personal.py`` writes to ``results/personal-takes.csv``):

1. **Standardise by the takes.** The takes' pooled states 1-3 minus their mean, divided by their
   standard deviation (raised to at least the teaching model's ``std_floor_``: with a handful of
   takes a dimension can look constant). The classes are then whatever differs *within this
   voice*, not the voice itself.
2. **Add what many speakers taught the shipped head.** The teaching model's speaker-normalised
   head, calibrated on the takes, gives 6 scores per take; they join the states as 6 more
   standardised features, weighted :data:`PRIOR_WEIGHT` of the states' total variance. They are
   *features*, not classes: the user's classes may be anything, and the ridge below decides how
   much each score says about them. On 4 emotions x 5 takes of one speaker (six corpora, a prior
   that never heard the speaker) they raise leave-one-take-out accuracy from 0.839 to 0.872; on
   classes that are sentences they cost 0.004-0.006 (``scripts/run_personal.py``).
3. **Ridge to the one-hot classes** (least squares, classes weighted equally, penalty
   :data:`ALPHA`), solved in the span of the takes. Ridge matched or beat logistic regression and
   class prototypes on six corpora, is insensitive to its penalty over three decades, and its
   leave-one-take-out predictions come in closed form from the same solve
   (:math:`e_i / (1 - h_{ii})`), so teaching and the leave-one-out confusion take milliseconds,
   in numpy (no scikit-learn is imported).
4. **One temperature** turns the scores into probabilities, fitted to the leave-one-out scores
   with targets smoothed by :math:`1 / (1 + \\text{takes per class})` (five takes cannot
   justify certainty).

Everything folds into one standardisation and one linear map: the head is a
:class:`~serwidgets.heads.LinearHead`, saved as plain arrays in the shipped heads' layout.

The leave-one-out keeps the standardisation (and the prior's calibration) of all the takes:
label-free statistics, so it is not optimistic; at 3 takes per class it is a pessimistic floor
(a class left with two takes has lost a third of its evidence).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> centres = rng.normal(size=(2, 4, 1024))
>>> X = np.concatenate([c + 0.5 * rng.normal(size=(5, 4, 1024)) for c in centres])   # 5 takes each
>>> clf = PersonalClassifier().fit(X, ["calm"] * 5 + ["stressed"] * 5)
>>> clf.classes_, clf.loo_accuracy_
(('calm', 'stressed'), 1.0)
>>> clf.predict(centres[::-1])
['stressed', 'calm']
>>> PersonalClassifier().fit(X[:4], ["calm", "calm", "stressed", "stressed"])
Traceback (most recent call last):
...
serwidgets.personal.TeachError: each class needs at least 3 takes: 'calm' has 2, 'stressed' has 2

With the shipped model (the same waveforms a widget records; here a synthetic buzz at two pitches):

>>> import serwidgets
>>> from serwidgets.audio import TARGET_SR
>>> model = serwidgets.load_model()
>>> t = np.arange(TARGET_SR * 3 // 2) / TARGET_SR
>>> def buzz(f0, wobble):                               # a gliding pitch, four "syllables" a second
...     phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(wobble * t))) / TARGET_SR
...     return 0.1 * sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.55 + 0.45 * np.sin(8 * np.pi * t))
>>> takes = [(buzz(f0, w), TARGET_SR) for f0 in (110, 220) for w in (3, 5, 7, 9)]
>>> mine = serwidgets.teach(takes, ["low"] * 4 + ["high"] * 4, model)
>>> mine
<PersonalModel 'personal' (litert): low, high>
>>> mine.leave_one_out().summary()
'on your 8 takes: 8 of 8 recognised'
>>> mine((buzz(215, 4), TARGET_SR)).top
'high'
"""

from __future__ import annotations

import datetime

import numpy as np

from serwidgets.card import PersonalCard
from serwidgets.heads import ATYPICAL_FACTOR, FittedHeads, LinearHead, state_columns
from serwidgets.model import EncoderModel, PersonalModel, load_model

__all__ = ["teach", "teach_features", "PersonalClassifier", "TeachError", "MIN_CLASSES", "MAX_CLASSES",
           "MIN_TAKES", "ALPHA", "PRIOR_WEIGHT", "TASK"]

#: The smallest and largest lesson: classes, and takes of each class.
MIN_CLASSES, MAX_CLASSES, MIN_TAKES = 2, 8, 3
#: Ridge penalty on the standardised states (3072 dimensions of unit scale; 0.1-10 measured alike).
ALPHA = 1.0
#: Share of the states' total variance the prior's scores get (0.5, 1 and 2 measured within 0.01;
#: 0.5 costs least on classes that are not feelings).
PRIOR_WEIGHT = 0.5
#: The ``task`` of a taught model's card: the classes are the user's own.
TASK = "personal"
_STATE_DIM = 1024  # [mean 512, std 512] per encoder state (serwidgets.encoders.pool_stats)


class TeachError(ValueError):
    """Too few or too many classes, too few takes of a class, or a blank class name; the message says which."""


def _check_lesson(labels, classes, min_takes: int) -> dict:
    """Class -> takes, or a :class:`TeachError` saying what the lesson lacks."""
    blank = [c for c in classes if not c.strip()]
    if blank:
        raise TeachError("a class needs a name (got an empty one)")
    if not MIN_CLASSES <= len(classes) <= MAX_CLASSES:
        raise TeachError(f"teach between {MIN_CLASSES} and {MAX_CLASSES} classes; got {len(classes)}"
                         + (f" ({', '.join(map(repr, classes))})" if classes else ""))
    counts = {c: labels.count(c) for c in classes}
    few = {c: n for c, n in counts.items() if n < min_takes}
    if few:
        raise TeachError(f"each class needs at least {min_takes} takes: "
                         + ", ".join(f"{c!r} has {n}" for c, n in few.items()))
    return counts


class PersonalClassifier(FittedHeads):
    """Ridge on the takes' standardised pooled states (+ a prior's scores): see the module docstring.

    A scikit-learn-style estimator (parameters only in ``__init__``, :meth:`get_params`, so
    :func:`sklearn.base.clone` works) on pooled encoder states; once fitted it is a
    :class:`~serwidgets.heads.FittedHeads` with a global head only, which is what
    :class:`~serwidgets.model.PersonalModel` predicts with.

    Parameters
    ----------
    labels : sequence of str, optional
        Class order (default: order of first appearance in ``y``).
    layers : tuple of int
        Encoder states used (0 = convolutions, i = block i).
    alpha : float
        Ridge penalty.
    std_floor : float or np.ndarray [shape=(n_states * 1024,)]
        A standard deviation of the takes below this is raised to it (:func:`teach` passes the
        teaching model's ``head.std_floor_``: a share of its training speakers' typical one).
    prior : serwidgets.calibration.SpeakerHead, optional
        A speaker-normalised head whose scores join the features (:func:`teach` passes the
        teaching model's ``calibration_head``); its columns must be among ``layers``'.
    prior_weight : float
        Share of the states' total variance the prior's scores get.
    min_takes : int
        Takes needed of each class (fewer only to study learning curves).

    Attributes
    ----------
    classes_ : tuple of str
    n_takes_ : dict
        Class -> takes.
    layers_, n_states_ : tuple of int, int
    global_head_ : serwidgets.heads.LinearHead
        The whole head: ``softmax(((x - mean) / scale) @ coef.T + intercept)`` on the columns of
        ``layers_`` (prior and temperature folded in).
    temperature_ : float
    loo_predictions_ : np.ndarray of int
        Each take's class index as the head taught from the other takes predicts it.
    loo_accuracy_ : float
    confusion_ : np.ndarray [shape=(n_classes, n_classes)]
        Leave-one-take-out counts; rows: the take's class.
    std_floor_ : np.ndarray
    atypical_above_ : float
        Typicality above which a clip lies far outside the takes (:meth:`atypical`).
    """

    def __init__(self, labels=None, layers=(1, 2, 3), alpha=ALPHA, std_floor=0.1, prior=None,
                 prior_weight=PRIOR_WEIGHT, min_takes=MIN_TAKES):
        self.labels = labels
        self.layers = layers
        self.alpha = alpha
        self.std_floor = std_floor
        self.prior = prior
        self.prior_weight = prior_weight
        self.min_takes = min_takes

    # scikit-learn's parameter protocol, without importing scikit-learn (the dashboard teaches too)
    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in
                ("labels", "layers", "alpha", "std_floor", "prior", "prior_weight", "min_takes")}

    def set_params(self, **params) -> PersonalClassifier:
        for name, value in params.items():
            if name not in self.get_params():
                raise ValueError(f"unknown parameter {name!r} of PersonalClassifier")
            setattr(self, name, value)
        return self

    def fit(self, X, y) -> PersonalClassifier:
        """Teach the classes of ``y`` (any text) from pooled states ``X`` ``(n, n_states, 1024)``.

        Raises
        ------
        TeachError
            Fewer than 2 or more than 8 classes, a class with fewer than ``min_takes`` takes, or
            a blank class name.
        ValueError
            ``X`` is not pooled states, has NaNs, or does not match ``y``.
        """
        X = np.asarray(X, np.float64)
        if X.ndim != 3 or X.shape[2] != _STATE_DIM:
            raise ValueError(f"X must be pooled states (n, n_states, {_STATE_DIM}), got shape {X.shape}")
        y = [str(label) for label in y]
        if len(y) != len(X):
            raise ValueError(f"{len(X)} takes but {len(y)} labels")
        if not np.isfinite(X).all():
            raise ValueError("X has NaN or infinite values (a take that could not be encoded?)")
        classes = tuple(map(str, self.labels)) if self.labels is not None else tuple(dict.fromkeys(y))
        unknown = sorted(set(y) - set(classes))
        if unknown:
            raise TeachError(f"labels {unknown} are not among the classes {classes}")
        counts = _check_lesson(y, classes, self.min_takes)
        bad = [s for s in self.layers if not 0 <= s < X.shape[1]]
        if bad:
            raise ValueError(f"layers {bad} are not among the {X.shape[1]} encoder states")
        columns = state_columns(X.shape[1], self.layers)
        flat = X.reshape(len(X), -1)
        F = flat[:, columns]
        target = np.array([classes.index(label) for label in y])
        k = len(classes)

        self.std_floor_ = np.broadcast_to(np.asarray(self.std_floor, np.float64), flat.shape[1:]).copy()
        mean = F.mean(0)
        scale = np.maximum(F.std(0), self.std_floor_[columns])
        scale = np.where(scale > 0, scale, 1.0)
        S = (F - mean) / scale
        if self.prior is None:
            coef, intercept, loo_scores = _ridge(S, target, k, self.alpha)
        else:
            # The prior's scores are an affine map of the states, A = F[:, at] @ G.T + g: fit on
            # [S, A], then fold A's coefficients back onto S, so prediction stays one linear map.
            at = np.searchsorted(columns, self.prior.columns)
            if at.max(initial=0) >= len(columns) or not np.array_equal(columns[at], self.prior.columns):
                raise ValueError("the prior reads encoder states that are not among layers")
            G, g = _prior_map(F[:, at], self.prior, self.prior_weight, S.shape[1])
            coef_sa, intercept, loo_scores = _ridge(np.hstack([S, F[:, at] @ G.T + g]), target, k, self.alpha)
            coef, coef_a = coef_sa[:, :S.shape[1]], coef_sa[:, S.shape[1]:]
            coef[:, at] += coef_a @ (G * scale[at])        # F[:, at] = S[:, at] * scale + mean
            intercept = intercept + coef_a @ (G @ mean[at] + g)
        self.temperature_ = _temperature(loo_scores, target, k, smoothing=1.0 / (1.0 + len(F) / k))
        self.global_head_ = LinearHead(mean, scale, self.temperature_ * coef, self.temperature_ * intercept,
                                       np.arange(k))
        self.speaker_head_ = self.class_offsets_ = self.C_ = None
        self.classes_, self.layers_, self.n_states_, self.n_takes_ = classes, tuple(self.layers), X.shape[1], counts
        self.loo_predictions_ = loo_scores.argmax(1)
        self.loo_accuracy_ = float(np.mean(self.loo_predictions_ == target))
        self.confusion_ = np.zeros((k, k), int)
        np.add.at(self.confusion_, (target, self.loo_predictions_), 1)
        # As the shipped heads: a clip far outside the takes (mean squared z-score) is "atypical".
        self.atypical_above_ = ATYPICAL_FACTOR * float(np.quantile((S ** 2).mean(1), 0.99))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` of pooled states ``X`` ``(n, n_states, 1024)``."""
        if not hasattr(self, "global_head_"):
            raise RuntimeError("teach the classifier (fit) before predicting")
        return self.predict_features(X)

    def predict(self, X) -> list:
        """Class names of the rows of ``X``."""
        return [self.classes_[j] for j in self.predict_proba(X).argmax(1)]

    def head_entry(self) -> dict:
        """The card's ``head`` entry (what the arrays of ``head.npz`` are and how they were fitted)."""
        return {"file": "head.npz", "layers": list(self.layers_), "n_states": self.n_states_,
                "classifier": "ridge on the takes' standardised pooled states"
                              + ("" if self.prior is None else " and the teaching model's speaker-head scores"),
                "alpha": self.alpha, "prior_weight": None if self.prior is None else self.prior_weight,
                "temperature": self.temperature_}


def teach(examples, labels, model=None, *, name: str = TASK) -> PersonalModel:
    """A model of your own classes, taught from a few takes of each: see the module docstring.

    Parameters
    ----------
    examples : sequence
        One take per item, anything :meth:`serwidgets.model.Model.__call__` takes: a path,
        bytes, ``(y, sr)``, ``{"raw": y, "sampling_rate": sr}``.
    labels : sequence of str
        The class of each take (any text); 2 to 8 classes, at least 3 takes of each.
    model : serwidgets.model.EncoderModel, optional
        The model whose encoder (and speaker head, as a prior) it is taught on; default the
        shipped one (:func:`serwidgets.load_model`).
    name : str
        The taught model's name (its card's, and a saved folder's default).

    Returns
    -------
    serwidgets.model.PersonalModel

    Raises
    ------
    TeachError
        Fewer than 2 or more than 8 classes, fewer than 3 takes of a class (checked before any
        take is encoded).
    """
    examples, labels = list(examples), [str(label) for label in labels]
    if len(examples) != len(labels):
        raise ValueError(f"{len(examples)} takes but {len(labels)} labels")
    _check_lesson(labels, tuple(dict.fromkeys(labels)), MIN_TAKES)
    model = _teacher(model)
    return teach_features(model.features([model._waveform(x) for x in examples]), labels, model, name=name)


def teach_features(features, labels, model=None, *, name: str = TASK) -> PersonalModel:
    """:func:`teach` from the takes' pooled states, already computed (``model.features(waveforms)``).

    Parameters
    ----------
    features : np.ndarray [shape=(n, n_states, 1024)]
        One row per take, from the same ``model``'s :meth:`~serwidgets.model.Model.features`.
    labels, model, name
        As :func:`teach`.
    """
    model = _teacher(model)
    prior = model.calibration_head if model.calibratable else None
    clf = PersonalClassifier(std_floor=model.head.std_floor_, prior=prior).fit(features, labels)
    predicted = [clf.classes_[j] for j in clf.loo_predictions_]
    card = PersonalCard(
        name=name, task=TASK, labels=clf.classes_, audio_options=model.audio_options,
        encoder=model.encoder.reference, head=clf.head_entry(), takes=dict(clf.n_takes_),
        leave_one_out={"labels": [str(label) for label in labels], "predicted": predicted}, window_seconds=model.window,
        training={"teacher": model.name, "takes": len(predicted)},
        metrics={"protocol": "leave-one-take-out (each take scored by the head taught from the others)",
                 "accuracy": clf.loo_accuracy_},
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    return PersonalModel(card, None, encoder=model.encoder, head=clf)


def _teacher(model) -> EncoderModel:
    if model is None:
        model = load_model()
    if not isinstance(model, EncoderModel):
        raise TypeError(f"teaching needs a model on a frozen encoder (an encoder head), not {model!r}")
    return model


# -- the arithmetic (numpy) ---------------------------------------------------------------------

def _softmax(L):
    L = L - L.max(1, keepdims=True)
    P = np.exp(L)
    return P / P.sum(1, keepdims=True)


def _ridge(S, target, k, alpha):
    """Weighted ridge to centred one-hot targets, intercept unpenalised; solved in the span of the rows.

    Returns coef ``(k, d)``, intercept ``(k,)`` and the leave-one-out scores ``(n, k)`` (each row
    the fit without that row, in closed form; the class weights are the full set's).
    """
    n = len(S)
    counts = np.bincount(target, minlength=k)
    w = n / (k * counts[target])                      # classes weigh the same
    s, U = np.linalg.eigh(S @ S.T)                    # n x n, not d x d: the optimum lies in the span
    keep = s > 1e-10 * max(s.max(), 1e-300)
    Z1 = np.hstack([U[:, keep] * np.sqrt(s[keep]), np.ones((n, 1))])   # the rows' coordinates, and 1
    penalty = np.full(Z1.shape[1], float(alpha))
    penalty[-1] = 0.0
    A_inv = np.linalg.inv(Z1.T @ (w[:, None] * Z1) + np.diag(penalty))
    Y = np.eye(k)[target] - 1.0 / k
    B = A_inv @ (Z1.T @ (w[:, None] * Y))
    hat = w * np.einsum("ia,ab,ib->i", Z1, A_inv, Z1)
    # hat -> 1 only for a class of one take (min_takes=1, learning curves): kept finite
    loo_scores = Y - (Y - Z1 @ B) / np.maximum(1.0 - hat, 1e-9)[:, None]
    V = S.T @ (U[:, keep] / np.sqrt(s[keep]))         # orthonormal basis of the span (d, r)
    return (V @ B[:-1]).T, B[-1], loo_scores


def _prior_map(F, prior, weight, d):
    """``(G, g)``: the affine map ``F @ G.T + g`` from the prior's columns ``F`` of the takes to its
    logits calibrated on the takes (as a :class:`~serwidgets.calibration.Calibration` of them would),
    standardised over them, times ``weight * sqrt(d / n_logits)``."""
    mean, std = F.mean(0), np.maximum(F.std(0), prior.std_floor[prior.columns])
    G = prior.coef / (std * prior.scale)
    g = prior.intercept - ((mean / std + prior.mean) / prior.scale) @ prior.coef.T
    L = F @ G.T + g
    centre, spread = L.mean(0), np.maximum(L.std(0), 1e-3)
    omega = weight * np.sqrt(d / len(g))
    return omega * G / spread[:, None], omega * (g - centre) / spread


def _temperature(scores, target, k, smoothing, low=1e-2, high=1e3, iters=40) -> float:
    """The t maximising the smoothed log-likelihood of ``softmax(t * scores)``, in [low, high].

    The log-likelihood is concave in t, so its derivative falls: bisect it (in log t).
    """
    Y = (1 - smoothing) * np.eye(k)[target] + smoothing / k
    for _ in range(iters):
        t = np.sqrt(low * high)
        if ((Y - _softmax(t * scores)) * scores).sum() > 0:   # d loglik / dt
            low = t
        else:
            high = t
    return float(np.sqrt(low * high))
