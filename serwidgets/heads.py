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

Examples
--------
>>> from serwidgets.embedding_classifier import EmbeddingClassifier
>>> clf = EmbeddingClassifier(("angry", "neutral", "sad")).fit(train_df)    # doctest: +SKIP
>>> clf.predict_proba(test_df).shape                                        # doctest: +SKIP
(40, 3)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Calibration", "CalibrationError", "load_head", "save_bundle",
           "MIN_CALIBRATION_CLIPS", "MIN_CLIP_SECONDS", "GOOD_CALIBRATION_CLIPS", "DEFAULT_LAYERS", "AUTO_LAYERS", "AUTO_C"]

#: States used when ``layers`` is not chosen by cross-validation: blocks 1-3 of Whisper-base.
DEFAULT_LAYERS = (1, 2, 3)
#: Candidates for ``layers="auto"`` and ``C="auto"`` (speaker-grouped CV inside the training side).
AUTO_LAYERS = ((2,), (3,), (1, 2, 3))
AUTO_C = (0.01,)
DEFAULT_C = 0.01
#: A calibration needs at least this many clips, each at least this long (seconds)...
MIN_CALIBRATION_CLIPS = 3
MIN_CLIP_SECONDS = 1.0
#: ...and is called "good" from this many clips on (10 varied clips ≈ 30 s measured best per second spent).
GOOD_CALIBRATION_CLIPS = 10
#: Standard deviations below this share of the training speakers' typical one are raised to it:
#: with few clips a dimension can look constant, and dividing by ~0 would blow it up.
_STD_FLOOR = 0.1
#: A clip is atypical (``uncertain``) when its typicality exceeds this many times the 99th
#: percentile of the training clips'.
_ATYPICAL_FACTOR = 3.0
NORMALIZATIONS = ("speaker", "global")


class CalibrationError(ValueError):
    """Calibration clips are too few or too short; the message says what is needed."""


@dataclass
class Calibration:
    """Per-dimension mean and standard deviation of one speaker's pooled encoder features.

    Make one with :meth:`serwidgets.predictor.Predictor.calibrate` (from clips) or
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


def _speaker_statistics(X, speakers):
    """Mean and std of each speaker's rows: dict speaker -> (mean, std)."""
    return {s: (X[speakers == s].mean(0), X[speakers == s].std(0)) for s in np.unique(speakers)}


class _Head:
    """Standardise -> logistic regression, as plain arrays (saved without pickle)."""

    def __init__(self, mean, scale, coef, intercept, classes):
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept
        self.classes = np.asarray(classes)

    @classmethod
    def fit(cls, X, y, C, sample_weight, n_classes):
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        mean, scale = X.mean(0), X.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        model = LogisticRegression(C=C, max_iter=3000)
        # One BLAS thread: on 2 cores OpenBLAS's threads spin against each other in lbfgs's
        # small matrix products (measured: one fit 3.4 s with 2 threads, 0.12 s with 1).
        with threadpool_limits(limits=1, user_api="blas"):
            model.fit((X - mean) / scale, y, sample_weight=sample_weight)
        return cls(mean, scale, model.coef_, model.intercept_, model.classes_)

    def proba(self, X, n_classes):
        logits = ((X - self.mean) / self.scale) @ self.coef.T + self.intercept
        if logits.shape[1] == 1:  # binary: sklearn keeps one row of coefficients
            logits = np.concatenate([-logits / 2, logits / 2], axis=1)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        out = np.zeros((len(X), n_classes))
        out[:, self.classes] = p
        return out

    def typicality(self, X):
        return (((X - self.mean) / self.scale) ** 2).mean(1)

    def arrays(self, prefix):
        return {f"{prefix}_{k}": getattr(self, k) for k in ("mean", "scale", "coef", "intercept", "classes")}

    @classmethod
    def from_arrays(cls, arrays, prefix):
        return cls(*(arrays[f"{prefix}_{k}"] for k in ("mean", "scale", "coef", "intercept", "classes")))


def _columns(n_states, layers, dim=1024):
    """Indices of the flattened ``(n_states * dim)`` features that belong to ``layers``."""
    return np.concatenate([np.arange(layer * dim, (layer + 1) * dim) for layer in layers])


class _FittedHeads:
    """What a fitted :class:`EmbeddingClassifier` predicts with: its heads as plain arrays.

    The estimator itself needs scikit-learn, whose import costs about a second and 120 MB
    (it brings pandas and pyarrow); prediction from a saved bundle needs none of that, so
    :func:`load_head` returns this base of the estimator instead.
    """

    # -- prediction ------------------------------------------------------------------------
    def predict_features(self, X, calibration: Calibration | None = None) -> np.ndarray:
        """Probabilities for pooled states ``X`` ``(n, n_states, 1024)``; calibrated when given one."""
        if not hasattr(self, "global_head_"):
            raise RuntimeError("fit the classifier before predicting")
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        flat = np.asarray(X, np.float64).reshape(len(X), -1)
        columns = _columns(self.n_states_, self.layers_)
        if calibration is not None and self.speaker_head_ is not None:
            normalized = calibration.normalize(flat, self.std_floor_)
            return self.speaker_head_.proba(normalized[:, columns], len(self.classes_))
        return self.global_head_.proba(flat[:, columns], len(self.classes_))

    def atypical(self, X, calibration: Calibration | None = None) -> np.ndarray:
        """Whether each row of pooled states ``X`` lies far outside the training clips (bool array).

        Uses the global head's scaler (a calibration changes where "normal" is, not how far
        out a broken input lies).
        """
        flat = np.asarray(X, np.float64).reshape(len(X), -1)[:, _columns(self.n_states_, self.layers_)]
        return self.global_head_.typicality(flat) > self.atypical_above_

    # -- saving ----------------------------------------------------------------------------
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

    def _set_fitted(self, directory, labels, head: dict) -> None:
        with np.load(Path(directory) / head["file"], allow_pickle=False) as arrays:
            arrays = dict(arrays)
        self.classes_, self.layers_ = tuple(labels), tuple(head["layers"])
        self.C_, self.n_states_ = head["C"], head["n_states"]
        self.std_floor_ = arrays["std_floor"]
        self.atypical_above_ = float(arrays["atypical_above"])
        self.global_head_ = _Head.from_arrays(arrays, "global")
        self.speaker_head_ = _Head.from_arrays(arrays, "speaker") if "speaker_mean" in arrays else None


def load_head(directory, labels, head: dict) -> _FittedHeads:
    """The heads saved by :meth:`EmbeddingClassifier.save_head`, for prediction from pooled states.

    Parameters
    ----------
    directory : str or Path
        The bundle folder.
    labels : sequence of str
        The card's labels.
    head : dict
        The card's ``head`` entry.

    Returns
    -------
    object
        With ``predict_features`` and ``atypical`` of :class:`EmbeddingClassifier`; scikit-learn
        is not imported.

    See Also
    --------
    EmbeddingClassifier.from_head : the same as an estimator (imports scikit-learn).

    Examples
    --------
    >>> from serwidgets import shipped
    >>> from serwidgets.card import ModelCard
    >>> directory = shipped.path("models") / "ser-emotion6"
    >>> card = ModelCard.read(directory)
    >>> fitted = load_head(directory, card.labels, card.head)
    >>> fitted.predict_features(np.zeros((2, 4, 1024))).shape
    (2, 6)
    """
    fitted = _FittedHeads()
    fitted.normalization, fitted.balance = head["normalization"], head.get("balance")
    fitted._set_fitted(directory, labels, head)
    return fitted


def __getattr__(name):
    # A deprecated name, kept for a release: EmbeddingClassifier lives in
    # serwidgets.embedding_classifier (it imports scikit-learn, which the predictor's path avoids).
    if name == "EmbeddingClassifier":
        import warnings

        from serwidgets.embedding_classifier import EmbeddingClassifier

        warnings.warn("serwidgets.heads.EmbeddingClassifier moved to serwidgets.embedding_classifier",
                      DeprecationWarning, stacklevel=2)
        return EmbeddingClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def save_bundle(classifier, directory, *, task: str, training: dict,
                metrics: dict | None = None, name: str | None = None, description: str = "",
                window_seconds: float = 3.0) -> Path:
    """Write a fitted :class:`EmbeddingClassifier` as a model bundle: ``head.npz`` + ``card.json``.

    The card names the encoder bundle (its name, id and the sha256 of its ``encoder.tflite``),
    so :func:`serwidgets.predictor.load_model` refuses to run the head on another encoder.

    Examples
    --------
    >>> save_bundle(clf, "models/ser-emotion6", task="emotion6", training={...})   # doctest: +SKIP
    """
    from serwidgets.audio import AudioOptions
    from serwidgets.card import EncoderHeadCard
    from serwidgets.encoders import Encoder

    directory = Path(directory)
    encoder = Encoder.load(classifier.encoder)
    head = classifier.save_head(directory)
    card = EncoderHeadCard(
        name=name or directory.name, description=description, task=task,
        labels=classifier.classes_, encoder=encoder.reference, head=head,
        audio_options=classifier.audio_options or AudioOptions(), window_seconds=window_seconds,
        training=training, metrics=metrics or {},
    )
    card.add_files(directory, head["file"]).stamp().write(directory)
    return directory
