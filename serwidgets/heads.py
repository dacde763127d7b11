"""Classifier heads on pooled encoder states: what a loaded model predicts with.

A head sees the per-state mean and standard deviation of the frozen encoder's hidden states
(:func:`serwidgets.encoders.pool_stats`), keeps the states in ``layers``, standardises them and
classifies with a logistic regression (balanced over emotions and corpora). It is trained twice:

``global`` head
    Features standardised with statistics of the whole training set. Used when nothing is
    known about the speaker.
``speaker`` head
    Each training speaker's features standardised with that speaker's own mean and standard
    deviation, so the head learns cues *relative to the speaker's voice*. Used with a
    :class:`~serwidgets.calibration.Calibration`: the same statistics from a few clips of the
    person being analysed, and what their labelled takes teach it. For the labelled takes the
    head also keeps ``class_offsets_``: where each emotion sits among the training speakers'
    standardised features.

Across corpora the second is worth much more than the first (see the README): a model that
has never heard a voice, a microphone or a room misreads them, and a few clips of the person's
own varied speech tell it what their "normal" sounds like.

This module is numpy only: it is what a loaded model predicts with (:func:`load_head`, in
:class:`serwidgets.model.EncoderModel`), and what the estimator that trains the heads
(:class:`serwidgets.embedding_classifier.EmbeddingClassifier`, scikit-learn) fits into.
The calibration itself is :mod:`serwidgets.calibration`'s.

Examples
--------
>>> from serwidgets import shipped
>>> from serwidgets.card import EncoderHeadCard
>>> directory = shipped.path("models") / "ser-emotion6"
>>> card = EncoderHeadCard.read(directory)
>>> fitted = load_head(directory, card.labels, card.head)
>>> X = np.random.default_rng(0).normal(size=(12, 4, 1024))      # pooled states of 12 clips
>>> me = Calibration.from_features(X[:10], seconds=None)         # one speaker, 10 clips
>>> fitted.predict_features(X[10:], me).shape                    # the speaker head, calibrated
(2, 6)
>>> fitted.calibration_head.class_offsets.shape                  # 6 emotions x states 1-3 (mean + std)
(6, 3072)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from serwidgets.calibration import Calibration, SpeakerHead

__all__ = ["LinearHead", "FittedHeads", "load_head", "state_columns", "ATYPICAL_FACTOR"]

#: A clip is atypical (not sure) when its typicality exceeds this many times the 99th
#: percentile of the training clips'.
ATYPICAL_FACTOR = 3.0


class LinearHead:
    """Standardise, then a multinomial logistic regression, as plain arrays (saved without pickle).

    Parameters
    ----------
    mean, scale : np.ndarray [shape=(d,)]
        The standardisation (a zero ``scale`` must have been replaced by 1).
    coef : np.ndarray [shape=(n_classes, d) or (1, d)]
        Coefficients (one row: a binary model, as scikit-learn keeps it).
    intercept : np.ndarray [shape=(n_classes,) or (1,)]
    classes : np.ndarray of int
        The label index of each row of ``coef``.

    Examples
    --------
    >>> head = LinearHead(mean=np.zeros(2), scale=np.ones(2), coef=np.array([[2.0, 0.0]]),
    ...                   intercept=np.zeros(1), classes=np.array([0, 2]))
    >>> head.proba(np.array([[1.0, 5.0]]), n_classes=3).round(3)       # class 1 never seen in training
    array([[0.119, 0.   , 0.881]])
    """

    def __init__(self, mean, scale, coef, intercept, classes):
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept
        self.classes = np.asarray(classes)

    def proba(self, X, n_classes: int) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` of rows ``X`` ``(n, d)``; classes not in :attr:`classes` get 0."""
        logits = ((X - self.mean) / self.scale) @ self.coef.T + self.intercept
        if logits.shape[1] == 1:  # binary: sklearn keeps one row of coefficients
            logits = np.concatenate([-logits / 2, logits / 2], axis=1)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        out = np.zeros((len(X), n_classes))
        out[:, self.classes] = p
        return out

    def typicality(self, X) -> np.ndarray:
        """Mean squared z-score of each row under the standardisation (training rows: about 1)."""
        return (((X - self.mean) / self.scale) ** 2).mean(1)

    def arrays(self, prefix: str) -> dict:
        """The arrays, keyed ``{prefix}_{name}`` (for ``np.savez``)."""
        return {f"{prefix}_{k}": getattr(self, k) for k in ("mean", "scale", "coef", "intercept", "classes")}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> LinearHead:
        """Inverse of :meth:`arrays`."""
        return cls(*(arrays[f"{prefix}_{k}"] for k in ("mean", "scale", "coef", "intercept", "classes")))


def state_columns(n_states: int, layers, dim: int = 1024) -> np.ndarray:
    """Indices of the flattened ``(n_states * dim)`` pooled features that belong to states ``layers``.

    Examples
    --------
    >>> state_columns(3, (0, 2), dim=2)
    array([0, 1, 4, 5])
    """
    return np.concatenate([np.arange(layer * dim, (layer + 1) * dim) for layer in layers])


class FittedHeads:
    """The fitted ``global`` and ``speaker`` heads on pooled encoder states (see the module docstring).

    What a loaded model predicts with (:func:`load_head`); the training estimator
    (:class:`serwidgets.embedding_classifier.EmbeddingClassifier`) is one, fitted.

    Attributes
    ----------
    classes_ : tuple of str
    layers_ : tuple of int
        The encoder states the heads read.
    C_ : float
    n_states_ : int
    std_floor_ : np.ndarray
        Lower bound of a calibration's standard deviations.
    atypical_above_ : float
        Typicality above which a clip is :meth:`atypical`.
    global_head_, speaker_head_ : LinearHead
        ``speaker_head_`` is None when only the global head was fitted.
    class_offsets_ : np.ndarray [shape=(n_classes, n_columns)] or None
        Balanced mean of each class's speaker-standardised training features on the head's
        columns (what a labelled calibration's statistics need); None without a speaker head.
    """

    @property
    def calibration_head(self) -> SpeakerHead:
        """The speaker head as a :class:`~serwidgets.calibration.Calibration` scores with it
        (made once per fitted speaker head; a calibration caches its fit for it)."""
        if self.speaker_head_ is None:
            raise ValueError("this head has no speaker head: it cannot be calibrated")
        cached = getattr(self, "_calibration_head", None)
        if cached is None or cached[0] is not self.speaker_head_:
            head = SpeakerHead.from_linear(self.classes_, self.speaker_head_, state_columns(self.n_states_, self.layers_),
                                           self.std_floor_, getattr(self, "class_offsets_", None))
            cached = self._calibration_head = (self.speaker_head_, head)
        return cached[1]

    def predict_features(self, X, calibration: Calibration | None = None) -> np.ndarray:
        """Probabilities for pooled states ``X`` ``(n, n_states, 1024)``; calibrated when given one."""
        if not hasattr(self, "global_head_"):
            raise RuntimeError("fit the classifier before predicting")
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        flat = np.asarray(X, np.float64).reshape(len(X), -1)
        if calibration is not None and self.speaker_head_ is not None:
            return calibration.predict_proba(self.calibration_head, flat)
        return self.global_head_.proba(flat[:, state_columns(self.n_states_, self.layers_)], len(self.classes_))

    def atypical(self, X, calibration: Calibration | None = None) -> np.ndarray:
        """Whether each row of pooled states ``X`` lies far outside the training clips (bool array).

        Uses the global head's scaler (a calibration changes where "normal" is, not how far
        out a broken input lies).
        """
        flat = np.asarray(X, np.float64).reshape(len(X), -1)[:, state_columns(self.n_states_, self.layers_)]
        return self.global_head_.typicality(flat) > self.atypical_above_

    def save_head(self, directory) -> dict:
        """Write ``head.npz`` (plain arrays, no pickle) into ``directory``; returns the card's ``head`` entry."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"std_floor": self.std_floor_, "atypical_above": np.float64(self.atypical_above_),
                  **self.global_head_.arrays("global")}
        if self.speaker_head_ is not None:
            arrays.update(self.speaker_head_.arrays("speaker"), speaker_class_offsets=self.class_offsets_)
        np.savez(directory / "head.npz", **arrays)
        return {"file": "head.npz", "layers": list(self.layers_), "C": self.C_, "n_states": self.n_states_,
                "normalization": self.normalization, "balance": self.balance,
                "classifier": "logistic regression on standardised mean+std of the chosen states",
                "heads": {"global": "features standardised with the training set's statistics (no calibration)",
                          **({"speaker": "features standardised per speaker: needs a Calibration",
                              "speaker_class_offsets": "where each label sits among the training speakers' "
                                                       "standardised features (balanced mean per class): the "
                                                       "statistics of a labelled Calibration"}
                             if self.speaker_head_ is not None else {})}}


def load_head(directory, labels, head: dict) -> FittedHeads:
    """The heads :meth:`FittedHeads.save_head` wrote into ``directory``, for prediction (numpy only).

    Parameters
    ----------
    directory : str or Path
        The bundle folder.
    labels : sequence of str
        The card's labels.
    head : dict
        The card's ``head`` entry.

    Examples
    --------
    >>> from serwidgets import shipped
    >>> from serwidgets.card import EncoderHeadCard
    >>> directory = shipped.path("models") / "ser-emotion6"
    >>> card = EncoderHeadCard.read(directory)
    >>> fitted = load_head(directory, card.labels, card.head)
    >>> fitted.layers_, fitted.speaker_head_ is not None
    ((1, 2, 3), True)
    >>> X = np.random.default_rng(0).normal(size=(12, 4, 1024))
    >>> fitted.predict_features(X).shape                    # the global head: no calibration
    (12, 6)
    >>> calibrated = fitted.predict_features(X, Calibration.from_features(X, seconds=None))   # the speaker head
    >>> calibrated.sum(axis=1).round(6)[:3], bool(np.abs(calibrated - fitted.predict_features(X)).max() > 0.01)
    (array([1., 1., 1.]), True)
    """
    with np.load(Path(directory) / head["file"], allow_pickle=False) as arrays:
        arrays = dict(arrays)
    fitted = FittedHeads()
    fitted.classes_, fitted.layers_ = tuple(labels), tuple(head["layers"])
    fitted.C_, fitted.n_states_ = head.get("C"), head["n_states"]  # a taught head (personal) has no C
    fitted.std_floor_ = arrays["std_floor"]
    fitted.atypical_above_ = float(arrays["atypical_above"])
    fitted.global_head_ = LinearHead.from_arrays(arrays, "global")
    fitted.speaker_head_, fitted.class_offsets_ = None, None
    if "speaker_mean" in arrays:
        if "speaker_class_offsets" not in arrays:
            from serwidgets.card import BundleError

            raise BundleError(f"{head['file']} in {directory} has a speaker head without its class offsets: "
                              "train it again (ser train)")
        fitted.speaker_head_ = LinearHead.from_arrays(arrays, "speaker")
        fitted.class_offsets_ = arrays["speaker_class_offsets"]
    return fitted
