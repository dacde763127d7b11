"""Evaluation protocols and metrics: what the results files (:mod:`serwidgets.results`) hold.

Protocols
---------
``loso``
    Leave one speaker out: each speaker is the test set once.
``speaker-kfold``
    Speakers dealt into ``n_folds`` gender-balanced folds (RAVDESS: 6 folds of 4 actors).
``loco``
    Leave one corpus out: each corpus is the test set once, trained on all the others
    (cross-corpus and, with corpora in several languages, cross-lingual). Results add UA per
    corpus over the classes that corpus has (``per_corpus``, ``per_corpus_classes``), their
    mean (``loco_mean_UA``), the classes a test corpus has that no training corpus had
    (``loco_unseen_classes``) and a table per language (``per_language``).
``random``
    Speaker-dependent, stratified 80/20 split: the same voices and sentences on both sides.
``leaky``
    The seed app's mistake, reproduced on purpose: noisy copies of *every* clip are added
    **before** a random split, so most test clips have a twin in training. The leakage
    guard is called and its verdict recorded; only this protocol then trains anyway, and
    the result is marked ``"leaky": true``.

Every fold trains through :func:`serwidgets.train.fit_split` (the leakage guard first).
Scores are pooled over folds (each clip is tested once in ``loso``/``speaker-kfold``):
UA (balanced accuracy, the headline), WA (accuracy), macro-F1, the confusion matrix,
per-speaker and per-corpus accuracy, and UA with noise added to the *test* clips at
several SNRs.

Examples
--------
>>> from serwidgets import corpora, evaluate, labels
>>> df = labels.select_task(corpora.load_corpus("emodb"), "emodb7")   # doctest: +SKIP
>>> result = evaluate.evaluate(df, "baseline", "loso", task="emodb7")  # doctest: +SKIP
>>> result["metrics"]["UA"]                                           # doctest: +SKIP
0.74
"""

from __future__ import annotations

import datetime
import time
import warnings

import numpy as np
import pandas as pd

# Results files moved to serwidgets.results; importable from here for one more release.
from .results import model_label, results_table, write_results  # noqa: F401

__all__ = ["PROTOCOLS", "CLASSIFIERS", "scores", "make_splits", "make_classifier", "evaluate"]

PROTOCOLS = ("loso", "speaker-kfold", "loco", "random", "leaky")
CLASSIFIERS = ("cnn", "baseline", "whisper")
#: How calibration clips are drawn for ``calibration_clips``: across emotions, or neutral only
#: (to show why the dashboard asks for varied speech).
CALIBRATION_KINDS = ("varied", "neutral")
#: Test-time SNRs (dB) of the noise sweep; None = clean.
DEFAULT_SNRS = (None, 20.0, 10.0, 5.0, 0.0)
#: The ``leaky`` protocol adds this many noisy copies of every clip before splitting, at an SNR
#: drawn from LEAKY_SNR_DB: near-duplicates, so most test clips have a twin in training.
LEAKY_COPIES = 2
LEAKY_SNR_DB = (20.0, 40.0)


def scores(y_true, y_pred, labels):
    """UA, WA, macro-F1, per-class recall and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of int
        Class indices into ``labels``.
    labels : sequence of str

    Returns
    -------
    dict
        ``UA`` (balanced accuracy: mean per-class recall), ``WA`` (accuracy), ``macro_F1``,
        ``recall`` (label -> recall), ``confusion`` (rows = true, columns = predicted), ``n``.

    Examples
    --------
    >>> s = scores([0, 0, 0, 1], [0, 0, 1, 1], ["a", "b"])
    >>> s["WA"], s["UA"]
    (0.75, 0.8333333333333333)
    """
    from sklearn.metrics import confusion_matrix, f1_score

    k = np.arange(len(labels))
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    confusion = confusion_matrix(y_true, y_pred, labels=k)
    support = confusion.sum(1)
    recall = np.divide(np.diag(confusion), support, out=np.zeros(len(k)), where=support > 0)
    return {
        "UA": float(recall[support > 0].mean()),
        "WA": float(np.mean(y_true == y_pred)),
        "macro_F1": float(f1_score(y_true, y_pred, labels=k[support > 0], average="macro", zero_division=0)),
        "recall": {label: float(r) for label, r, s in zip(labels, recall, support) if s},
        "confusion": confusion.tolist(),
        "n": int(len(y_true)),
    }


def make_splits(df, protocol, *, n_folds=None, val_speakers=0, seed=0):
    """The table to evaluate on and its splits, for ``protocol``.

    Returns
    -------
    df : pandas.DataFrame
        ``df`` itself, or for ``leaky`` ``df`` plus one noisy copy of every clip.
    splits : list of serwidgets.splits.Split
    speaker_independent : bool
        What the leakage guard must check.

    Examples
    --------
    >>> df2, folds, independent = make_splits(df, "speaker-kfold", n_folds=6)  # doctest: +SKIP
    """
    from . import splits
    from .inputs import with_noisy_copies

    if protocol == "loso":
        return df, list(splits.loso(df, val_speakers, seed)), True
    if protocol == "speaker-kfold":
        if not n_folds:
            raise ValueError("speaker-kfold needs n_folds")
        return df, list(splits.speaker_kfold(df, n_folds, val_speakers, seed)), True
    if protocol == "loco":
        return df, list(splits.loco(df, val_speakers, seed)), True
    val_size = 0.1 if val_speakers else 0.0
    if protocol == "random":
        return df, [splits.random_split(df, 0.2, val_size, seed)], False
    if protocol == "leaky":
        leaky = with_noisy_copies(df, LEAKY_COPIES, LEAKY_SNR_DB, seed)
        return leaky, [splits.random_split(leaky, 0.2, val_size, seed)], False
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")


def make_classifier(name, labels, *, recipe=None, feature_config=None, audio_options=None, verbose=2,
                    baseline_options=None, head_options=None):
    """A fresh classifier: ``"cnn"`` (:class:`~serwidgets.train.NetClassifier`), ``"baseline"``
    or ``"whisper"`` (:class:`~serwidgets.embedding_classifier.EmbeddingClassifier` on the frozen encoder).

    ``baseline_options`` (e.g. ``{"feature_set": "compare", "speaker_norm": True}``) go to
    :class:`~serwidgets.baseline.BaselineClassifier`; ``head_options`` (e.g.
    ``{"layers": "auto"}``) to :class:`~serwidgets.embedding_classifier.EmbeddingClassifier`.

    Examples
    --------
    >>> make_classifier("baseline", ("angry", "sad")).name                # doctest: +SKIP
    'baseline'
    """
    if name == "cnn":
        from .train import NetClassifier

        return NetClassifier(labels, recipe, feature_config, audio_options, verbose=verbose)
    if name == "baseline":
        from .baseline import BaselineClassifier

        return BaselineClassifier(labels, feature_config=feature_config, audio_options=audio_options,
                                  **(baseline_options or {}))
    if name == "whisper":
        from .embedding_classifier import EmbeddingClassifier

        return EmbeddingClassifier(labels, audio_options=audio_options, **(head_options or {}))
    raise ValueError(f"unknown classifier {name!r}; expected one of {CLASSIFIERS}")


def _fresh_classifiers(classifier, make):
    """``(name, prototype, fresh)``: ``fresh()`` is an unfitted classifier for one fold.

    ``classifier`` is a name for :func:`make_classifier` (``make(name)`` builds it), an
    unfitted estimator (cloned with :func:`sklearn.base.clone`), or -- deprecated -- a
    callable returning a new classifier.
    """
    from sklearn.base import clone

    if isinstance(classifier, str):
        prototype = make(classifier)
        return classifier, prototype, lambda: clone(prototype, safe=False)
    if hasattr(classifier, "fit") and not isinstance(classifier, type):
        name = getattr(classifier, "name", type(classifier).__name__)
        return name, classifier, lambda: clone(classifier, safe=False)
    if callable(classifier):
        warnings.warn("evaluate(df, factory, ...) with a callable is deprecated; pass a classifier name "
                      "or an unfitted estimator (it is cloned for every fold)", DeprecationWarning, stacklevel=3)
        return getattr(classifier, "__name__", "custom"), classifier(), classifier
    raise TypeError(f"classifier must be one of {CLASSIFIERS}, an estimator or a callable, got {classifier!r}")


def _calibration_draw(table, rows, k, kind, rng):
    """Positions (into ``rows``) of ``k`` calibration clips of one speaker, or None if too few.

    ``"varied"``: clips dealt round-robin over the speaker's emotions in a random order, so k
    clips span as many emotions as possible; ``"neutral"``: neutral clips only.
    """
    emotions = table["emotion"].to_numpy()[rows]
    if kind == "neutral":
        pool = rng.permutation(np.flatnonzero(emotions == "neutral"))
        return pool[:k] if len(pool) >= k and len(rows) > k else None
    if len(rows) <= k:
        return None
    queues = [list(rng.permutation(np.flatnonzero(emotions == e))) for e in rng.permutation(np.unique(emotions))]
    picked = []
    while len(picked) < k:
        for queue in queues:
            if queue and len(picked) < k:
                picked.append(queue.pop())
    return np.array(picked)


def _calibrate_test_speakers(classifier, table, test, k, kind, seed):
    """Calibrations of each test speaker and the test rows left to score (see :func:`evaluate`)."""
    from .heads import MIN_CALIBRATION_CLIPS, Calibration

    if k == 0:
        return test, None, {"speakers": 0, "not_scored": [], "clips": 0}
    rng = np.random.default_rng(seed)
    speakers = table["speaker"].to_numpy()[test]
    scored, calibrations, not_scored, n_clips = [], {}, [], 0
    for speaker in sorted(np.unique(speakers)):
        rows = test[speakers == speaker]
        if k == "all":
            calibration_rows, rest = rows, rows
        else:
            picked = _calibration_draw(table, rows, int(k), kind, rng)
            if picked is None:
                not_scored.append(str(speaker))
                continue
            calibration_rows, rest = rows[picked], np.setdiff1d(rows, rows[picked])
        X = classifier.embeddings(table.iloc[calibration_rows])
        X = X[~np.isnan(X).any(axis=(1, 2))]
        if len(X) < MIN_CALIBRATION_CLIPS:  # too few usable clips to calibrate: not scored
            not_scored.append(str(speaker))
            continue
        calibrations[speaker] = Calibration.from_features(X, seconds=None)
        scored.append(rest)
        n_clips += len(calibration_rows)
    scored = np.sort(np.concatenate(scored)) if scored else test[:0]
    return scored, calibrations, {"speakers": len(calibrations), "not_scored": not_scored, "clips": n_clips}


def _cross_corpus(table, tested, truth, predicted, labels, protocol, folds):
    """Result keys for corpora and languages: per_corpus_classes, per_language (and for loco
    loco_mean_UA and loco_unseen_classes)."""
    corpus = table["corpus"].astype(str).to_numpy()[tested]
    if "language" in table.columns:
        language = table["language"].astype(object).to_numpy()[tested]
    else:
        from .corpora import LANGUAGES

        language = np.array([LANGUAGES.get(c) for c in corpus], dtype=object)
    language = np.array(["unknown" if v is None or v != v else str(v) for v in language], dtype=object)
    truth, predicted = truth[tested], predicted[tested]
    out = {
        "per_corpus_classes": {
            c: [labels[k] for k in sorted(set(truth[corpus == c]))] for c in sorted(set(corpus))
        },
        "per_language": {},
    }
    for lang in sorted(set(language)):
        m = language == lang
        s = scores(truth[m], predicted[m], labels)
        out["per_language"][lang] = {"UA": s["UA"], "WA": s["WA"], "n": s["n"],
                                     "corpora": sorted(set(corpus[m]))}
    if protocol == "loco":
        per_corpus = [scores(truth[corpus == c], predicted[corpus == c], labels)["UA"] for c in sorted(set(corpus))]
        out["loco_mean_UA"] = float(np.mean(per_corpus))
        all_truth = table["emotion"].to_numpy()
        out["loco_unseen_classes"] = {
            split.name.split(":", 1)[1]: sorted(set(all_truth[split.test]) - set(all_truth[split.train]))
            for split in folds
        }
    return out


def _accuracy_by(df, correct, column):
    return {str(k): float(v) for k, v in pd.Series(correct).groupby(df[column].to_numpy()).mean().items()}


def evaluate(df, classifier, protocol, *, task, n_folds=None, snrs=DEFAULT_SNRS, recipe=None,
             baseline_options=None, feature_config=None, audio_options=None, seed=0, verbose=2,
             only_folds=None, log=print, head_options=None, calibration_clips=None,
             calibration_kind="varied"):
    """Run ``protocol`` with a fresh copy of ``classifier`` per fold and pool the test predictions.

    Parameters
    ----------
    df : pandas.DataFrame
        Corpus table restricted to ``task``.
    classifier : {"cnn", "baseline", "whisper"} or estimator
        A name for :func:`make_classifier` (built with ``recipe``, ``baseline_options``,
        ``head_options``, ``feature_config``, ``audio_options``), or an unfitted estimator
        (e.g. ``BaselineClassifier(labels, feature_set="compare")``), cloned with
        :func:`sklearn.base.clone` for every fold. A callable ``f() -> classifier`` still
        works, with a DeprecationWarning.
    protocol : {"loso", "speaker-kfold", "loco", "random", "leaky"}
    task : str
    n_folds : int, optional
        For ``speaker-kfold``.
    snrs : sequence of float or None
        Test-time SNRs for the noise sweep (None = clean); ``leaky`` runs clean only.
    recipe : serwidgets.train.Recipe, optional
        For ``"cnn"``; its ``val_speakers`` are used by the splits (a
        :class:`~serwidgets.train.NetClassifier` passed in brings its own recipe).
    baseline_options : dict, optional
        For the baseline (:class:`~serwidgets.baseline.BaselineClassifier` arguments).
    head_options : dict, optional
        For ``"whisper"`` (:class:`~serwidgets.embedding_classifier.EmbeddingClassifier` arguments).
    calibration_clips : int or "all", optional
        ``"whisper"`` only. ``k``: for each test speaker, ``k`` of their clips (drawn at
        random, ``calibration_kind``) calibrate the model to that speaker and only the *other*
        clips are scored; speakers with fewer than ``k + 1`` clips are not scored. ``0``: no
        calibration. ``"all"``: every test clip calibrates and is scored (transductive,
        labelled so in results).
    calibration_kind : {"varied", "neutral"}
        ``"varied"``: clips dealt round-robin across emotions in random order; ``"neutral"``:
        neutral clips only.
    seed : int
        Split seed (and the calibration draw's).
    only_folds : sequence of str, optional
        Run only the folds of these names (e.g. ``["loso:emodb:03"]``): to re-run part of a
        saved result and check that it reproduces. Pooled scores then cover those folds only.
    log : callable
        Progress messages.

    Returns
    -------
    dict
        JSON-ready result (see :func:`serwidgets.results.write_results`): ``classifier``
        (the name), ``recipe``, ``metrics``, ``folds``, ``speaker_norm``, ...

    Examples
    --------
    >>> r = evaluate(df, "baseline", "random", task="emodb7", snrs=[None])   # doctest: +SKIP
    >>> from serwidgets.baseline import BaselineClassifier
    >>> r = evaluate(df, BaselineClassifier(labels, feature_set="egemaps"), "loso", task="emodb7")  # doctest: +SKIP
    """
    from . import fingerprint
    from . import labels as labels_module
    from .audio import AudioOptions
    from .cache import count_causes
    from .features import FeatureConfig
    from .splits import LeakageError, check_leakage
    from .train import Recipe, fit_split

    labels = labels_module.task_labels(task)
    start = time.perf_counter()
    recipe = recipe or Recipe()
    name, probe, fresh = _fresh_classifiers(classifier, lambda name: make_classifier(
        name, labels, recipe=recipe, feature_config=feature_config, audio_options=audio_options,
        verbose=verbose, baseline_options=baseline_options, head_options=head_options))
    if not isinstance(classifier, str):
        own = getattr(probe, "labels", None)
        if own is not None and tuple(own) != tuple(labels):
            raise ValueError(f"the classifier's labels {tuple(own)} are not task {task!r}'s {tuple(labels)}")
        if name == "cnn":
            recipe = getattr(probe, "recipe", None) or recipe  # a NetClassifier passed in: its own recipe
    if calibration_clips is not None and name != "whisper":
        raise ValueError("calibration_clips needs the 'whisper' model (an encoder head)")
    if calibration_kind not in CALIBRATION_KINDS:
        raise ValueError(f"calibration_kind must be one of {CALIBRATION_KINDS}, got {calibration_kind!r}")
    val_speakers = recipe.val_speakers if name == "cnn" else 0
    # Files that cannot be used (empty, corrupt, no speech, ...) are dropped before splitting
    # and counted per cause in the result ("skipped_files").
    skipped = probe.skipped_files(df) if hasattr(probe, "skipped_files") else {}
    if skipped:
        df = df[~df["path"].astype(str).isin(skipped)].reset_index(drop=True)
        log(f"skipped {len(skipped)} files that cannot be used: {count_causes(skipped)}")
    table, folds, speaker_independent = make_splits(
        df, protocol, n_folds=n_folds, val_speakers=val_speakers, seed=seed)
    if only_folds is not None:
        missing = set(only_folds) - {fold.name for fold in folds}
        if missing:
            raise ValueError(f"no fold named {sorted(missing)} in {protocol}; "
                             f"folds: {[fold.name for fold in folds]}")
        folds = [fold for fold in folds if fold.name in set(only_folds)]
    leakage = None
    if protocol == "leaky":
        snrs = [None]
        try:
            check_leakage(table, folds[0], speaker_independent=False)
        except LeakageError as error:
            leakage = str(error)
    snr_keys = ["clean" if s is None else f"{s:g}" for s in snrs]
    truth = table["emotion"].map({label: i for i, label in enumerate(labels)}).to_numpy()
    predicted = {key: np.full(len(table), -1) for key in snr_keys}
    probabilities = np.zeros((len(table), len(labels)))
    fold_results, calibration_used = [], []
    for i, split in enumerate(folds):
        fold_start = time.perf_counter()
        classifier = fresh()
        if protocol == "leaky":
            # Deliberately past the guard: this protocol exists to measure what leakage does.
            val = table.iloc[split.val] if split.val.size else None
            classifier.fit(table.iloc[split.train], val)
        else:
            fit_split(classifier, table, split, speaker_independent=speaker_independent)
        scored, calibrations = split.test, None
        if calibration_clips is not None:
            scored, calibrations, fold_calibration = _calibrate_test_speakers(
                classifier, table, split.test, calibration_clips, calibration_kind, seed)
            calibration_used.append(fold_calibration)
            if scored.size == 0:
                log(f"{protocol} {split.name}: no test speaker has enough clips to calibrate and score; skipped")
                continue
        test = table.iloc[scored]
        for snr, key in zip(snrs, snr_keys):
            noisy = test if snr is None else test.assign(snr_db=snr)
            p = (classifier.predict_proba(noisy) if calibrations is None
                 else classifier.predict_proba(noisy, calibrations=calibrations))
            predicted[key][scored] = p.argmax(1)
            if snr is None:
                probabilities[scored] = p
        fold = scores(truth[scored], predicted[snr_keys[0]][scored], labels)
        fold_results.append({
            "name": split.name, "n_train": int(split.train.size), "n_val": int(split.val.size),
            "n_test": int(scored.size), "UA": fold["UA"], "WA": fold["WA"],
            "seconds": round(time.perf_counter() - fold_start, 1),
            "best_epoch": getattr(classifier, "history_", {}).get("best_epoch"),
            # Encoder heads: the states (and C) the training side's own CV chose for this fold;
            # the baseline: its C.
            **({"layers": list(classifier.layers_), "C": classifier.C_} if hasattr(classifier, "layers_") else
               {"C": classifier.C_} if getattr(classifier, "C_", None) is not None else {}),
        })
        log(f"{protocol} {split.name}: UA {fold['UA']:.3f} WA {fold['WA']:.3f} "
            f"({fold_results[-1]['seconds']:.0f} s, {i + 1}/{len(folds)})")

    tested = np.flatnonzero(predicted[snr_keys[0]] >= 0)
    pooled = scores(truth[tested], predicted[snr_keys[0]][tested], labels)
    correct = truth[tested] == predicted[snr_keys[0]][tested]
    fold_ua = np.array([f["UA"] for f in fold_results])
    model_recipe = recipe.to_dict() if name == "cnn" else getattr(probe, "recipe", {})
    return {
        "classifier": name,
        "recipe": model_recipe,
        "feature_config": (feature_config or FeatureConfig()).to_dict(),
        "audio_options": (audio_options or AudioOptions()).to_dict(),
        # Transductive: test speakers' unlabelled clips shaped their features (see baseline).
        "speaker_norm": bool(model_recipe.get("speaker_norm", False)) or calibration_clips == "all",
        **({"calibration": {
            "clips": calibration_clips, "kind": calibration_kind,
            "transductive": calibration_clips == "all",
            "protocol": ("every test clip of a speaker calibrates and is scored" if calibration_clips == "all" else
                         f"{calibration_clips} clips of each test speaker calibrate; only the others are scored"),
            "speakers_calibrated": int(sum(c["speakers"] for c in calibration_used)),
            "speakers_not_scored": sorted(s for c in calibration_used for s in c["not_scored"]),
            "clips_used_for_calibration": int(sum(c["clips"] for c in calibration_used)),
        }} if calibration_clips is not None else {}),
        "task": task,
        "labels": list(labels),
        "protocol": protocol,
        "n_folds": len(folds),
        "corpora": sorted(df["corpus"].unique()),
        "n_clips": int(len(table)),
        "skipped_files": count_causes(skipped),
        "speakers": int(df["speaker"].nunique()),
        "leaky": protocol == "leaky",
        "leakage": leakage,
        "metrics": pooled,
        "fold_UA": {"mean": float(fold_ua.mean()), "std": float(fold_ua.std())},
        "per_speaker": _accuracy_by(table.iloc[tested], correct, "speaker"),
        "per_corpus": {
            corpus: scores(truth[tested][m], predicted[snr_keys[0]][tested][m], labels)["UA"]
            for corpus in sorted(table["corpus"].unique())
            if (m := (table["corpus"].to_numpy()[tested] == corpus)).any()
        },
        **_cross_corpus(table, tested, truth, predicted[snr_keys[0]], labels, protocol, folds),
        "snr_UA": {key: scores(truth[tested], predicted[key][tested], labels)["UA"] for key in snr_keys},
        "snr_noise": "white",
        "folds": fold_results,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        # Library versions, CPU, thread counts: a re-run matches exactly only in the same one.
        "environment": fingerprint.environment(),
    }


def __getattr__(name):
    # Deprecated module attributes (one release).
    if name == "MODELS":
        warnings.warn("evaluate.MODELS is deprecated; use evaluate.CLASSIFIERS", DeprecationWarning, stacklevel=2)
        return CLASSIFIERS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
