"""Classifier heads on pooled encoder states, and calibration to a speaker's voice.

A head sees the per-state mean and standard deviation of the frozen encoder's hidden states
(:func:`serwidgets.encoders.pool_stats`), keeps the states in ``layers``, standardises them and
classifies with a logistic regression (balanced over emotions and corpora). It is trained twice:

``global`` head
    Features standardised with statistics of the whole training set. Used when nothing is
    known about the speaker.
``speaker`` head
    Each training speaker's features standardised with that speaker's own mean and standard
    deviation, so the head learns cues *relative to the speaker's voice*. Used with a
    :class:`Calibration`: the same statistics from a few clips of the person being analysed.

Across corpora the second is worth much more than the first (see the README): a model that
has never heard a voice, a microphone or a room misreads them, and a few clips of the person's
own varied speech tell it what their "normal" sounds like. Neutral-only clips work less well:
their mean is off the centre of the speaker's emotions (notebook 04 measures by how much).

This module is numpy only: it is what a loaded model predicts with (:func:`load_head`, in
:class:`serwidgets.model.EncoderModel`), and what the estimator that trains the heads
(:class:`serwidgets.embedding_classifier.EmbeddingClassifier`, scikit-learn) fits into.

Examples
--------
>>> X = np.random.default_rng(0).normal(3.0, 2.0, size=(12, 4, 1024))   # pooled states of 12 clips
>>> me = Calibration.from_features(X[:10], seconds=None)     # one speaker's statistics, from 10 clips
>>> z = me.normalize(X[10:])                                 # what the speaker head sees of 2 later clips
>>> z.shape, bool(abs(z.mean()) < 0.1)
((2, 4096), True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Calibration", "CalibrationError", "LinearHead", "FittedHeads", "load_head", "state_columns",
           "MIN_CALIBRATION_CLIPS", "MIN_CLIP_SECONDS", "GOOD_CALIBRATION_CLIPS"]

#: A calibration needs at least this many clips, each at least this long (seconds)...
MIN_CALIBRATION_CLIPS = 3
MIN_CLIP_SECONDS = 1.0
#: ...and is called "good" from this many clips on (10 varied clips ≈ 30 s measured best per second spent).
GOOD_CALIBRATION_CLIPS = 10


class CalibrationError(ValueError):
    """Calibration clips are too few or too short; the message says what is needed."""


@dataclass
class Calibration:
    """Per-dimension mean and standard deviation of one speaker's pooled encoder features.

    Make one with :meth:`serwidgets.model.Model.calibrate` (from clips) or
    :meth:`from_features`; update it with more clips with :meth:`update`; save with
    :meth:`save`. It belongs to one encoder (``encoder_sha256``).

    Attributes
    ----------
    mean, std : np.ndarray [shape=(n_states * 1024,)]
    n_clips : int
    seconds : float
        Speech used, after trimming.
    encoder_sha256 : str

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(5.0, 2.0, (200, 1, 3))
    >>> cal = Calibration.from_features(X, seconds=[3.0] * 200)
    >>> np.round(cal.mean, 1), np.round(cal.std, 1)
    (array([4.9, 5.1, 4.9]), array([2. , 2. , 1.9]))
    >>> cal.quality
    'good'
    """

    mean: np.ndarray
    std: np.ndarray
    n_clips: int
    seconds: float
    encoder_sha256: str = ""
    _sum: np.ndarray = field(default=None, repr=False)
    _sum_sq: np.ndarray = field(default=None, repr=False)

    @classmethod
    def from_features(cls, features, seconds, encoder_sha256: str = "") -> Calibration:
        """From pooled features ``(n_clips, n_states, 1024)`` and each clip's length in seconds.

        Raises
        ------
        CalibrationError
            Fewer than :data:`MIN_CALIBRATION_CLIPS` clips, or a clip shorter than
            :data:`MIN_CLIP_SECONDS`.
        """
        X = np.asarray(features, np.float64).reshape(len(features), -1)
        # seconds=None: lengths unknown (corpus clips in evaluation); not checked.
        seconds = np.full(len(X), np.nan) if seconds is None else np.asarray(seconds, float)
        short = np.flatnonzero(seconds < MIN_CLIP_SECONDS)
        if short.size:
            raise CalibrationError(
                f"calibration clip {short[0] + 1} has {seconds[short[0]]:.2f} s of speech; each needs at least "
                f"{MIN_CLIP_SECONDS:g} s")
        if len(X) < MIN_CALIBRATION_CLIPS:
            raise CalibrationError(
                f"calibration needs at least {MIN_CALIBRATION_CLIPS} clips of your voice, got {len(X)}; "
                f"{GOOD_CALIBRATION_CLIPS} clips said with different feelings work best")
        cal = cls(mean=None, std=None, n_clips=0, seconds=0.0, encoder_sha256=encoder_sha256,
                  _sum=np.zeros(X.shape[1]), _sum_sq=np.zeros(X.shape[1]))
        cal._add(X, float(np.nansum(seconds)))
        return cal

    def _add(self, X, seconds):
        self._sum = self._sum + X.sum(0)
        self._sum_sq = self._sum_sq + (X ** 2).sum(0)
        self.n_clips += len(X)
        self.seconds += seconds
        self.mean = self._sum / self.n_clips
        self.std = np.sqrt(np.maximum(self._sum_sq / self.n_clips - self.mean ** 2, 0.0))

    def update(self, features, seconds) -> Calibration:
        """Add more clips of the same speaker (e.g. later recordings of the session); returns ``self``."""
        X = np.asarray(features, np.float64).reshape(len(features), -1)
        self._add(X, float(np.sum(seconds)))
        return self

    @property
    def quality(self) -> str:
        """``"good"`` from :data:`GOOD_CALIBRATION_CLIPS` clips on, else ``"few clips"``."""
        return "good" if self.n_clips >= GOOD_CALIBRATION_CLIPS else "few clips"

    def normalize(self, X: np.ndarray, std_floor: np.ndarray | float = 0.0) -> np.ndarray:
        """``(X - mean) / max(std, std_floor)`` for features ``(n, n_states, 1024)`` or flattened."""
        X = np.asarray(X, np.float64).reshape(len(X), -1)
        return (X - self.mean) / np.maximum(self.std, np.maximum(std_floor, 1e-8))

    def to_dict(self) -> dict:
        return {"kind": "calibration", "n_clips": self.n_clips, "seconds": round(self.seconds, 3),
                "quality": self.quality, "encoder_sha256": self.encoder_sha256,
                "sum": self._sum.tolist(), "sum_sq": self._sum_sq.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        cal = cls(mean=None, std=None, n_clips=0, seconds=0.0, encoder_sha256=d.get("encoder_sha256", ""),
                  _sum=np.zeros(len(d["sum"])), _sum_sq=np.zeros(len(d["sum"])))
        cal._sum, cal._sum_sq = np.asarray(d["sum"], float), np.asarray(d["sum_sq"], float)
        cal.n_clips, cal.seconds = int(d["n_clips"]), float(d["seconds"])
        cal.mean = cal._sum / cal.n_clips
        cal.std = np.sqrt(np.maximum(cal._sum_sq / cal.n_clips - cal.mean ** 2, 0.0))
        return cal

    def save(self, path) -> Path:
        """Write as JSON (only when the user asks: calibrations live in the session otherwise)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict()))
        return path

    @classmethod
    def load(cls, path) -> Calibration:
        return cls.from_dict(json.loads(Path(path).read_text()))


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
    """

    def predict_features(self, X, calibration: Calibration | None = None) -> np.ndarray:
        """Probabilities for pooled states ``X`` ``(n, n_states, 1024)``; calibrated when given one."""
        if not hasattr(self, "global_head_"):
            raise RuntimeError("fit the classifier before predicting")
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        flat = np.asarray(X, np.float64).reshape(len(X), -1)
        columns = state_columns(self.n_states_, self.layers_)
        if calibration is not None and self.speaker_head_ is not None:
            normalized = calibration.normalize(flat, self.std_floor_)
            return self.speaker_head_.proba(normalized[:, columns], len(self.classes_))
        return self.global_head_.proba(flat[:, columns], len(self.classes_))

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
            arrays.update(self.speaker_head_.arrays("speaker"))
        np.savez(directory / "head.npz", **arrays)
        return {"file": "head.npz", "layers": list(self.layers_), "C": self.C_, "n_states": self.n_states_,
                "normalization": self.normalization, "balance": self.balance,
                "classifier": "logistic regression on standardised mean+std of the chosen states",
                "heads": {"global": "features standardised with the training set's statistics (no calibration)",
                          **({"speaker": "features standardised per speaker: needs a Calibration"}
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
    fitted.C_, fitted.n_states_ = head["C"], head["n_states"]
    fitted.std_floor_ = arrays["std_floor"]
    fitted.atypical_above_ = float(arrays["atypical_above"])
    fitted.global_head_ = LinearHead.from_arrays(arrays, "global")
    fitted.speaker_head_ = LinearHead.from_arrays(arrays, "speaker") if "speaker_mean" in arrays else None
    return fitted
