"""Evaluation: run a :class:`Protocol` with a classifier and pool its test predictions into a Result.

Protocols: ``loso`` (leave one speaker out), ``speaker-kfold`` (speakers dealt into ``n_folds``
gender-balanced folds; RAVDESS: 6 folds of 4 actors), ``loco`` (leave one corpus out: trained on
the others, so cross-corpus and, across languages, cross-lingual; results add UA per corpus over
the classes it has, their mean, the classes no training corpus had and a table per language),
``random`` (speaker-dependent 80/20 split: the same voices on both sides) and ``leaky`` (the seed
app's mistake on purpose: noisy copies of *every* clip before a random split; the leakage guard's
verdict is recorded, the fold trains anyway and the result is marked ``leaky``).

Every fold fits a clone of the classifier through :func:`serwidgets.train.fit_split` (the
leakage guard first). Scores are pooled over folds: UA (balanced accuracy, the headline), WA,
macro-F1, the confusion matrix, accuracy per speaker, UA per corpus and language, UA with white
noise added to the *test* clips at several SNRs, and the pooled clean probabilities themselves
(:class:`serwidgets.results.Predictions`). A classifier that can be calibrated to a speaker
(``calibrate(df, labels=None)``, ``predict_proba(df, calibrations=...)``, ``calibration_head``)
can be scored calibrated: a :class:`CalibrationDraw` says how many clips of each test speaker
calibrate it, how they are drawn and whether they carry their emotion as a label; those clips
are never scored.

Examples
--------
>>> from serwidgets import corpora, evaluate, labels
>>> from serwidgets.baseline import BaselineClassifier
>>> df = labels.select_task(corpora.load_corpus("emodb"), "emodb7")                       # doctest: +SKIP
>>> result = evaluate.evaluate(df, BaselineClassifier(labels.TASKS["emodb7"]), Protocol("loso"),
...                            task="emodb7")                                             # doctest: +SKIP
>>> result.metrics["UA"]                                                                  # doctest: +SKIP
0.706
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .results import Predictions, Result

__all__ = ["PROTOCOLS", "DRAWS", "DEFAULT_SNRS", "Protocol", "CalibrationDraw", "scores", "calibrate_test_speakers",
           "evaluate"]

PROTOCOLS = ("loso", "speaker-kfold", "loco", "random", "leaky")
#: How calibration clips are drawn: round-robin over the speaker's emotions (as the dashboard's
#: prompts ask for them), at random, or neutral only (to show why the prompts vary).
DRAWS = ("round-robin", "random", "neutral")
#: Test-time SNRs (dB) of the noise sweep of ``ser evaluate``; None = clean.
DEFAULT_SNRS = (None, 20.0, 10.0, 5.0, 0.0)
#: The ``leaky`` protocol adds this many noisy copies of every clip before splitting, at an SNR
#: drawn from LEAKY_SNR_DB: near-duplicates, so most test clips have a twin in training.
LEAKY_COPIES = 2
LEAKY_SNR_DB = (20.0, 40.0)


@dataclass(frozen=True)
class CalibrationDraw:
    """Which clips of each test speaker calibrate the classifier to them (never scored).

    ``clips``: ``k`` clips per test speaker calibrate and only the *other* clips are scored
    (speakers with ``k`` clips or fewer are not scored); ``0``: none (the uncalibrated start of a
    calibration curve); ``"all"``: every test clip calibrates and is scored (transductive, an
    upper bound, flagged in results). ``draw``: ``"round-robin"`` deals them over the speaker's
    emotions in a random order (as the dashboard's prompts ask for them), ``"random"`` takes any,
    ``"neutral"`` neutral clips only. ``labelled``: the calibration clips carry their emotion as
    a label (as a dashboard take carries its prompt's feeling); the draw is the same either way,
    so labelled and unlabelled runs differ only by the labels. ``label_noise``: the share of
    those labels replaced by an emotion of the fold's test clips drawn at random (1.0: a user who
    ignores the prompts; robustness), from a generator of its own, so the clips stay the same.

    Examples
    --------
    >>> CalibrationDraw(10).to_dict()
    {'clips': 10, 'draw': 'round-robin', 'labelled': False, 'label_noise': 0.0}
    >>> CalibrationDraw(5, "sorted")
    Traceback (most recent call last):
    ...
    ValueError: draw must be one of ('round-robin', 'random', 'neutral'), got 'sorted'
    >>> CalibrationDraw(10, label_noise=1.0)
    Traceback (most recent call last):
    ...
    ValueError: label_noise needs labelled=True
    """

    clips: int | str
    draw: str = "round-robin"
    labelled: bool = False
    label_noise: float = 0.0

    def __post_init__(self):
        if self.draw not in DRAWS:
            raise ValueError(f"draw must be one of {DRAWS}, got {self.draw!r}")
        if self.clips != "all" and not (isinstance(self.clips, int) and self.clips >= 0):
            raise ValueError(f"clips must be a count >= 0 or 'all', got {self.clips!r}")
        if not 0.0 <= self.label_noise <= 1.0:
            raise ValueError(f"label_noise is a share in [0, 1], got {self.label_noise!r}")
        if self.label_noise and not self.labelled:
            raise ValueError("label_noise needs labelled=True")

    @property
    def transductive(self) -> bool:
        return self.clips == "all"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Protocol:
    """How to evaluate: the splits (``name``, ``n_folds`` for speaker-kfold, ``seed``, which also
    seeds the calibration draws), the test-time SNRs in dB (None = clean, always first; ``leaky``
    runs clean only), any :class:`CalibrationDraw`, and ``only_folds``: the names of the folds to
    run (e.g. ``("loso:emodb:03",)``, to check that part of a saved result reproduces).

    Examples
    --------
    >>> Protocol("speaker-kfold", n_folds=5, snrs=(None, 10.0)).snr_keys
    ['clean', '10']
    >>> Protocol("speaker-kfold")
    Traceback (most recent call last):
    ...
    ValueError: speaker-kfold needs n_folds
    >>> Protocol("leaky", snrs=(None, 10.0))
    Traceback (most recent call last):
    ...
    ValueError: the leaky protocol runs clean only (snrs=(None,))
    """

    name: str
    n_folds: int | None = None
    seed: int = 0
    snrs: tuple = (None,)
    calibration: CalibrationDraw | None = None
    only_folds: tuple | None = None

    def __post_init__(self):
        if self.name not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.name!r}; expected one of {PROTOCOLS}")
        if self.name == "speaker-kfold" and not self.n_folds:
            raise ValueError("speaker-kfold needs n_folds")
        snrs = tuple(None if s is None else float(s) for s in self.snrs)
        if snrs[:1] != (None,):
            raise ValueError(f"snrs must start with None (clean), got {self.snrs}")
        if self.name == "leaky" and snrs != (None,):
            raise ValueError("the leaky protocol runs clean only (snrs=(None,))")
        object.__setattr__(self, "snrs", snrs)
        if self.only_folds is not None:
            object.__setattr__(self, "only_folds", tuple(self.only_folds))

    @property
    def snr_keys(self) -> list:
        """The keys of ``Result.snr_UA``: ``"clean"`` and each SNR."""
        return ["clean" if s is None else f"{s:g}" for s in self.snrs]

    @property
    def speaker_independent(self) -> bool:
        """What the leakage guard checks: no speaker on both sides."""
        return self.name in ("loso", "speaker-kfold", "loco")

    def splits(self, df):
        """The table to evaluate on and its folds.

        Returns
        -------
        table : pandas.DataFrame
            ``df`` itself, or for ``leaky`` ``df`` plus noisy copies of every clip.
        folds : list of serwidgets.splits.Split
            Only the ``only_folds`` when given.
        """
        from . import splits
        from .inputs import with_noisy_copies

        table = df
        if self.name == "loso":
            folds = list(splits.loso(df))
        elif self.name == "speaker-kfold":
            folds = list(splits.speaker_kfold(df, self.n_folds, seed=self.seed))
        elif self.name == "loco":
            folds = list(splits.loco(df))
        else:
            if self.name == "leaky":
                table = with_noisy_copies(df, LEAKY_COPIES, LEAKY_SNR_DB, self.seed)
            folds = [splits.random_split(table, 0.2, self.seed)]
        if self.only_folds is not None:
            missing = set(self.only_folds) - {fold.name for fold in folds}
            if missing:
                raise ValueError(f"no fold named {sorted(missing)} in {self.name}; "
                                 f"folds: {[fold.name for fold in folds]}")
            folds = [fold for fold in folds if fold.name in self.only_folds]
        return table, folds


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


# -- calibration draws ----------------------------------------------------------------------------

def _draw(emotions, k, draw, rng):
    """Positions (into ``emotions``, one speaker's clips) of ``k`` calibration clips, or None if too few."""
    if draw == "neutral":
        pool = rng.permutation(np.flatnonzero(emotions == "neutral"))
        return pool[:k] if len(pool) >= k and len(emotions) > k else None
    if len(emotions) <= k:
        return None
    if draw == "random":
        return rng.permutation(len(emotions))[:k]
    queues = [list(rng.permutation(np.flatnonzero(emotions == e))) for e in rng.permutation(np.unique(emotions))]
    picked = []
    while len(picked) < k:
        for queue in queues:
            if queue and len(picked) < k:
                picked.append(queue.pop())
    return np.array(picked)


def calibrate_test_speakers(classifier, table, test, calibration: CalibrationDraw, seed):
    """Each test speaker's calibration, and the test rows left to score.

    Returns ``(scored, calibrations, summary)``: ``summary`` counts speakers calibrated, speakers
    not scored (too few clips, or too few usable ones) and calibration clips.
    """
    from .calibration import CalibrationError

    summary = {"speakers": 0, "not_scored": [], "clips": 0}
    if calibration.clips == 0:
        return test, None, summary
    rng = np.random.default_rng(seed)
    # The label noise has a generator of its own: the clips drawn stay those of the noiseless run.
    noise = np.random.default_rng([seed, 17])
    speakers, emotions = table["speaker"].to_numpy(), table["emotion"].to_numpy()
    # A random label is any emotion of the fold's test clips (a corpus's, in loco), not only the
    # speaker's: a speaker with clips of one emotion would otherwise get their true labels back.
    classes = np.unique(emotions[test])
    scored, calibrations = [], {}
    for speaker in sorted(np.unique(speakers[test])):
        rows = test[speakers[test] == speaker]
        if calibration.transductive:
            calibrating, rest = rows, rows
        else:
            picked = _draw(emotions[rows], calibration.clips, calibration.draw, rng)
            if picked is None:
                summary["not_scored"].append(str(speaker))
                continue
            calibrating, rest = rows[picked], np.setdiff1d(rows, rows[picked])
        labels = None
        if calibration.labelled:
            labels = emotions[calibrating].astype(object)
            relabel = noise.random(len(labels)) < calibration.label_noise
            labels[relabel] = noise.choice(classes, relabel.sum())
            labels = list(labels)
        try:
            calibrations[speaker] = classifier.calibrate(table.iloc[calibrating], labels=labels)
        except CalibrationError:  # too few usable clips to calibrate: not scored
            summary["not_scored"].append(str(speaker))
            continue
        scored.append(rest)
        summary["clips"] += len(calibrating)
    summary["speakers"] = len(calibrations)
    return (np.sort(np.concatenate(scored)) if scored else test[:0]), calibrations, summary


# -- one fold ---------------------------------------------------------------------------------------

class _Pooled:
    """The test predictions of every fold, pooled over the rows of the table."""

    def __init__(self, table, labels, protocol: Protocol):
        self.table, self.labels, self.protocol = table, labels, protocol
        self.truth = table["emotion"].map({label: i for i, label in enumerate(labels)}).to_numpy()
        self.predicted = {key: np.full(len(table), -1) for key in protocol.snr_keys}
        self.probabilities = np.zeros((len(table), len(labels)))
        self.fold = np.full(len(table), -1)
        self.folds, self.calibrations = [], []

    def run_fold(self, prototype, split, log) -> dict | None:
        """Fit a clone of ``prototype`` on ``split``'s training rows and score its test rows.

        Returns the fold's entry of ``Result.folds``, or None when no test row could be scored.
        """
        from sklearn.base import clone

        from .train import fit_split

        start = time.perf_counter()
        classifier = clone(prototype)
        if self.protocol.name == "leaky":
            # Deliberately past the guard (its verdict is recorded): this protocol measures leakage.
            classifier.fit(self.table.iloc[split.train])
        else:
            fit_split(classifier, self.table, split, speaker_independent=self.protocol.speaker_independent)
        scored, calibrations = split.test, None
        if self.protocol.calibration is not None:
            scored, calibrations, summary = calibrate_test_speakers(
                classifier, self.table, split.test, self.protocol.calibration, self.protocol.seed)
            self.calibrations.append(summary)
            if scored.size == 0:
                log(f"{self.protocol.name} {split.name}: no test speaker has enough clips to calibrate and "
                    "score; skipped")
                return None
        test = self.table.iloc[scored]
        for snr, key in zip(self.protocol.snrs, self.protocol.snr_keys):
            noisy = test if snr is None else test.assign(snr_db=snr)
            p = (classifier.predict_proba(noisy) if calibrations is None
                 else classifier.predict_proba(noisy, calibrations=calibrations))
            self.predicted[key][scored] = p.argmax(1)
            if snr is None:
                self.probabilities[scored] = p
        if calibrations and self.protocol.calibration.labelled:
            # How many speakers' labels passed the evidence gate (serwidgets.calibration): the
            # fits are cached, so this costs nothing after predicting.
            head = classifier.calibration_head
            self.calibrations[-1]["labels_used"] = sum(c.labels_used(head) for c in calibrations.values())
        self.fold[scored] = len(self.folds)
        fold = scores(self.truth[scored], self.predicted["clean"][scored], self.labels)
        self.folds.append({
            "name": split.name, "n_train": int(split.train.size), "n_test": int(scored.size),
            "UA": fold["UA"], "WA": fold["WA"], "seconds": round(time.perf_counter() - start, 1),
            **getattr(classifier, "chosen_", {}),
        })
        return self.folds[-1]

    # -- pooled scores ------------------------------------------------------------------------
    @property
    def tested(self) -> np.ndarray:
        return np.flatnonzero(self.predicted["clean"] >= 0)

    def column(self, name) -> np.ndarray:
        return self.table[name].astype(str).to_numpy()[self.tested]

    def languages(self) -> np.ndarray:
        """The language of each tested row ("unknown" where the table does not say)."""
        language = self.table.get("language", pd.Series(None, self.table.index)).astype(object).to_numpy()[self.tested]
        return np.array(["unknown" if v is None or v != v else str(v) for v in language], dtype=object)

    def scores(self, rows=slice(None), key="clean") -> dict:
        tested = self.tested[rows]
        return scores(self.truth[tested], self.predicted[key][tested], self.labels)

    def by_corpus_and_language(self, folds) -> dict:
        """Result fields on corpora and languages (and, for ``loco``, the mean over corpora)."""
        corpus, language = self.column("corpus"), self.languages()
        truth = self.truth[self.tested]
        out = {
            "per_corpus": {c: self.scores(corpus == c)["UA"] for c in sorted(set(corpus))},
            "per_corpus_classes": {c: [self.labels[k] for k in sorted(set(truth[corpus == c]))]
                                   for c in sorted(set(corpus))},
            "per_language": {},
        }
        for lang in sorted(set(language)):
            s = self.scores(language == lang)
            out["per_language"][lang] = {"UA": s["UA"], "WA": s["WA"], "n": s["n"],
                                         "corpora": sorted(set(corpus[language == lang]))}
        if self.protocol.name == "loco":
            out["loco_mean_UA"] = float(np.mean(list(out["per_corpus"].values())))
            emotion = self.table["emotion"].to_numpy()
            out["loco_unseen_classes"] = {split.name.split(":", 1)[1]: sorted(set(emotion[split.test])
                                                                              - set(emotion[split.train]))
                                          for split in folds}
        return out

    def per_speaker(self) -> dict:
        correct = self.truth[self.tested] == self.predicted["clean"][self.tested]
        return {str(k): float(v) for k, v in pd.Series(correct).groupby(self.column("speaker")).mean().items()}

    def predictions(self) -> Predictions:
        tested, paths = self.tested, self.table["path"].astype(str).to_numpy()
        root = os.path.commonpath([os.path.dirname(p) for p in paths]) if len(paths) else ""
        return Predictions(self.probabilities[tested], self.truth[tested], self.column("corpus"),
                           self.column("speaker"), [os.path.relpath(p, root) for p in paths[tested]],
                           self.fold[tested])

    def calibration(self) -> dict | None:
        draw = self.protocol.calibration
        if draw is None:
            return None
        return {**draw.to_dict(), "transductive": draw.transductive,
                "speakers_calibrated": sum(c["speakers"] for c in self.calibrations),
                "speakers_not_scored": sorted(s for c in self.calibrations for s in c["not_scored"]),
                "clips_used": sum(c["clips"] for c in self.calibrations),
                **({"speakers_labels_used": sum(c.get("labels_used", 0) for c in self.calibrations)}
                   if draw.labelled else {})}


# -- the protocol -------------------------------------------------------------------------------------

def _usable_rows(df, classifier, log):
    """``df`` without the files that cannot be used (empty, corrupt, no speech, ...), and their causes."""
    from .cache import count_causes

    skipped = classifier.skipped_files(df)
    if skipped:
        df = df[~df["path"].astype(str).isin(skipped)].reset_index(drop=True)
        log(f"skipped {len(skipped)} files that cannot be used: {count_causes(skipped)}")
    return df, count_causes(skipped)


def _leakage_verdict(table, folds) -> str | None:
    """The leakage guard's verdict on the ``leaky`` protocol's split (which trains anyway)."""
    from .splits import LeakageError, check_leakage

    try:
        check_leakage(table, folds[0], speaker_independent=False)
    except LeakageError as error:
        return str(error)
    return None


def evaluate(df, classifier, protocol: Protocol, *, task, log=print) -> Result:
    """Run ``protocol`` with a fresh clone of ``classifier`` per fold and pool the test predictions.

    ``df`` is a corpus table restricted to ``task`` (:func:`serwidgets.labels.select_task`);
    ``classifier`` a :class:`~serwidgets.classifier.Classifier` with the task's labels, cloned for
    every fold (it stays unfitted); ``log`` takes the progress messages. Returns the
    :class:`~serwidgets.results.Result` (write it with :func:`serwidgets.results.write_results`).

    Examples
    --------
    >>> from serwidgets.baseline import BaselineClassifier
    >>> r = evaluate(df, BaselineClassifier(labels), Protocol("random"), task="emodb7")        # doctest: +SKIP
    >>> r = evaluate(df, EmbeddingClassifier(labels), Protocol("loco", calibration=CalibrationDraw(10)),
    ...              task="emotion6")                                                      # doctest: +SKIP
    """
    from . import fingerprint
    from .audio import AudioOptions
    from .features import FeatureConfig
    from .labels import task_labels

    start = time.perf_counter()
    labels = task_labels(task)
    if tuple(classifier.labels) != tuple(labels):
        raise ValueError(f"the classifier's labels {tuple(classifier.labels)} are not task {task!r}'s {labels}")
    if protocol.calibration is not None and not hasattr(classifier, "calibrate"):
        raise ValueError(f"{type(classifier).__name__} cannot be calibrated to a speaker")
    # Files the corpus loaders left out for their names or labels (not those kept despite a fault).
    left_out = set(df.attrs.get("skipped", ()))
    faults = {cause: kept for cause, names in df.attrs.get("faults", {}).items()
              if (kept := [name for name in names if name in left_out])}
    df, skipped = _usable_rows(df, classifier, log)
    table, folds = protocol.splits(df)
    pooled = _Pooled(table, labels, protocol)
    for i, split in enumerate(folds):
        fold = pooled.run_fold(classifier, split, log)
        if fold is not None:
            log(f"{protocol.name} {split.name}: UA {fold['UA']:.3f} WA {fold['WA']:.3f} "
                f"({fold['seconds']:.0f} s, {i + 1}/{len(folds)})")
    fold_ua = np.array([f["UA"] for f in pooled.folds])
    recipe, params, draw = classifier.to_recipe(), classifier.get_params(), protocol.calibration
    return Result(
        classifier=classifier.name, recipe=recipe,
        audio_options=(params.get("audio_options") or AudioOptions()).to_dict(),
        # The log-mel or STFT settings of the classifiers that have them (not an encoder head's).
        feature_config=(params["feature_config"] or FeatureConfig()).to_dict() if "feature_config" in params else None,
        task=task, labels=list(labels), protocol=protocol.name, seed=protocol.seed, n_folds=len(pooled.folds),
        corpora=sorted(df["corpus"].unique()), n_clips=int(len(table)), speakers=int(df["speaker"].nunique()),
        # Transductive: test speakers' unlabelled clips shaped their features.
        speaker_norm=bool(recipe.get("speaker_norm")) or bool(draw and draw.transductive),
        calibration=pooled.calibration(),
        leaky=protocol.name == "leaky",
        leakage=_leakage_verdict(table, folds) if protocol.name == "leaky" else None,
        skipped_files=skipped, corpus_faults=faults,
        metrics=pooled.scores(), fold_UA={"mean": float(fold_ua.mean()), "std": float(fold_ua.std())},
        per_speaker=pooled.per_speaker(), **pooled.by_corpus_and_language(folds),
        snr_UA={key: pooled.scores(key=key)["UA"] for key in protocol.snr_keys},
        folds=pooled.folds, wall_seconds=round(time.perf_counter() - start, 1),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        # Library versions, CPU, thread counts: a re-run matches exactly only in the same one.
        environment=fingerprint.environment(), predictions=pooled.predictions(),
    )
