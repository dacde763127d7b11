"""The classical baseline: utterance functionals and a scikit-learn estimator.

Each clip becomes one fixed-length vector of statistics over time, one of three feature sets
(``feature_set``: ``"stats"``, ``"compare"``, ``"egemaps"``; see :mod:`serwidgets.functionals`),
computed on the prepared waveform and cached on disk.

A :class:`~sklearn.preprocessing.StandardScaler` fitted on the training rows only, then
logistic regression (or an RBF SVM), both with balanced class weights. ``C="auto"`` chooses the
regularisation by a speaker-grouped cross-validation *inside* the training side, so no
test speaker influences it. Fast enough to run every protocol in minutes: the anchor the
networks must beat.

Speaker normalisation (``speaker_norm=True``) standardises every speaker's features by
that speaker's own mean and standard deviation before the scaler
(:func:`serwidgets.functionals.speaker_norm`) -- the training speakers' from their training
clips, a test speaker's from *all of their test clips*. It is the classic speaker-normalised
protocol of the SER literature (Schuller et al., 2009) and it removes much of what makes
voices differ, but it is transductive: it needs a batch of unlabelled clips of each new
speaker before it can predict one, so it cannot score a single recording of a stranger (the
dashboard's situation). Results say when it was used.

Examples
--------
>>> from serwidgets.baseline import BaselineClassifier
>>> clf = BaselineClassifier(("angry", "sad")).fit(train_df)        # doctest: +SKIP
>>> clf.predict_proba(test_df).shape                                # doctest: +SKIP
(20, 2)
>>> clf.save("models/baseline-emodb7", task="emodb7")               # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from .audio import AudioOptions
from .classifier import Classifier
from .features import FeatureConfig
from .functionals import FEATURE_SETS, row_functionals, speaker_norm

__all__ = ["BaselineClassifier", "AUTO_C", "ESTIMATORS"]

#: Choices of ``C="auto"`` (inverse regularisation of the logistic regression).
AUTO_C = (0.001, 0.01, 0.1)

#: The scikit-learn estimators after the scaler.
ESTIMATORS = ("logreg", "svm")


class BaselineClassifier(Classifier):
    """Utterance functionals + StandardScaler + logistic regression (or an RBF SVM).

    A classifier of :mod:`serwidgets.classifier`: ``fit(df)``, ``predict_proba(df)``,
    ``save(directory, task=...)``; rows with an ``snr_db`` column value get test-time noise (see
    :func:`serwidgets.inputs.load_inputs`). :meth:`fit` checks the parameters.

    Parameters
    ----------
    labels : sequence of str
        Output order.
    estimator : {"logreg", "svm"}
        Logistic regression by default: with ``"stats"`` on EmoDB LOSO (7 classes) it scored
        UA 0.706 at ``C=0.1``, against 0.669 at ``C=0.01`` and 0.652 / 0.662 for the RBF SVM
        at ``C=1`` / ``C=10`` (chosen on that protocol itself, so slightly optimistic).
    C : float, "auto" or None
        Inverse regularisation strength. ``"auto"``: the best of :data:`AUTO_C` by UA in a
        speaker-grouped cross-validation of the training side (logistic regression only).
        None: 0.1 for ``"stats"`` (the value above), ``"auto"`` for the openSMILE sets.
    feature_set : {"stats", "compare", "egemaps"}
        Feature set (see :mod:`serwidgets.functionals`).
    speaker_norm : bool
        Standardise features per speaker (see the module docstring): needs a ``speaker``
        column and at least two clips of every speaker in each table passed in.
    feature_config : FeatureConfig, optional
    audio_options : AudioOptions, optional
    cache_dir : str or path, optional
        Feature cache folder (default: :func:`serwidgets.cache.default_cache_dir`).
    seed : int

    Attributes
    ----------
    classes_ : tuple of str
    C_ : float
        The ``C`` the last :meth:`fit` used (also in ``chosen_``).
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted scaler and estimator.

    See Also
    --------
    serwidgets.functionals : the features.
    serwidgets.evaluate.evaluate : runs a protocol with a clone of it per fold.

    Examples
    --------
    >>> clf = BaselineClassifier(("angry", "sad"), feature_set="egemaps")
    >>> clf.get_params()["feature_set"], clf.to_recipe()["C"]
    ('egemaps', 'auto')
    >>> BaselineClassifier.from_recipe(("angry", "sad"), clf.to_recipe()).to_recipe() == clf.to_recipe()
    True
    """

    name = "baseline"

    def __init__(self, labels, estimator="logreg", C=None, feature_set="stats", speaker_norm=False,
                 feature_config=None, audio_options=None, cache_dir=None, seed=0):
        self.labels = labels
        self.estimator = estimator
        self.C = C
        self.feature_set = feature_set
        self.speaker_norm = speaker_norm
        self.feature_config = feature_config
        self.audio_options = audio_options
        self.cache_dir = cache_dir
        self.seed = seed

    # -- parameters, checked and with their defaults filled in -------------------------------
    def _check_params(self):
        if self.feature_set not in FEATURE_SETS:
            raise ValueError(f"feature_set must be one of {sorted(FEATURE_SETS)}, got {self.feature_set!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be 'svm' or 'logreg', got {self.estimator!r}")
        if self._C == "auto" and self.estimator != "logreg":
            raise ValueError("C='auto' is implemented for the logistic regression only")

    @property
    def _C(self):
        if self.C is None:
            return 0.1 if self.feature_set == "stats" else "auto"
        return self.C

    @property
    def _feature_config(self):
        return self.feature_config or FeatureConfig()

    @property
    def _audio_options(self):
        return self.audio_options or AudioOptions()

    def to_recipe(self) -> dict:
        """The parameters that shape the fit (``C`` with its default filled in)."""
        return {"feature_set": self.feature_set, "estimator": self.estimator, "C": self._C,
                "speaker_norm": bool(self.speaker_norm), "seed": self.seed}

    # -- features ----------------------------------------------------------------------------
    def _features(self, df, skipped=None):
        """Feature matrix of ``df``; rows whose file cannot be used are NaN, their errors go to ``skipped``."""
        from threadpoolctl import threadpool_limits

        self._check_params()
        cache_dir = None if self.cache_dir is None else str(self.cache_dir)
        columns = {
            "snr_db": df["snr_db"].to_numpy(float) if "snr_db" in df else np.full(len(df), np.nan),
            "noise": df["noise"].to_numpy() if "noise" in df else np.full(len(df), None),
            "copy": df["copy"].fillna(0).to_numpy(int) if "copy" in df else np.zeros(len(df), int),
        }
        with threadpool_limits(limits=1, user_api="blas"):
            rows = [
                row_functionals(str(path), float(snr), noise, int(copy), self.feature_set,
                                self._feature_config, self._audio_options, cache_dir)
                for path, snr, noise, copy in zip(df["path"], *columns.values())
            ]
        errors = {str(p): r for p, r in zip(df["path"], rows) if isinstance(r, Exception)}
        if skipped is not None:
            skipped.update(errors)
        size = next((r.size for r in rows if not isinstance(r, Exception)), 1)
        X = np.stack([np.full(size, np.nan, np.float32) if isinstance(r, Exception) else r for r in rows]) \
            if rows else np.zeros((0, size), np.float32)
        if self.speaker_norm:
            usable = ~np.isnan(X).any(axis=1)
            X = X.astype(np.float64)
            X[usable] = speaker_norm(X[usable], df["speaker"].to_numpy()[usable])
        return X

    def skipped_files(self, df) -> dict:
        """Path -> :class:`~serwidgets.audio.AudioError` of each file of ``df`` that cannot be used.

        Computes (and memoises) the features; the counts per cause are printed to stderr.
        """
        from .cache import report_skipped

        skipped = {}
        self._features(df.assign(snr_db=np.nan) if "snr_db" in df else df, skipped)
        report_skipped(skipped, df["path"].nunique())
        return skipped

    # -- fitting -----------------------------------------------------------------------------
    def _model(self, C):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        if self.estimator == "svm":
            # Platt-scaled probabilities: the sigmoid calibration SVC(probability=True) fits internally.
            return make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(C=C, class_weight="balanced"),
                                                                          ensemble=False))
        return make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=3000))

    def fit(self, df):
        """Fit scaler and estimator on ``df`` only (``C="auto"``: chosen there too, by speaker folds).

        Returns
        -------
        BaselineClassifier
            ``self``.
        """
        self._check_params()
        X, y = self._features(df), self._targets(df)
        usable = ~np.isnan(X).any(axis=1)  # files that cannot be used are skipped
        X, y, speakers = X[usable], y[usable], df["speaker"].to_numpy()[usable]
        if self._C == "auto":
            self.C_, self.cv_scores_ = self._choose(
                AUTO_C, lambda C, train, test: self._model(C).fit(X[train], y[train]).predict(X[test]),
                y, speakers, n_folds=5)
        else:
            self.C_ = float(self._C)
        self.pipeline_ = self._model(self.C_).fit(X, y)
        self._fitted(df, C=self.C_)
        return self

    def predict_proba(self, df):
        """Probabilities ``(len(df), len(classes_))``; classes absent from training get 0."""
        self._check_fitted("predicting")
        X = self._features(df)
        usable = ~np.isnan(X).any(axis=1)
        known = np.zeros((int(usable.sum()), len(self.classes_)))
        if usable.any():
            known[:, self.pipeline_.classes_] = self.pipeline_.predict_proba(X[usable])
        return self._uniform_where(usable, known)

    # -- saving ------------------------------------------------------------------------------
    def _save(self, directory, **card_fields) -> None:
        """``baseline.npz`` (the scaler's and the logistic regression's arrays, no pickle) and the card."""
        from .card import BaselineCard

        if self.estimator != "logreg":
            raise NotImplementedError("a baseline bundle holds a logistic regression; this one is an SVM")
        if self.speaker_norm:
            raise NotImplementedError("a speaker-normalised model needs its speakers' clips: not saved")
        scaler, model = self.pipeline_[0], self.pipeline_[-1]
        np.savez(directory / "baseline.npz", mean=scaler.mean_, scale=scaler.scale_, coef=model.coef_,
                 intercept=model.intercept_, classes=model.classes_)
        card = BaselineCard(feature_set=self.feature_set, feature_config=self._feature_config,
                            audio_options=self._audio_options, **card_fields)
        card.add_files(directory, "baseline.npz").stamp().write(directory)
