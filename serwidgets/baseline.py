"""The classical baseline: utterance statistics (functionals) and a scikit-learn classifier.

Each clip becomes one fixed-length vector of statistics over time. Three feature sets
(``feature_set``):

``"stats"`` (numpy only, no numba; 425 values):

* log-mel (64 bands, not normalised): mean, standard deviation, 10th/50th/90th percentiles;
* 20 MFCCs (DCT-II of the log-mel) and their deltas: mean and standard deviation;
* spectral centroid, bandwidth, 85 % roll-off, flatness, zero-crossing rate and frame energy
  in dB: mean, standard deviation, 10th and 90th percentiles;
* the fraction of frames within 30 dB of the loudest (a crude speaking-rate cue).

``"compare"``
    openSMILE's ComParE 2016 functionals (6373 values: statistics of energy, spectral, MFCC
    and voicing descriptors and their deltas), the standard acoustic baseline of the
    INTERSPEECH paralinguistics challenges. The ``opensmile`` wheel carries its own binary.
``"egemaps"``
    openSMILE's eGeMAPS v02 (88 expert-chosen values; Eyben et al., 2016).

All three are computed on the prepared waveform (:func:`serwidgets.audio.load`: 16 kHz,
trimmed, loudness-normalised), exactly what the networks see, and cached on disk by file
content (:mod:`serwidgets.cache`).

A :class:`~sklearn.preprocessing.StandardScaler` fitted on the training rows only, then
logistic regression (or an RBF SVM), both with balanced class weights. ``C="auto"`` chooses the
regularisation by a speaker-grouped cross-validation *inside* the training side, so no
test speaker influences it. Fast enough to run every protocol in minutes: the anchor the
networks must beat.

Speaker normalisation (``speaker_norm=True``) standardises every speaker's features by
that speaker's own mean and standard deviation before the scaler -- the training speakers'
from their training clips, a test speaker's from *all of their test clips*. It is the
classic speaker-normalised protocol of the SER literature (Schuller et al., 2009) and it
removes much of what makes voices differ, but it is transductive: it needs a batch of
unlabelled clips of each new speaker before it can predict one, so it cannot score a
single recording of a stranger (the dashboard's situation). Results say when it was used.

Examples
--------
>>> from serwidgets.baseline import BaselineClassifier
>>> clf = BaselineClassifier(("angry", "sad")).fit(train_df)        # doctest: +SKIP
>>> clf.predict_proba(test_df).shape                                # doctest: +SKIP
(20, 2)
"""

from __future__ import annotations

import functools

import numpy as np

from .audio import AudioOptions
from .features import FeatureConfig

__all__ = ["FEATURE_SETS", "utterance_features", "opensmile_functionals", "speaker_normalize",
           "BaselineClassifier"]

#: Choices of ``C="auto"`` (inverse regularisation of the logistic regression).
AUTO_C = (0.001, 0.01, 0.1)

_N_MFCC = 20
_PERCENTILES = (10, 50, 90)


def _stats(frames, percentiles=_PERCENTILES):
    """Mean, std and percentiles over time (last axis), concatenated."""
    return np.concatenate([frames.mean(-1), frames.std(-1), *np.percentile(frames, percentiles, axis=-1)])


def utterance_features(y, config=None):
    """Fixed-length statistics of one prepared waveform (see the module docstring).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Prepared mono waveform at ``config.sample_rate``.
    config : FeatureConfig, optional
        STFT and mel settings (``normalization`` is ignored: statistics need absolute levels).

    Returns
    -------
    np.ndarray, float32, shape (425,)

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    >>> utterance_features(y).shape
    (425,)
    """
    from scipy.fft import dct

    from .features import frame_signal, mel_filterbank, power_spectrum

    config = config or FeatureConfig()
    # float64: the spectral descriptors below divide small sums.
    frames = frame_signal(np.asarray(y, np.float64), config)
    power = power_spectrum(frames, config).T  # (bins, frames)
    freqs = np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)[:, None]

    log_mel = 10 * np.log10(np.maximum(mel_filterbank(config) @ power, 1e-10))
    mfcc = dct(log_mel, type=2, axis=0, norm="ortho")[:_N_MFCC]
    delta = np.gradient(mfcc, axis=-1) if mfcc.shape[-1] > 1 else np.zeros_like(mfcc)

    total = power.sum(0) + 1e-12
    centroid = (freqs * power).sum(0) / total
    bandwidth = np.sqrt(((freqs - centroid) ** 2 * power).sum(0) / total)
    rolloff = freqs[np.argmax(np.cumsum(power, 0) >= 0.85 * total, axis=0), 0]
    flatness = np.exp(np.log(power + 1e-12).mean(0)) / (power.mean(0) + 1e-12)
    zcr = (np.diff(np.signbit(frames), axis=-1) != 0).mean(-1)
    energy = 10 * np.log10((frames ** 2).mean(-1) + 1e-10)
    descriptors = np.stack([centroid / 1000, bandwidth / 1000, rolloff / 1000, flatness, zcr, energy])

    return np.concatenate([
        _stats(log_mel),
        mfcc.mean(-1), mfcc.std(-1), delta.mean(-1), delta.std(-1),
        _stats(descriptors, (10, 90)),
        [np.mean(energy > energy.max() - 30)],
    ]).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _smile(feature_set):
    # Building a Smile object parses its config (~50 ms): once per process and set.
    import opensmile

    names = {"compare": "ComParE_2016", "egemaps": "eGeMAPSv02"}
    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, names[feature_set]),
                           feature_level=opensmile.FeatureLevel.Functionals)


def _functionals_here(y, feature_set, sample_rate):
    # Runs in the openSMILE worker process (see _SmileWorker).
    values = _smile(feature_set).process_signal(np.asarray(y, np.float32), sample_rate)
    # A clip too short for a descriptor (no voiced frame, say) yields NaN: read it as 0.
    return np.nan_to_num(values.to_numpy()[0].astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


class _SmileWorker:
    """openSMILE in a child process of its own, started on first use.

    openSMILE is C++ behind ctypes. In a long test run it once aborted the whole Python
    process (SIGABRT inside ``smile_run``, not reproducible in isolation); in a child a crash
    costs one retry with a fresh worker instead of the caller's notebook kernel or test run.
    One spawned worker: IPC of a 3-s clip costs well under a millisecond against ~34 ms of
    openSMILE.
    """

    def __init__(self):
        self._pool = None

    def __call__(self, y, feature_set, sample_rate):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        for _ in range(2):
            if self._pool is None:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            try:
                return self._pool.submit(_functionals_here, y, feature_set, sample_rate).result()
            except BrokenProcessPool:
                self._pool = None  # the worker died: start a fresh one
        raise RuntimeError(f"openSMILE ({feature_set}) crashed twice on a clip of {len(y)} samples")


_smile_worker = _SmileWorker()


def opensmile_functionals(y, feature_set="compare", sample_rate=16000):
    """openSMILE functionals of one prepared waveform (computed in a worker process).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform.
    feature_set : {"compare", "egemaps"}
        ComParE 2016 (6373 values) or eGeMAPS v02 (88 values).
    sample_rate : int

    Returns
    -------
    np.ndarray, float32

    Raises
    ------
    RuntimeError
        openSMILE crashed, twice.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    >>> opensmile_functionals(y, "egemaps").shape                     # doctest: +SKIP
    (88,)
    """
    if feature_set not in ("compare", "egemaps"):
        raise ValueError(f"feature_set must be 'compare' or 'egemaps', got {feature_set!r}")
    return _smile_worker(np.asarray(y, np.float32), feature_set, int(sample_rate))


def _stats_of_file(path, feature_config, audio_options):
    from .audio import load

    return utterance_features(load(path, audio_options), feature_config)


def _compare_of_file(path, feature_config, audio_options):
    from .audio import load

    return opensmile_functionals(load(path, audio_options), "compare", feature_config.sample_rate)


def _egemaps_of_file(path, feature_config, audio_options):
    from .audio import load

    return opensmile_functionals(load(path, audio_options), "egemaps", feature_config.sample_rate)


#: Feature set name -> ``f(path, feature_config, audio_options)``, the cached computation.
FEATURE_SETS = {"stats": _stats_of_file, "compare": _compare_of_file, "egemaps": _egemaps_of_file}


def _of_waveform(y, feature_set, feature_config):
    if feature_set == "stats":
        return utterance_features(y, feature_config)
    return opensmile_functionals(y, feature_set, feature_config.sample_rate)


@functools.lru_cache(maxsize=1 << 14)
def _clip_features(path, snr_db, noise, copy, feature_set, feature_config, audio_options, cache_dir):
    # Memoised: every fold of a protocol needs the same clips' features again. Clean clips
    # also go through the on-disk cache, so the next process reads them instead. A file that
    # cannot be used gives its AudioError (returned, not raised: the caller skips the row).
    import pandas as pd

    from .cache import cached_features
    from .train import DEFAULT_NOISE, load_inputs

    if not np.isfinite(snr_db):
        out = cached_features([path], feature_config, audio_options, cache_dir, progress=False,
                              compute=FEATURE_SETS[feature_set], report=False)
    else:
        row = pd.DataFrame({"path": [path], "snr_db": [snr_db], "noise": [noise or DEFAULT_NOISE],
                            "copy": [copy]})
        out = load_inputs(row, "waveform", feature_config, audio_options, report=False)
    if out[0] is None:
        return out.skipped[path]
    return out[0] if not np.isfinite(snr_db) else _of_waveform(out[0], feature_set, feature_config)


def speaker_normalize(X, speakers):
    """Standardise the rows of each speaker by that speaker's own mean and std.

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
    speakers : array-like, shape (n,)

    Returns
    -------
    np.ndarray, shape (n, d)

    Raises
    ------
    ValueError
        A speaker has fewer than two rows (no spread to normalise by).

    Examples
    --------
    >>> speaker_normalize(np.array([[1.0], [3.0], [10.0], [30.0]]), ["a", "a", "b", "b"]).ravel()
    array([-1.,  1., -1.,  1.])
    """
    speakers = np.asarray(speakers)
    out = np.empty_like(X, dtype=np.float64)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        if rows.sum() < 2:
            raise ValueError(f"speaker normalisation needs several clips of each speaker; "
                             f"{speaker} has {rows.sum()}")
        std = X[rows].std(0)
        out[rows] = (X[rows] - X[rows].mean(0)) / np.where(std > 0, std, 1.0)
    return out


class BaselineClassifier:
    """Utterance functionals + StandardScaler + logistic regression (or an RBF SVM).

    Same interface as :class:`serwidgets.train.NetClassifier`: ``fit(train_df, val_df=None)``
    and ``predict_proba(df)``; rows with an ``snr_db`` column value get test-time noise (see
    :func:`serwidgets.train.load_inputs`). ``val_df`` is unused: nothing stops early.

    Parameters
    ----------
    labels : sequence of str
    classifier : {"logreg", "svm"}
        Logistic regression by default: with ``"stats"`` on EmoDB LOSO (7 classes) it scored
        UA 0.706 at ``C=0.1``, against 0.669 at ``C=0.01`` and 0.652 / 0.662 for the RBF SVM
        at ``C=1`` / ``C=10`` (chosen on that protocol itself, so slightly optimistic).
    C : float, "auto" or None
        Inverse regularisation strength. ``"auto"``: the best of :data:`AUTO_C` by UA in a
        speaker-grouped cross-validation of the training side (logistic regression only).
        None: 0.1 for ``"stats"`` (the value above), ``"auto"`` for the openSMILE sets.
    feature_set : {"stats", "compare", "egemaps"}
        Feature set (see the module docstring).
    speaker_norm : bool
        Standardise features per speaker (see the module docstring): needs a ``speaker``
        column and at least two clips of every speaker in each table passed in.
    feature_config : FeatureConfig
    audio_options : AudioOptions
    cache_dir : str or path, optional
        Feature cache folder (default: :func:`serwidgets.cache.default_cache_dir`).
    seed : int

    Attributes
    ----------
    chosen_C : float
        The ``C`` the last :meth:`fit` used.

    Examples
    --------
    >>> clf = BaselineClassifier(TASKS["emodb7"], feature_set="compare")  # doctest: +SKIP
    """

    name = "baseline"

    def __init__(self, labels, classifier="logreg", C=None, feature_set="stats", speaker_norm=False,
                 feature_config=None, audio_options=None, cache_dir=None, seed=0):
        if feature_set not in FEATURE_SETS:
            raise ValueError(f"feature_set must be one of {sorted(FEATURE_SETS)}, got {feature_set!r}")
        if classifier not in ("logreg", "svm"):
            raise ValueError(f"classifier must be 'svm' or 'logreg', got {classifier!r}")
        if C is None:
            C = 0.1 if feature_set == "stats" else "auto"
        if C == "auto" and classifier != "logreg":
            raise ValueError("C='auto' is implemented for the logistic regression only")
        self.labels = tuple(labels)
        self.classifier = classifier
        self.C = C
        self.feature_set = feature_set
        self.speaker_norm = bool(speaker_norm)
        self.feature_config = feature_config or FeatureConfig()
        self.audio_options = audio_options or AudioOptions()
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.seed = seed
        self.pipeline = None
        self.chosen_C = None

    @property
    def recipe(self) -> dict:
        return {"model": "baseline", "feature_set": self.feature_set, "classifier": self.classifier,
                "C": self.C, "speaker_norm": self.speaker_norm, "seed": self.seed}

    def _features(self, df, skipped=None):
        """Feature matrix of ``df``; rows whose file cannot be used are NaN, their errors go to ``skipped``."""
        from threadpoolctl import threadpool_limits

        columns = {
            "snr_db": df["snr_db"].to_numpy(float) if "snr_db" in df else np.full(len(df), np.nan),
            "noise": df["noise"].to_numpy() if "noise" in df else np.full(len(df), None),
            "copy": df["copy"].fillna(0).to_numpy(int) if "copy" in df else np.zeros(len(df), int),
        }
        with threadpool_limits(limits=1, user_api="blas"):
            rows = [
                _clip_features(str(path), float(snr), noise, int(copy), self.feature_set,
                               self.feature_config, self.audio_options, self.cache_dir)
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
            X[usable] = speaker_normalize(X[usable], df["speaker"].to_numpy()[usable])
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

    def _model(self, C):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import SVC

        if self.classifier == "svm":
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
        """Fit scaler and classifier on ``train_df`` only (``C="auto"``: chosen there too).

        Returns ``self``.
        """
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        index = {label: i for i, label in enumerate(self.labels)}
        X, y = self._features(train_df), train_df["emotion"].map(index).to_numpy()
        usable = ~np.isnan(X).any(axis=1)  # files that cannot be used are skipped
        X, y, speakers = X[usable], y[usable], train_df["speaker"].to_numpy()[usable]
        if self.C == "auto":
            self.chosen_C = self._choose_C(X, y, speakers)
        else:
            self.chosen_C = float(self.C)
        self.pipeline = make_pipeline(StandardScaler(), self._model(self.chosen_C)).fit(X, y)
        return self

    def predict_proba(self, df):
        """Probabilities ``(len(df), len(labels))``; classes absent from training get 0."""
        if self.pipeline is None:
            raise RuntimeError("fit the classifier before predicting")
        X = self._features(df)
        usable = ~np.isnan(X).any(axis=1)
        # A clip whose file cannot be used gets uniform probabilities.
        out = np.full((len(df), len(self.labels)), 1.0 / len(self.labels))
        if usable.any():
            out[usable] = 0.0
            out[np.ix_(usable, self.pipeline.classes_)] = self.pipeline.predict_proba(X[usable])
        return out

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

        if self.pipeline is None:
            raise RuntimeError("fit the classifier before saving it")
        if self.classifier != "logreg":
            raise NotImplementedError("saving is implemented for the logistic regression only")
        if self.speaker_norm:
            raise NotImplementedError("a speaker-normalised model needs its speakers' clips: not saved")
        scaler, model = self.pipeline[0], self.pipeline[-1]
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "baseline.npz", mean=scaler.mean_, scale=scaler.scale_, var=scaler.var_,
                 coef=model.coef_, intercept=model.intercept_, classes=model.classes_)
        (directory / "baseline.json").write_text(json.dumps({
            "labels": list(self.labels), "recipe": self.recipe, "chosen_C": self.chosen_C,
            "feature_config": self.feature_config.to_dict(), "audio_options": self.audio_options.to_dict(),
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
        recipe = card["recipe"]
        clf = cls(card["labels"], classifier="logreg", C=recipe["C"], feature_set=recipe["feature_set"],
                  feature_config=FeatureConfig.from_dict(card["feature_config"]),
                  audio_options=AudioOptions.from_dict(card["audio_options"]), cache_dir=cache_dir,
                  seed=recipe["seed"])
        arrays = np.load(directory / "baseline.npz", allow_pickle=False)
        scaler, model = StandardScaler(), LogisticRegression()
        scaler.mean_, scaler.scale_, scaler.var_ = arrays["mean"], arrays["scale"], arrays["var"]
        scaler.n_features_in_ = model.n_features_in_ = arrays["mean"].size
        model.coef_, model.intercept_, model.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
        clf.pipeline, clf.chosen_C = make_pipeline(scaler, model), card["chosen_C"]
        return clf
