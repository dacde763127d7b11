"""EmbeddingClassifier: the scikit-learn estimator that trains the heads of :mod:`serwidgets.heads`.

It pools the frozen encoder's states of every clip (cached by :mod:`serwidgets.embeddings`),
chooses states and regularisation by speaker-grouped cross-validation inside the training side
when asked (``"auto"``), and fits the global and the speaker-normalised logistic-regression heads.
A classifier of :mod:`serwidgets.classifier`; it can also be calibrated to a speaker
(:meth:`EmbeddingClassifier.calibrate`). Prediction from a saved bundle does not need this
module: the fitted heads run in numpy, without scikit-learn (:mod:`serwidgets.heads`).

Fits are memoised in the process, keyed by everything that changes them: every parameter, the
training rows (path, emotion, speaker, corpus) and the sha256 of the pooled states they fit on
(so file contents, audio options and the encoder count too). Protocols that score the same folds
several times (calibrated with k = 0, 5, 10, ... clips) train each fold once.

See Also
--------
serwidgets.heads : the fitted heads.
serwidgets.calibration : calibration to a speaker (statistics, labelled takes).
serwidgets.baseline.BaselineClassifier, serwidgets.train.NetClassifier : the other classifiers.

Examples
--------
>>> clf = EmbeddingClassifier(("angry", "neutral", "sad")).fit(train_df)    # doctest: +SKIP
>>> me = clf.calibrate(some_clips, labels=["sad", None, "angry"])             # doctest: +SKIP
>>> clf.predict_proba(test_df, calibrations={"emodb:16": me})                 # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from serwidgets.calibration import Calibration, check_labels
from serwidgets.classifier import Classifier
# What the heads predict with is numpy only, shared with a loaded model (serwidgets.heads).
from serwidgets.heads import FittedHeads, LinearHead, state_columns

__all__ = ["EmbeddingClassifier", "fit_linear_head", "DEFAULT_LAYERS", "AUTO_LAYERS", "DEFAULT_C", "AUTO_C",
           "NORMALIZATIONS"]

#: States used when ``layers`` is not chosen by cross-validation: blocks 1-3 of Whisper-base.
DEFAULT_LAYERS = (1, 2, 3)
#: Candidates for ``layers="auto"`` and ``C="auto"`` (speaker-grouped CV inside the training side).
AUTO_LAYERS = ((2,), (3,), (1, 2, 3))
AUTO_C = (0.01,)
DEFAULT_C = 0.01
#: Which head a calibrated speaker gets (see ``normalization``).
NORMALIZATIONS = ("speaker", "global")
#: Standard deviations below this share of the training speakers' typical one are raised to it:
#: with few clips a dimension can look constant, and dividing by ~0 would blow it up.
STD_FLOOR = 0.1
#: A clip is atypical (not sure) when its typicality exceeds this many times the 99th
#: percentile of the training clips'.
ATYPICAL_FACTOR = 3.0

_FITTED: dict = {}  # fitted state by fit key (see EmbeddingClassifier.fit)
_FITTED_MAX = 64


def fit_linear_head(X, y, C, sample_weight) -> LinearHead:
    """Standardise ``X`` and fit a multinomial logistic regression: a :class:`~serwidgets.heads.LinearHead`.

    Examples
    --------
    >>> X = np.r_[np.random.default_rng(0).normal(-1, 1, (20, 3)), np.random.default_rng(1).normal(1, 1, (20, 3))]
    >>> head = fit_linear_head(X, np.r_[[0] * 20, [2] * 20], C=1.0, sample_weight=np.ones(40))
    >>> head.classes.tolist(), head.proba(np.array([[-2.0, -2, -2], [2, 2, 2]]), 3).argmax(1).tolist()
    ([0, 2], [0, 2])
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    mean, scale = X.mean(0), X.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    model = LogisticRegression(C=C, max_iter=3000)
    # One BLAS thread: on 2 cores OpenBLAS's threads spin against each other in lbfgs's
    # small matrix products (measured: one fit 3.4 s with 2 threads, 0.12 s with 1).
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit((X - mean) / scale, y, sample_weight=sample_weight)
    return LinearHead(mean, scale, model.coef_, model.intercept_, model.classes_)


def _class_offsets(U, y, weights, n_classes) -> np.ndarray:
    """Weighted mean of each class's rows of ``U`` (zeros for a class with no row): where each class
    sits among the speaker-standardised training features, balanced as the head was trained."""
    return np.stack([np.average(U[y == c], axis=0, weights=weights[y == c]) if (y == c).any()
                     else np.zeros(U.shape[1]) for c in range(n_classes)])


def _speaker_statistics(X, speakers):
    """Mean and std of each speaker's rows: dict speaker -> (mean, std)."""
    return {s: (X[speakers == s].mean(0), X[speakers == s].std(0)) for s in np.unique(speakers)}


class EmbeddingClassifier(FittedHeads, Classifier):
    """Logistic-regression heads on pooled encoder states (see the module docstring).

    Parameters
    ----------
    labels : sequence of str
    layers : tuple of int or "auto"
        Encoder states to use (0 = convolutions, i = block i). ``"auto"``: the best of
        :data:`AUTO_LAYERS` by UA in a speaker-grouped CV of the training side.
    C : float or "auto"
        Inverse regularisation strength (``"auto"``: from :data:`AUTO_C`,
        chosen with ``layers``).
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
    layers_, C_, n_states_ : the states and C the heads use; the states in the features fitted on
    global_head_, speaker_head_ : heads.LinearHead (see :class:`~serwidgets.heads.FittedHeads`)
    class_offsets_ : np.ndarray
        Where each class sits among the speaker-standardised training features (labelled calibration).
    std_floor_ : np.ndarray
        :data:`STD_FLOOR` times the training speakers' median per-dimension std.
    atypical_above_ : float
        Typicality above which a clip is :meth:`atypical`.
    cv_scores_ : dict
        UA of each ``(layers, C)`` candidate, when ``layers`` or ``C`` is ``"auto"``.

    Examples
    --------
    >>> from sklearn.base import clone
    >>> clf = EmbeddingClassifier(("angry", "neutral", "sad"), layers="auto")
    >>> clone(clf).get_params()["layers"], hasattr(clone(clf), "classes_")
    ('auto', False)
    >>> clf.to_recipe()
    {'layers': 'auto', 'C': 0.01, 'normalization': 'speaker', 'balance': 'emotion-corpus', 'encoder': None}
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

    def to_recipe(self) -> dict:
        return {"layers": self.layers if self.layers == "auto" else list(self.layers), "C": self.C,
                "normalization": self.normalization, "balance": self.balance, "encoder": self.encoder}

    # -- features --------------------------------------------------------------------------
    def _encoder(self):
        from serwidgets.encoders import Encoder

        return Encoder.load(self.encoder) if self.encoder else None

    def embeddings(self, df) -> np.ndarray:
        """Pooled states of ``df`` ``(n, n_states, 1024)`` (cached; NaN rows: files that cannot be used)."""
        from serwidgets import embeddings

        encoder = self._encoder()
        X = embeddings.cached_embeddings(df, encoder, self.audio_options, self.cache_dir, progress=False)
        noisy = np.isfinite(df["snr_db"].to_numpy(float)) if "snr_db" in df else np.zeros(len(df), bool)
        if noisy.any():
            X[noisy] = embeddings.noisy_embeddings(df[noisy], encoder, self.audio_options)
        return X

    def skipped_files(self, df) -> dict:
        """Path -> :class:`~serwidgets.audio.AudioError` of each file of ``df`` that cannot be used."""
        from serwidgets import cache, embeddings
        from serwidgets.audio import AudioOptions

        out = cache.cached_features(df, embeddings.embedding_config(self._encoder()),
                                    self.audio_options or AudioOptions(), self.cache_dir, progress=False,
                                    compute=embeddings.embed_file)
        return dict(out.skipped)

    def _weights(self, df):
        if self.balance is None:
            counts = df["emotion"].map(df["emotion"].value_counts())
            return (len(df) / counts / df["emotion"].nunique()).to_numpy(float)
        from serwidgets.labels import balance_weights

        return np.asarray(balance_weights(df, self.balance), float)

    # -- fitting ---------------------------------------------------------------------------
    def _fit_key(self, df, X) -> str:
        """What the fit depends on: every parameter, the rows and the states they fit on."""
        rows = [list(map(str, df[column])) for column in ("path", "emotion", "speaker", "corpus")]
        material = json.dumps([type(self).__qualname__, repr(sorted(self.get_params().items())), rows])
        digest = hashlib.sha256(material.encode())
        digest.update(np.ascontiguousarray(X).tobytes())
        return digest.hexdigest()

    def fit(self, df):
        """Fit both heads on ``df`` (see :meth:`fit_features`); memoised (module docstring). Returns ``self``."""
        X = self.embeddings(df)
        key = self._fit_key(df, X)
        if key not in _FITTED:
            self.fit_features(X, df)
            _FITTED[key] = {k: v for k, v in vars(self).items() if k.endswith("_")}
            while len(_FITTED) > _FITTED_MAX:
                _FITTED.pop(next(iter(_FITTED)))
        vars(self).update(_FITTED[key])
        return self

    def fit_features(self, X, df):
        """:meth:`fit` from precomputed pooled states ``X`` ``(n, n_states, 1024)`` of ``df`` (not memoised).

        Rows that are NaN (files that could not be used) are skipped.
        """
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        X = np.asarray(X, np.float64)
        usable = ~np.isnan(X).reshape(len(X), -1).any(axis=1)
        X, df = X[usable], df[usable]
        y, speakers, weights = self._targets(df), df["speaker"].to_numpy(), self._weights(df)
        n_states = X.shape[1]
        flat = X.reshape(len(X), -1)
        statistics = _speaker_statistics(flat, speakers)
        typical = np.median(np.stack([s for _, s in statistics.values()]), axis=0)
        self.std_floor_ = STD_FLOOR * np.where(typical > 0, typical, 1.0)
        by_speaker = np.empty_like(flat)
        for s, (mean, std) in statistics.items():
            rows = speakers == s
            by_speaker[rows] = (flat[rows] - mean) / np.maximum(std, self.std_floor_)
        self.n_states_ = n_states
        k = len(self.labels)
        if self.layers == "auto" or self.C == "auto":
            candidates = [(tuple(layers), C) for layers in (AUTO_LAYERS if self.layers == "auto" else [self.layers])
                          if max(layers) < n_states for C in (AUTO_C if self.C == "auto" else [float(self.C)])]
            X_cv = by_speaker if self.normalization == "speaker" else flat

            def fit_predict(candidate, train, test):
                columns = state_columns(n_states, candidate[0])
                head = fit_linear_head(X_cv[np.ix_(train, columns)], y[train], candidate[1], weights[train])
                return head.proba(X_cv[np.ix_(test, columns)], k).argmax(1)

            (self.layers_, self.C_), scores = self._choose(candidates, fit_predict, y, speakers, n_folds=3)
            self.cv_scores_ = {f"{list(layers)} C={C:g}": round(v, 4) for (layers, C), v in scores.items()}
        else:
            self.layers_, self.C_ = tuple(self.layers), float(self.C)
        columns = state_columns(n_states, self.layers_)
        self.global_head_ = fit_linear_head(flat[:, columns], y, self.C_, weights)
        self.speaker_head_ = (fit_linear_head(by_speaker[:, columns], y, self.C_, weights)
                              if self.normalization == "speaker" else None)
        self.class_offsets_ = (_class_offsets(by_speaker[:, columns], y, weights, k)
                               if self.normalization == "speaker" else None)
        # Typicality: the mean squared z-score of a clip's features under the global head's
        # scaler. Training clips sit near 1; constant tones, noise and broken input far above.
        typicality = self.global_head_.typicality(flat[:, columns])
        self.atypical_above_ = ATYPICAL_FACTOR * float(np.quantile(typicality, 0.99))
        self._fitted(df, layers=list(self.layers_), C=self.C_)
        return self

    # -- prediction ------------------------------------------------------------------------
    def calibrate(self, df, labels=None) -> Calibration:
        """A :class:`~serwidgets.calibration.Calibration` to one speaker from the clips of ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            Clips of one speaker.
        labels : sequence of (str or None), optional
            One per row: the label the clip is given (one of :attr:`labels`), or None for an
            unlabelled clip. Default: all unlabelled.

        Raises
        ------
        serwidgets.calibration.CalibrationError
            Fewer usable clips than :data:`~serwidgets.calibration.MIN_CALIBRATION_CLIPS`.
        ValueError
            A label that is not one of the classifier's.
        """
        labels = check_labels(labels, self.labels, len(df)) or [None] * len(df)
        X = self.embeddings(df)
        usable = ~np.isnan(X).any(axis=(1, 2))
        return Calibration.from_features(X[usable], seconds=None, labels=[label for label, ok in zip(labels, usable) if ok])

    def predict_proba(self, df, calibrations: dict | None = None) -> np.ndarray:
        """Probabilities ``(len(df), len(labels))``.

        Parameters
        ----------
        df : pandas.DataFrame
        calibrations : dict, optional
            speaker -> :class:`~serwidgets.calibration.Calibration` (:meth:`calibrate`); rows of those
            speakers use the speaker head.
        """
        self._check_fitted("predicting")
        X = self.embeddings(df)
        usable = ~np.isnan(X).any(axis=(1, 2))
        out = self._uniform_where(usable, self.predict_features(X[usable]))
        speakers = df["speaker"].to_numpy()
        for speaker, calibration in (calibrations or {}).items():
            rows = (speakers == speaker) & usable
            if rows.any():
                out[rows] = self.predict_features(X[rows], calibration)
        return out

    # -- saving ----------------------------------------------------------------------------
    def _save(self, directory, **card_fields) -> None:
        """``head.npz`` and an encoder-head card naming the encoder (its id and sha256), so a
        loaded model refuses to run the head on another encoder."""
        from serwidgets.audio import AudioOptions
        from serwidgets.card import EncoderHeadCard
        from serwidgets.encoders import Encoder

        head = self.save_head(directory)
        card = EncoderHeadCard(encoder=Encoder.load(self.encoder).reference, head=head,
                               audio_options=self.audio_options or AudioOptions(), **card_fields)
        card.add_files(directory, head["file"]).stamp().write(directory)
