"""EmbeddingClassifier: the scikit-learn estimator that trains the heads of :mod:`serwidgets.heads`.

It pools the frozen encoder's states of every clip (cached by :mod:`serwidgets.embeddings`),
chooses states and regularisation by speaker-grouped cross-validation inside the training side
when asked (``"auto"``), and fits the global and the speaker-normalised logistic-regression heads.
Prediction from a saved bundle does not need this module: :func:`serwidgets.heads.load_head`
runs the fitted heads in numpy, without scikit-learn.

See Also
--------
serwidgets.heads : the fitted heads and :class:`~serwidgets.heads.Calibration`.
serwidgets.baseline.BaselineClassifier, serwidgets.train.NetClassifier : the other classifiers.
"""

from __future__ import annotations

import json

import numpy as np
from sklearn.base import BaseEstimator

# The fitted heads' arithmetic is shared with the numpy-only prediction path in heads.
from serwidgets.heads import (AUTO_C, AUTO_LAYERS, DEFAULT_C, DEFAULT_LAYERS, NORMALIZATIONS,
                              _ATYPICAL_FACTOR, _STD_FLOOR, _columns, _FittedHeads, _Head,
                              _speaker_statistics)

__all__ = ["EmbeddingClassifier"]

_FITTED: dict = {}  # fitted state by recipe + training clips (see EmbeddingClassifier.fit)
_FITTED_MAX = 64


class EmbeddingClassifier(_FittedHeads, BaseEstimator):
    """Logistic-regression heads on pooled encoder states (see the module docstring).

    A scikit-learn estimator, with the interface of the other classifiers
    (:class:`serwidgets.baseline.BaselineClassifier`): ``fit(train_df, val_df=None)`` and
    ``predict_proba(df)``. ``__init__`` stores the parameters as given (so
    :func:`sklearn.base.clone` makes an unfitted copy); :meth:`fit` checks them, and what it
    learns ends in ``_``.

    Parameters
    ----------
    labels : sequence of str
    layers : tuple of int or "auto"
        Encoder states to use (0 = convolutions, i = block i). ``"auto"``: the best of
        :data:`AUTO_LAYERS` by UA in a speaker-grouped CV of the training side.
    C : float or "auto"
        Inverse regularisation strength (``"auto"``: from :data:`AUTO_C`, chosen with ``layers``).
    normalization : {"speaker", "global"}
        Which head :meth:`predict_proba` uses for a speaker with a calibration; ``"speaker"``
        fits both heads, ``"global"`` only the global one.
    balance : str or None
        Sample weights of :func:`serwidgets.labels.balance_weights` (so the largest corpus
        does not dominate); None: equal weight per emotion only.
    encoder : str, optional
        Encoder bundle (default: the shipped one).
    audio_options : AudioOptions, optional
    cache_dir : str, optional
        Embedding cache (default: :func:`serwidgets.cache.default_cache_dir`).

    Attributes
    ----------
    classes_ : tuple of str
        ``labels`` as a tuple: the columns of :meth:`predict_proba`.
    n_states_ : int
        Encoder states in the features it was fitted on.
    layers_ : tuple of int
    C_ : float
    global_head_, speaker_head_ : fitted heads
    std_floor_ : np.ndarray
        :data:`_STD_FLOOR` times the training speakers' median per-dimension std.
    atypical_above_ : float
        Typicality above which a clip is :meth:`atypical`.
    cv_scores_ : dict
        UA of each candidate, when ``layers`` or ``C`` is ``"auto"``.

    See Also
    --------
    save_bundle : write the fitted heads as a model bundle.
    serwidgets.predictor.EncoderPredictor : runs a saved head on audio.

    Examples
    --------
    >>> from sklearn.base import clone
    >>> clf = EmbeddingClassifier(("angry", "neutral", "sad"), layers="auto")
    >>> clone(clf).get_params()["layers"], hasattr(clone(clf), "classes_")
    ('auto', False)
    """

    name = "whisper"

    def __init__(self, labels, layers=DEFAULT_LAYERS, C=DEFAULT_C, normalization="speaker",
                 balance="emotion-corpus", encoder=None, audio_options=None, cache_dir=None):
        self.labels = labels
        self.layers = layers
        self.C = C
        self.normalization = normalization
        self.balance = balance
        self.encoder = encoder
        self.audio_options = audio_options
        self.cache_dir = cache_dir

    # -- features --------------------------------------------------------------------------
    @property
    def recipe(self) -> dict:
        return {"classifier": "whisper", "layers": self.layers if self.layers == "auto" else list(self.layers),
                "C": self.C, "normalization": self.normalization, "balance": self.balance,
                "encoder": self.encoder or "default"}

    def embeddings(self, df) -> np.ndarray:
        """Pooled states of ``df`` ``(n, n_states, 1024)`` (cached)."""
        from serwidgets import embeddings
        from serwidgets.encoders import Encoder

        encoder = Encoder.load(self.encoder) if self.encoder else None
        X = embeddings.cached_embeddings(df, encoder, self.audio_options, self.cache_dir, progress=False)
        noisy = np.isfinite(df["snr_db"].to_numpy(float)) if "snr_db" in df else np.zeros(len(df), bool)
        if noisy.any():
            X[noisy] = embeddings.noisy_embeddings(df[noisy], encoder, self.audio_options)
        return X

    def skipped_files(self, df) -> dict:
        """Path -> :class:`~serwidgets.audio.AudioError` of each file of ``df`` that cannot be used."""
        from serwidgets import cache, embeddings
        from serwidgets.audio import AudioOptions
        from serwidgets.encoders import Encoder

        config = embeddings.embedding_config(Encoder.load(self.encoder) if self.encoder else None)
        out = cache.cached_features(df, config, self.audio_options or AudioOptions(), self.cache_dir,
                                    progress=False, compute=embeddings.embed_file)
        return dict(getattr(out, "skipped", {}))

    def _weights(self, df):
        if self.balance is None:
            counts = df["emotion"].map(df["emotion"].value_counts())
            return (len(df) / counts / df["emotion"].nunique()).to_numpy(float)
        from serwidgets.labels import balance_weights

        return np.asarray(balance_weights(df, self.balance), float)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, train_df, val_df=None):
        """Fit both heads on ``train_df`` (``val_df`` is unused: nothing stops early). Returns ``self``.

        Fits are memoised in the process by recipe and training clips: protocols that score
        the same folds several times (calibrated with k = 0, 5, 10, ... clips) train once.
        """
        import hashlib

        key = hashlib.sha256(json.dumps(
            [self.recipe, list(self.labels), list(map(str, train_df["path"])), list(train_df["emotion"]),
             list(map(str, train_df["speaker"])), list(map(str, train_df["corpus"]))]).encode()).hexdigest()
        if key not in _FITTED:
            self.fit_features(self.embeddings(train_df), train_df)
            _FITTED[key] = {k: v for k, v in vars(self).items() if k.endswith("_")}
            while len(_FITTED) > _FITTED_MAX:
                _FITTED.pop(next(iter(_FITTED)))
        vars(self).update(_FITTED[key])
        return self

    def fit_features(self, X, train_df):
        """:meth:`fit` from precomputed pooled states ``X`` ``(n, n_states, 1024)`` of ``train_df``.

        Rows that are NaN (files that could not be used) are skipped.
        """
        X = np.asarray(X, np.float64)
        usable = ~np.isnan(X).reshape(len(X), -1).any(axis=1)
        X, train_df = X[usable], train_df[usable]
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        labels = tuple(self.labels)
        index = {label: i for i, label in enumerate(labels)}
        import pandas as pd

        y = train_df["emotion"].map(index).to_numpy()
        if np.any(pd.isna(y)):
            raise ValueError(f"emotions outside {labels} in the training table")
        y = y.astype(int)
        speakers = train_df["speaker"].to_numpy()
        weights = self._weights(train_df)
        n_states = X.shape[1]
        flat = X.reshape(len(X), -1)
        statistics = _speaker_statistics(flat, speakers)
        typical = np.median(np.stack([s for _, s in statistics.values()]), axis=0)
        self.std_floor_ = _STD_FLOOR * np.where(typical > 0, typical, 1.0)
        by_speaker = np.empty_like(flat)
        for s, (mean, std) in statistics.items():
            rows = speakers == s
            by_speaker[rows] = (flat[rows] - mean) / np.maximum(std, self.std_floor_)
        self.n_states_ = n_states
        self.classes_ = labels
        if self.layers == "auto" or self.C == "auto":
            self.layers_, self.C_, self.cv_scores_ = self._choose(
                by_speaker if self.normalization == "speaker" else flat, y, speakers, weights, n_states)
        else:
            self.layers_, self.C_ = tuple(self.layers), float(self.C)
        columns = _columns(n_states, self.layers_)
        self.global_head_ = _Head.fit(flat[:, columns], y, self.C_, weights, len(labels))
        self.speaker_head_ = (_Head.fit(by_speaker[:, columns], y, self.C_, weights, len(labels))
                              if self.normalization == "speaker" else None)
        # Typicality: the mean squared z-score of a clip's features under the global head's
        # scaler. Training clips sit near 1; constant tones, noise and broken input far above.
        typicality = self.global_head_.typicality(flat[:, columns])
        self.atypical_above_ = _ATYPICAL_FACTOR * float(np.quantile(typicality, 0.99))
        return self

    def _choose(self, X, y, speakers, weights, n_states):
        """Layers and C with the best UA in a 3-fold speaker-grouped CV of the training side."""
        from sklearn.metrics import balanced_accuracy_score
        from sklearn.model_selection import GroupKFold

        layer_sets = AUTO_LAYERS if self.layers == "auto" else (tuple(self.layers),)
        Cs = AUTO_C if self.C == "auto" else (float(self.C),)
        folds = list(GroupKFold(min(3, len(np.unique(speakers)))).split(X, y, speakers))
        scores = {}
        for layers in layer_sets:
            if max(layers) >= n_states:
                continue
            columns = _columns(n_states, layers)
            for C in Cs:
                predicted = np.empty_like(y)
                for train, test in folds:
                    head = _Head.fit(X[np.ix_(train, columns)], y[train], C, weights[train], len(self.classes_))
                    predicted[test] = head.proba(X[np.ix_(test, columns)], len(self.classes_)).argmax(1)
                scores[(layers, C)] = balanced_accuracy_score(y, predicted)
        (layers, C), _ = max(scores.items(), key=lambda item: item[1])
        return layers, C, {f"{list(k[0])} C={k[1]:g}": round(v, 4) for k, v in scores.items()}

    def predict_proba(self, df, calibrations: dict | None = None) -> np.ndarray:
        """Probabilities ``(len(df), len(labels))``.

        Parameters
        ----------
        df : pandas.DataFrame
        calibrations : dict, optional
            speaker -> :class:`Calibration`; rows of those speakers use the speaker head.
        """
        if not hasattr(self, "global_head_"):
            raise RuntimeError("fit the classifier before predicting")
        X = self.embeddings(df)
        usable = ~np.isnan(X).any(axis=(1, 2))
        # A clip whose file cannot be used gets uniform probabilities.
        out = np.full((len(df), len(self.classes_)), 1.0 / len(self.classes_))
        out[usable] = self.predict_features(X[usable])
        if calibrations:
            speakers = df["speaker"].to_numpy()
            for speaker, calibration in calibrations.items():
                rows = (speakers == speaker) & usable
                if rows.any():
                    out[rows] = self.predict_features(X[rows], calibration)
        return out

    @classmethod
    def from_head(cls, directory, labels, head: dict) -> EmbeddingClassifier:
        """The classifier saved by :meth:`save_head` (for prediction from features)."""
        clf = cls(labels, layers=tuple(head["layers"]), C=head["C"], normalization=head["normalization"],
                  balance=head.get("balance"))
        clf._set_fitted(directory, labels, head)
        return clf
