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
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator

from .audio import AudioOptions
from .deprecation import renamed_attribute
from .features import FeatureConfig

# Functionals moved to serwidgets.functionals; importable from here for one more release.
from .functionals import (FEATURE_SETS, _clip_features, _smile_worker, opensmile_functionals,  # noqa: F401
                          speaker_norm, speaker_normalize, utterance_features)
from .functionals import _compare_of_file, _egemaps_of_file, _stats_of_file  # noqa: F401

__all__ = ["BaselineClassifier", "AUTO_C", "ESTIMATORS", "recipe_options"]

#: Choices of ``C="auto"`` (inverse regularisation of the logistic regression).
AUTO_C = (0.001, 0.01, 0.1)

#: The scikit-learn estimators after the scaler.
ESTIMATORS = ("logreg", "svm")

def recipe_options(recipe):
    """:class:`BaselineClassifier` arguments from a saved baseline recipe (old or new keys).

    Recipes written before the names were unified call the estimator ``"classifier"`` and
    the learner kind ``"model"``.

    Examples
    --------
    >>> recipe_options({"model": "baseline", "feature_set": "compare", "classifier": "logreg", "C": "auto",
    ...                 "speaker_norm": True, "seed": 0})
    {'feature_set': 'compare', 'estimator': 'logreg', 'C': 'auto', 'speaker_norm': True, 'seed': 0}
    """
    out = {k: v for k, v in recipe.items() if k not in ("model", "classifier", "estimator")}
    estimator = recipe.get("estimator", recipe.get("classifier") if recipe.get("classifier") in ESTIMATORS else None)
    keys = ("feature_set", "estimator", "C", "speaker_norm", "seed")
    out = {**out, **({"estimator": estimator} if estimator is not None else {})}
    return {k: out[k] for k in keys if k in out}


class BaselineClassifier(BaseEstimator):
    """Utterance functionals + StandardScaler + logistic regression (or an RBF SVM).

    Same interface as :class:`serwidgets.train.NetClassifier`: ``fit(train_df, val_df=None)``
    and ``predict_proba(df)``; rows with an ``snr_db`` column value get test-time noise (see
    :func:`serwidgets.inputs.load_inputs`). ``val_df`` is unused: nothing stops early.
    A scikit-learn estimator: the parameters are stored as given (checked by :meth:`fit`),
    what fitting learns ends in ``_``, and :func:`sklearn.base.clone` makes an unfitted copy.

    Parameters
    ----------
    labels : sequence of str
        Output order.
    estimator : {"logreg", "svm"}
        Logistic regression by default: with ``"stats"`` on EmoDB LOSO (7 classes) it scored
        UA 0.706 at ``C=0.1``, against 0.669 at ``C=0.01`` and 0.652 / 0.662 for the RBF SVM
        at ``C=1`` / ``C=10`` (chosen on that protocol itself, so slightly optimistic).
        (The old keyword ``classifier=`` still works, with a DeprecationWarning.)
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
        The labels, in output order.
    C_ : float
        The ``C`` the last :meth:`fit` used.
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted scaler and estimator.

    See Also
    --------
    serwidgets.functionals : the features.
    serwidgets.evaluate.evaluate : runs a protocol with a clone of it per fold.

    Examples
    --------
    >>> clf = BaselineClassifier(("angry", "sad"), feature_set="egemaps")
    >>> clf.get_params()["feature_set"], clf.recipe["C"]
    ('egemaps', 'auto')
    >>> from sklearn.base import clone
    >>> clone(clf).feature_set
    'egemaps'
    """

    name = "baseline"

    def __init__(self, labels, estimator="logreg", C=None, feature_set="stats", speaker_norm=False,
                 feature_config=None, audio_options=None, cache_dir=None, seed=0, **deprecated):
        if "classifier" in deprecated:
            warnings.warn("BaselineClassifier(classifier=...) is deprecated; use estimator=",
                          DeprecationWarning, stacklevel=2)
            estimator = deprecated.pop("classifier")
        if deprecated:
            raise TypeError(f"BaselineClassifier() got an unexpected keyword argument {next(iter(deprecated))!r}")
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

    @property
    def recipe(self) -> dict:
        """What the results files record of this classifier (``C`` with its default filled in)."""
        return {"classifier": "baseline", "feature_set": self.feature_set, "estimator": self.estimator,
                "C": self._C, "speaker_norm": bool(self.speaker_norm), "seed": self.seed}

    # -- deprecated attribute names (one release) --------------------------------------------
    classifier = renamed_attribute("estimator")
    chosen_C = renamed_attribute("C_")
    pipeline = renamed_attribute("pipeline_")

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
                _clip_features(str(path), float(snr), noise, int(copy), self.feature_set,
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
        from sklearn.svm import SVC

        if self.estimator == "svm":
            # Platt-scaled probabilities (what SVC(probability=True) did, before its deprecation).
            return CalibratedClassifierCV(SVC(C=C, class_weight="balanced"), ensemble=False)
        return LogisticRegression(C=C, class_weight="balanced", max_iter=3000)

    def _choose_C(self, X, y, speakers):
        """The :data:`AUTO_C` value with the best pooled UA over speaker-grouped folds of ``X``."""
        from sklearn.metrics import balanced_accuracy_score
        from sklearn.model_selection import GroupKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        folds = list(GroupKFold(min(5, len(np.unique(speakers)))).split(X, y, speakers))
        ua = []
        for C in AUTO_C:
            predicted = np.empty_like(y)
            for train, test in folds:
                model = make_pipeline(StandardScaler(), self._model(C)).fit(X[train], y[train])
                predicted[test] = model.predict(X[test])
            ua.append(balanced_accuracy_score(y, predicted))
        return AUTO_C[int(np.argmax(ua))]

    def fit(self, train_df, val_df=None):
        """Fit scaler and estimator on ``train_df`` only (``C="auto"``: chosen there too).

        Returns
        -------
        BaselineClassifier
            ``self``.
        """
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self._check_params()
        self.classes_ = tuple(self.labels)
        index = {label: i for i, label in enumerate(self.classes_)}
        X, y = self._features(train_df), train_df["emotion"].map(index).to_numpy()
        usable = ~np.isnan(X).any(axis=1)  # files that cannot be used are skipped
        X, y, speakers = X[usable], y[usable], train_df["speaker"].to_numpy()[usable]
        self.C_ = self._choose_C(X, y, speakers) if self._C == "auto" else float(self._C)
        self.pipeline_ = make_pipeline(StandardScaler(), self._model(self.C_)).fit(X, y)
        return self

    def _check_fitted(self, doing):
        if not hasattr(self, "pipeline_"):
            raise RuntimeError(f"fit the classifier before {doing}")

    def predict_proba(self, df):
        """Probabilities ``(len(df), len(classes_))``; classes absent from training get 0."""
        self._check_fitted("predicting")
        X = self._features(df)
        usable = ~np.isnan(X).any(axis=1)
        # A clip whose file cannot be used gets uniform probabilities.
        out = np.full((len(df), len(self.classes_)), 1.0 / len(self.classes_))
        if usable.any():
            out[usable] = 0.0
            out[np.ix_(usable, self.pipeline_.classes_)] = self.pipeline_.predict_proba(X[usable])
        return out

    # -- saving ------------------------------------------------------------------------------
    def save(self, directory):
        """Write the fitted logistic regression as ``baseline.json`` + ``baseline.npz``.

        Plain arrays and JSON, no pickle: loading runs no code from the folder.

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> BaselineClassifier.load(clf.save("models/baseline-emodb7"))        # doctest: +SKIP
        """
        import json
        from pathlib import Path

        self._check_fitted("saving it")
        if self.estimator != "logreg":
            raise NotImplementedError("saving is implemented for the logistic regression only")
        if self.speaker_norm:
            raise NotImplementedError("a speaker-normalised model needs its speakers' clips: not saved")
        scaler, model = self.pipeline_[0], self.pipeline_[-1]
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "baseline.npz", mean=scaler.mean_, scale=scaler.scale_, var=scaler.var_,
                 coef=model.coef_, intercept=model.intercept_, classes=model.classes_)
        (directory / "baseline.json").write_text(json.dumps({
            "labels": list(self.classes_), "recipe": self.recipe, "chosen_C": self.C_,
            "feature_config": self._feature_config.to_dict(), "audio_options": self._audio_options.to_dict(),
        }, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory, cache_dir=None):
        """A fitted classifier from a folder written by :meth:`save`."""
        import json
        from pathlib import Path

        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        directory = Path(directory)
        card = json.loads((directory / "baseline.json").read_text())
        options = {**recipe_options(card["recipe"]), "estimator": "logreg", "speaker_norm": False}
        clf = cls(tuple(card["labels"]), **options,
                  feature_config=FeatureConfig.from_dict(card["feature_config"]),
                  audio_options=AudioOptions.from_dict(card["audio_options"]), cache_dir=cache_dir)
        arrays = np.load(directory / "baseline.npz", allow_pickle=False)
        scaler, model = StandardScaler(), LogisticRegression()
        scaler.mean_, scaler.scale_, scaler.var_ = arrays["mean"], arrays["scale"], arrays["var"]
        scaler.n_features_in_ = model.n_features_in_ = arrays["mean"].size
        model.coef_, model.intercept_, model.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
        clf.classes_ = tuple(card["labels"])
        clf.pipeline_, clf.C_ = make_pipeline(scaler, model), card["chosen_C"]
        return clf
