"""Results: what an evaluation measured, as a typed :class:`Result`, and its files.

:func:`serwidgets.evaluate.evaluate` returns a :class:`Result`. :func:`write_results` saves it as
``results/<name>.json`` (every field, canonical JSON: sorted keys), ``<name>.md`` (a readable
report) and, when it carries them, ``<name>.npz`` (its pooled test :class:`Predictions`: each
scored clip's probabilities, truth, corpus, speaker and fold, so expected calibration error,
reliability diagrams, risk-coverage curves or an ensemble of two results need no re-run).
:func:`load_results` reads them back, refusing keys a :class:`Result` does not have;
:func:`find_result` picks one; :func:`results_table` is the README's table.

Examples
--------
>>> from serwidgets import results
>>> saved = results.load_results()
>>> r = results.find_result(saved, corpora="emodb", protocol="loso", classifier="whisper")
>>> r.name, round(r.metrics["UA"], 3), r.labels[:2]
('emodb7-loso-whisper', 0.931, ['angry', 'boredom'])
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Result", "Predictions", "write_results", "load_results", "find_result", "results_table",
           "calibration_table", "calibration_by_corpus", "CALIBRATION_ROWS",
           "model_label", "personal_table", "new_tasks_table", "PERSONAL_TAKES", "NEW_TASKS",
           "shown_as_sure", "confidence_by_corpus", "confidence_table"]

#: Teaching one speaker's classes from a few takes, per draw (``scripts/run_personal.py``).
PERSONAL_TAKES = "personal-takes.csv"
#: Accuracy against takes per class on new tasks, per draw (``scripts/run_new_tasks.py``, :mod:`serwidgets.new_tasks`).
NEW_TASKS = "new-tasks.csv"


@dataclass(eq=False)
class Predictions:
    """The pooled clean test predictions of a result: one row per scored clip, in table order.

    Examples
    --------
    >>> p = Predictions(np.array([[0.9, 0.1], [0.4, 0.6]]), np.array([0, 0]), np.array(["a", "a"]),
    ...                 np.array(["a:1", "a:2"]), np.array(["x.wav", "y.wav"]), np.array([0, 1]))
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     Predictions.load(p.save(Path(folder) / "toy.npz")).truth.tolist(), p.correct.tolist()
    ([0, 0], [True, False])
    """

    probabilities: np.ndarray  # (n, k) float32, columns in the result's labels order
    truth: np.ndarray          # (n,) index of each clip's true label
    corpus: np.ndarray         # (n,) str
    speaker: np.ndarray        # (n,) str
    clip: np.ndarray           # (n,) str: the path relative to the folder all the table's clips share
    fold: np.ndarray           # (n,) index into the result's folds of the fold that scored the clip

    def __post_init__(self):
        self.probabilities = np.asarray(self.probabilities, np.float32)
        self.truth, self.fold = np.asarray(self.truth, np.int64), np.asarray(self.fold, np.int64)
        for name in ("corpus", "speaker", "clip"):
            setattr(self, name, np.asarray(getattr(self, name), str))

    @property
    def correct(self) -> np.ndarray:
        """Whether each clip's most probable label is its true one."""
        return self.probabilities.argmax(1) == self.truth

    def save(self, path) -> Path:
        """Write as a compressed ``.npz`` of plain arrays (read without pickle)."""
        path = Path(path)
        np.savez_compressed(path, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        return path

    @classmethod
    def load(cls, path) -> Predictions:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(**{f.name: arrays[f.name] for f in dataclasses.fields(cls)})


@dataclass(eq=False)
class Result:
    """What :func:`serwidgets.evaluate.evaluate` measured: one protocol, one classifier, pooled over folds.

    The fields are the keys of a results file; None: not recorded (older files) or not applicable.
    """

    classifier: str            # the learner kind: "cnn", "baseline", "whisper"
    recipe: dict               # Classifier.to_recipe(): the parameters that shape the fit
    audio_options: dict
    task: str
    labels: list
    protocol: str              # "loso", "speaker-kfold", "loco", "random", "leaky"
    seed: int                  # of the splits and of the calibration draws
    n_folds: int               # folds run
    corpora: list
    n_clips: int               # clips evaluated (unusable files dropped; leaky: with its noisy copies)
    speakers: int
    metrics: dict              # pooled test scores (evaluate.scores): UA, WA, macro_F1, recall, confusion, n
    fold_UA: dict              # mean and std of the folds' UA
    per_speaker: dict          # test speaker -> accuracy
    per_corpus: dict           # test corpus -> UA
    snr_UA: dict               # "clean" or the SNR in dB of snr_noise added to the test clips -> UA
    folds: list                # name, n_train (rows given to fit), n_test (scored), UA, WA, seconds + chosen_
    wall_seconds: float
    date: str
    environment: dict | None = None           # libraries, CPU, threads (serwidgets.fingerprint)
    feature_config: dict | None = None        # log-mel or STFT settings (an encoder head has none)
    speaker_norm: bool = False                # test speakers standardised by their own clips (transductive)
    # Calibrated to each test speaker: clips, draw, transductive, clips_used, speakers_calibrated and
    # speakers_not_scored.
    calibration: dict | None = None
    leaky: bool = False
    leakage: str | None = None                # the leakage guard's verdict on the leaky protocol's split
    skipped_files: dict | None = None         # files that cannot be used (corrupt, no speech, ...): cause -> count
    corpus_faults: dict | None = None         # files the corpus loaders left out (names, labels): cause -> names
    per_corpus_classes: dict | None = None    # corpus -> the classes its UA averages over
    per_language: dict | None = None          # language -> UA, WA, n, corpora
    loco_mean_UA: float | None = None         # loco: the mean of the corpora's UA
    loco_unseen_classes: dict | None = None   # loco: each held-out corpus's classes that no training corpus had
    snr_noise: str = "white"
    name: str = ""                            # the file name (write_results, load_results)
    predictions: Predictions | None = field(default=None, repr=False)   # not in the JSON: <name>.npz

    def to_dict(self) -> dict:
        """The JSON fields (every field but :attr:`predictions`)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "predictions"}

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        """The inverse of :meth:`to_dict`; a key that is no field, or a missing one, is refused.

        Examples
        --------
        >>> Result.from_dict({"classifier": "cnn", "model": "cnn"})
        Traceback (most recent call last):
        ...
        ValueError: not a result: unknown keys ['model']
        """
        names = {f.name for f in dataclasses.fields(cls)} - {"predictions"}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"not a result: unknown keys {unknown}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.name not in data)
        if missing:
            raise ValueError(f"not a result: missing keys {missing}")
        return cls(**data)


def _cross_corpus_markdown(r: Result) -> list:
    """Markdown lines for the per-corpus classes, the per-language table and the loco mean."""
    lines = []
    if r.per_corpus_classes:
        lines += ["", "Classes scored per corpus (UA averages recall over these):", "",
                  *(f"- {c}: {', '.join(k)}" for c, k in r.per_corpus_classes.items())]
    if r.loco_mean_UA is not None:
        lines += ["", f"Mean UA over held-out corpora (leave one corpus out): **{r.loco_mean_UA:.3f}**"]
        unseen = {c: k for c, k in (r.loco_unseen_classes or {}).items() if k}
        if unseen:
            lines += ["", "Classes of a held-out corpus that no training corpus had (never predicted): "
                      + "; ".join(f"{c}: {', '.join(k)}" for c, k in unseen.items())]
    if r.per_language:
        lines += ["", "## UA per language", "", "| language | corpora | clips | UA | WA |", "|---|---|---|---|---|",
                  *(f"| {lang} | {', '.join(v['corpora'])} | {v['n']} | {v['UA']:.3f} | {v['WA']:.3f} |"
                    for lang, v in r.per_language.items())]
    return lines


def _draw_words(calibration: dict) -> str:
    """E.g. ``"round-robin draw, labelled"``: how the calibration clips were drawn, and their labels."""
    words = f"{calibration['draw']} draw"
    if calibration.get("labelled"):
        words += ", labelled"
        if calibration.get("label_noise"):
            words += f" ({calibration['label_noise']:.0%} of labels random)"
    return words


def _calibration_phrase(calibration: dict) -> str:
    if calibration["transductive"]:
        return "every test clip of a speaker calibrates and is scored"
    phrase = f"{calibration['clips']} clips of each test speaker ({_draw_words(calibration)}) calibrate; " \
             "only the others are scored"
    if "speakers_labels_used" in calibration:
        phrase += (f"; their labels passed the evidence gate for {calibration['speakers_labels_used']} of "
                   f"{calibration['speakers_calibrated']} speakers")
    return phrase


def _markdown(r: Result) -> str:
    m = r.metrics
    files_left_out = []
    if r.skipped_files:
        files_left_out.append("Files skipped because they cannot be used: "
                              + ", ".join(f"{cause} {n}" for cause, n in r.skipped_files.items()) + ".")
    if r.corpus_faults:
        files_left_out.append("Files the corpus loaders left out (names or labels): "
                              + ", ".join(f"{cause} {len(names)}" for cause, names in r.corpus_faults.items()) + ".")
    lines = [
        f"# {r.name}",
        "",
        f"{r.classifier} on {', '.join(r.corpora)} ({r.n_clips} clips, {r.speakers} speakers), "
        f"task `{r.task}`, protocol `{r.protocol}` ({r.n_folds} folds)"
        + (" — **LEAKY: test clips have noisy twins in training**" if r.leaky else "")
        + (" — **speaker-normalised**: each test speaker's features were standardised with "
           "statistics of all that speaker's (unlabelled) test clips" if r.speaker_norm else "")
        + (f" — **calibrated**: {_calibration_phrase(r.calibration)}"
           if r.calibration and not r.calibration["transductive"] else "")
        + ".",
        "",
        f"Model: {model_label(r)}.",
        "",
        "| UA | WA | macro-F1 | fold UA (mean ± std) | wall time |",
        "|---|---|---|---|---|",
        f"| {m['UA']:.3f} | {m['WA']:.3f} | {m['macro_F1']:.3f} | "
        f"{r.fold_UA['mean']:.3f} ± {r.fold_UA['std']:.3f} | {r.wall_seconds / 60:.1f} min |",
        "",
        "## Confusion matrix (rows: true, columns: predicted)",
        "",
        "| | " + " | ".join(r.labels) + " |",
        "|---" * (len(r.labels) + 1) + "|",
        *(f"| {label} | " + " | ".join(map(str, row)) + " |" for label, row in zip(r.labels, m["confusion"])),
        "",
        "## Accuracy per speaker",
        "",
        "| speaker | accuracy |",
        "|---|---|",
        *(f"| {s} | {a:.3f} |" for s, a in r.per_speaker.items()),
        "",
        "## UA per corpus",
        "",
        *(f"- {c}: {ua:.3f}" for c, ua in r.per_corpus.items()),
        *(line for text in files_left_out for line in ("", text)),
        *_cross_corpus_markdown(r),
        "",
        f"## UA vs test-time SNR in dB ({r.snr_noise} noise added to the test clips)",
        "",
        "| " + " | ".join(r.snr_UA) + " |",
        "|---" * len(r.snr_UA) + "|",
        "| " + " | ".join(f"{v:.3f}" for v in r.snr_UA.values()) + " |",
    ]
    if r.leakage:
        lines += ["", "## Leakage guard verdict (bypassed for this protocol)", "", f"    {r.leakage[:600]}"]
    return "\n".join(lines) + "\n"


def write_results(result: Result, name: str, directory="results") -> tuple[Path, Path]:
    """Write ``<directory>/<name>.json`` and ``<name>.md`` (and ``<name>.npz`` with the predictions).

    Sets ``result.name``; returns the JSON and Markdown paths.

    Parameters
    ----------
    result : Result
    name : str
        File name without suffix.
    directory : str or pathlib.Path

    See Also
    --------
    load_results : read them back.

    Examples
    --------
    >>> write_results(result, "emodb7-loso-cnn")                       # doctest: +SKIP
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result.name = name
    json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
    json_path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    md_path.write_text(_markdown(result))
    if result.predictions is not None:
        result.predictions.save(directory / f"{name}.npz")
    return json_path, md_path


def default_directory() -> Path:
    """The checkout's ``results/`` (next to the ``serwidgets`` package) if there is one, else
    ``./results``."""
    checkout = Path(__file__).resolve().parents[1] / "results"
    return checkout if checkout.is_dir() else Path("results")


def load_results(directory=None) -> list:
    """Every saved result in ``directory`` (``*.json``, sorted by file name).

    Parameters
    ----------
    directory : str or pathlib.Path, optional
        Default: the checkout's ``results/`` found from the package location, else
        ``./results`` (see :func:`default_directory`).

    Returns
    -------
    list of Result
        Each with its ``name`` (the file name without ``.json``) and, where a ``<name>.npz``
        lies beside it, its :attr:`~Result.predictions`.

    Raises
    ------
    ValueError
        A file holds a key that is no :class:`Result` field (the message names the file).

    See Also
    --------
    find_result : pick one of them.
    write_results : write one.

    Examples
    --------
    >>> "emodb7-loso-whisper" in [r.name for r in load_results()]
    True
    """
    directory = default_directory() if directory is None else Path(directory)
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            result = Result.from_dict({**json.loads(path.read_text()), "name": path.stem})
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        if path.with_suffix(".npz").is_file():
            result.predictions = Predictions.load(path.with_suffix(".npz"))
        out.append(result)
    return out


def find_result(results, *, corpora=None, task=None, protocol=None, classifier=None, name=None):
    """The first of ``results`` that matches every given criterion, or None.

    Parameters
    ----------
    results : iterable of Result
        E.g. :func:`load_results`.
    corpora : str or sequence of str, optional
        The result's corpora, as a set (order does not matter): ``"emodb"`` or
        ``["emodb", "ravdess"]``.
    task, protocol, classifier, name : str, optional

    Returns
    -------
    Result or None

    Examples
    --------
    >>> saved = load_results()
    >>> find_result(saved, corpora=["ravdess"], classifier="whisper").name
    'ravdess8-kfold6-whisper'
    >>> find_result(saved, task="emodb7", classifier="no such") is None
    True
    """
    wanted = {"task": task, "protocol": protocol, "classifier": classifier, "name": name}
    corpora = None if corpora is None else {corpora} if isinstance(corpora, str) else set(corpora)
    for r in results:
        if corpora is not None and set(r.corpora) != corpora:
            continue
        if all(value is None or getattr(r, key) == value for key, value in wanted.items()):
            return r
    return None


def model_label(result: Result) -> str:
    """What was evaluated, in a few words: ``cnn (30 epochs)``, ``baseline (compare + logreg)``, ...

    Examples
    --------
    >>> r = find_result(load_results(), name="emodb7-loso-compare")
    >>> model_label(r)
    'baseline (compare + logreg)'
    >>> model_label(find_result(load_results(), name="emodb7-loso-cnn"))
    'cnn (≤25 epochs, early stopping)'
    """
    recipe = result.recipe
    if result.classifier == "cnn":
        details = [f"≤{recipe['epochs']} epochs, early stopping" if recipe["val_speakers"]
                   else f"{recipe['epochs']} epochs"]
        if recipe["net_kwargs"].get("pooling"):
            details.append(f"{recipe['net_kwargs']['pooling']} pooling")
        return f"cnn ({', '.join(details)})"
    if result.classifier == "whisper":
        layers = recipe["layers"]
        return ("whisper-base encoder (frozen) + logistic regression"
                + (f" (states {layers})" if layers != "auto" else " (states chosen by inner CV)")
                + (" + confidence for strangers (fitted out of corpus)" if "confidence" in recipe else ""))
    if result.classifier == "baseline":
        return f"baseline ({recipe['feature_set']} + {recipe['estimator']})"
    return result.classifier


def _protocol_cell(r: Result) -> str:
    protocol = r.protocol + (f" ({r.n_folds} folds)" if r.n_folds > 1 else "")
    if r.leaky:
        protocol += " (noisy twins across the split: inflated)"
    if r.speaker_norm:
        protocol += ", speaker-normalised (transductive)"
    elif r.calibration and r.calibration["clips"]:
        protocol += (f", calibrated with {r.calibration['clips']} clips per test speaker "
                     f"({_draw_words(r.calibration)}; scored on the rest)")
    return protocol


def results_table(directory=None, links=None) -> str:
    """The README's results table (Markdown), generated from ``<directory>/*.json``.

    Parameters
    ----------
    directory : str or pathlib.Path, optional
        Default: :func:`default_directory`.
    links : str, optional
        Folder the rows link to (each result's ``.md``), as seen from where the table is shown;
        default: the directory's own name (right for the README, beside ``results/``).

    Examples
    --------
    >>> print(results_table(links="../results").splitlines()[0])
    | result | classifier | task | corpora | protocol | UA | WA | macro-F1 | wall time |
    """
    directory = default_directory() if directory is None else Path(directory)
    links = directory.name if links is None else str(links).rstrip("/")
    rows = [
        "| result | classifier | task | corpora | protocol | UA | WA | macro-F1 | wall time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in load_results(directory):
        m = r.metrics
        rows.append(
            f"| [{r.name}]({links}/{r.name}.md) | {model_label(r)} | {r.task} | {', '.join(r.corpora)} | "
            f"{_protocol_cell(r)} | {m['UA']:.3f} | {m['WA']:.3f} | {m['macro_F1']:.3f} | "
            f"{r.wall_seconds / 60:.1f} min |"
        )
    return "\n".join(rows) + "\n"


#: The rows of :func:`calibration_table`: what calibrates each test speaker, and the suffix its
#: results file adds after ``-cal<k>`` (``ser evaluate``'s default names).
CALIBRATION_ROWS = (
    ("unlabelled, random clips", "-random"),
    ("unlabelled, round-robin clips", ""),
    ("labelled, round-robin clips", "-labelled"),
    ("labelled, round-robin clips, random labels", "-labelled-noise1"),
)


def _headline(r: Result | None) -> str:
    """A result's headline UA (the mean over held-out corpora for ``loco``), or "–" when not run."""
    if r is None:
        return "–"
    return f"{r.metrics['UA'] if r.loco_mean_UA is None else r.loco_mean_UA:.3f}"


def calibration_table(base: str, directory=None, clips=(0, 5, 10, 20)) -> str:
    """UA against the number of calibration clips per test speaker, one row per kind of calibration.

    Reads the results named ``base`` (k = 0, uncalibrated) and ``<base>-cal<k><suffix>`` (see
    :data:`CALIBRATION_ROWS`); a leave-one-corpus-out result gives its mean over held-out corpora.
    A row without any file is left out; a missing cell is "–".

    Examples
    --------
    >>> print(calibration_table("emotion6-loco7-whisper").splitlines()[0])
    | calibration of each test speaker | k = 0 | k = 5 | k = 10 | k = 20 |
    """
    saved = {r.name: r for r in load_results(directory)}
    rows = ["| calibration of each test speaker | " + " | ".join(f"k = {k}" for k in clips) + " |",
            "|---|" + "---|" * len(clips)]
    for label, suffix in CALIBRATION_ROWS:
        cells = [saved.get(base if k == 0 else f"{base}-cal{k}{suffix}") for k in clips]
        if any(cell is not None for k, cell in zip(clips, cells) if k):
            rows.append(f"| {label} | " + " | ".join(map(_headline, cells)) + " |")
    return "\n".join(rows) + "\n"


def calibration_by_corpus(base: str, clips: int, directory=None, leave_out=()) -> str:
    """UA per held-out corpus of a leave-one-corpus-out run, uncalibrated and with each kind of
    calibration of ``clips`` clips (columns: :data:`CALIBRATION_ROWS`), the mean over corpora, and
    the mean without the corpora in ``leave_out``.

    Examples
    --------
    >>> print(calibration_by_corpus("emotion6-loco7-whisper", 10).splitlines()[0])    # doctest: +ELLIPSIS
    | held-out corpus | language | k = 0 | unlabelled, random clips | ...
    """
    saved = {r.name: r for r in load_results(directory)}
    columns = [("k = 0", saved.get(base))] + [(label, saved.get(f"{base}-cal{clips}{suffix}"))
                                              for label, suffix in CALIBRATION_ROWS]
    columns = [(label, r) for label, r in columns if r is not None]
    language = {c: lang for _, r in columns for lang, v in (r.per_language or {}).items() for c in v["corpora"]}
    corpora = sorted({c for _, r in columns for c in r.per_corpus})
    rows = ["| held-out corpus | language | " + " | ".join(label for label, _ in columns) + " |",
            "|---|---|" + "---|" * len(columns)]

    def cell(r, corpus):
        return f"{r.per_corpus[corpus]:.3f}" if corpus in r.per_corpus else "–"

    def mean(r, keep):
        values = [ua for c, ua in r.per_corpus.items() if c in keep]
        return f"{np.mean(values):.3f}" if values else "–"

    for corpus in corpora:
        rows.append(f"| {corpus} | {language.get(corpus, '?')} | " + " | ".join(cell(r, corpus) for _, r in columns) + " |")
    rows.append("| **mean** | | " + " | ".join(f"**{mean(r, corpora)}**" for _, r in columns) + " |")
    if leave_out:
        kept = [c for c in corpora if c not in leave_out]
        rows.append(f"| mean without {', '.join(leave_out)} | | " + " | ".join(mean(r, kept) for _, r in columns) + " |")
    return "\n".join(rows) + "\n"


def personal_table(grid: str = "4x5", directory=None) -> str:
    """Teaching one speaker's classes (:func:`serwidgets.teach`), from :data:`PERSONAL_TAKES`: per corpus,
    leave-one-take-out accuracy and UA on the speaker's other clips, each the mean over speakers of
    the mean over draws, for each head; ``grid`` is ``"CLASSESxTAKES"``.

    Examples
    --------
    >>> print(personal_table().splitlines()[0])                                   # doctest: +ELLIPSIS
    | head | measured on | emodb | ravdess | ased | emovo | korean-emotiontts | nemo | **mean** |
    """
    import pandas as pd

    d = pd.read_csv(Path(directory or default_directory()) / PERSONAL_TAKES)
    d = d[d["grid"] == grid]
    corpora = list(dict.fromkeys(d["corpus"]))
    speakers = d.groupby(["head", "corpus", "speaker"])[["loo", "held_out"]].mean()
    by_corpus = speakers.groupby(["head", "corpus"]).mean()
    counts = speakers.reset_index().groupby("corpus")["speaker"].nunique()
    rows = ["| head | measured on | " + " | ".join(corpora) + " | **mean** |", "|---|---|" + "---|" * (len(corpora) + 1),
            "| speakers | | " + " | ".join(str(counts[c]) for c in corpora) + " | |"]
    for head in dict.fromkeys(d["head"]):
        for metric, words in (("loo", "the takes, leave one out"), ("held_out", "the speaker's other clips (UA)")):
            values = np.array([by_corpus.loc[(head, c), metric] for c in corpora])
            measured = ~np.isnan(values)  # a corpus whose speakers have no clip left over has no held-out figure
            mean = f"**{values[measured].mean():.3f}**" + ("" if measured.all() else f" ({measured.sum()} corpora)")
            rows.append(f"| {head} | {words} | " + " | ".join("–" if np.isnan(v) else f"{v:.3f}" for v in values)
                        + f" | {mean} |")
    return "\n".join(rows) + "\n"


def new_tasks_table(directory=None) -> str:
    """Mean UA over draws on held-out clips, by task and learner against takes per class, from :data:`NEW_TASKS`.

    Examples
    --------
    >>> print(new_tasks_table().splitlines()[0])
    | task | learner | 1 | 2 | 3 | 5 | 10 | 20 |
    """
    import pandas as pd

    d = pd.read_csv(Path(directory or default_directory()) / NEW_TASKS)
    table = d.groupby(["task", "learner", "takes"])["ua"].mean().unstack("takes")
    rows = ["| task | learner | " + " | ".join(str(t) for t in table.columns) + " |", "|---|---|" + "---|" * len(table.columns)]
    for (task, learner), values in table.iterrows():
        rows.append(f"| {task} | {learner} | " + " | ".join("–" if np.isnan(v) else f"{v:.2f}" for v in values) + " |")
    return "\n".join(rows) + "\n"


# -- confidence (issue 18) ------------------------------------------------------------------------

def _confidence_state(result: Result) -> str:
    """The calibration state (:data:`serwidgets.confidence.STATES`) of a result's test speakers."""
    calibration = result.calibration or {"clips": 0}
    if not calibration["clips"]:
        return "uncalibrated"
    return "calibrated_labelled" if calibration.get("labelled") else "calibrated"


def shown_as_sure(result: Result) -> np.ndarray | None:
    """Whether each of a result's predictions would be shown as sure: its top probability at or
    above the threshold its fold's confidence chose for the result's calibration state
    (``folds[i]["confidence"]``, recorded by :class:`~serwidgets.confident_classifier.ConfidentClassifier`);
    None for a result without a confidence. The typicality check (``atypical``) is not applied.
    """
    state = _confidence_state(result)
    thresholds = [fold.get("confidence", {}).get(state, {}).get("threshold") for fold in result.folds]
    if result.predictions is None or any(t is None for t in thresholds):
        return None
    p = result.predictions
    return p.probabilities.max(1) >= np.asarray(thresholds, float)[p.fold]


def confidence_by_corpus(result: Result, bins: int | None = None) -> dict:
    """Per test corpus of a result with predictions: clips, accuracy, ECE, reliability bins,
    risk-coverage, and (with a confidence) the accuracy among the clips shown as sure and their share.

    Examples
    --------
    >>> r = find_result(load_results(), name="emotion6-loco7-whisper")
    >>> by_corpus = confidence_by_corpus(r)
    >>> round(by_corpus["emodb"]["ECE"], 3), by_corpus["emodb"]["sure"]
    (0.046, None)
    """
    from serwidgets.reliability import ECE_BINS, expected_calibration_error, reliability_table, risk_coverage, selective

    if result.predictions is None:
        raise ValueError(f"{result.name} has no saved predictions (<name>.npz)")
    bins = ECE_BINS if bins is None else bins
    p, sure = result.predictions, shown_as_sure(result)
    out = {}
    for corpus in sorted(set(p.corpus)):
        rows = p.corpus == corpus
        correct = p.correct[rows]
        out[corpus] = {"n": int(rows.sum()), "accuracy": float(correct.mean()),
                       "ECE": expected_calibration_error(p.probabilities[rows], p.truth[rows], bins),
                       "reliability": reliability_table(p.probabilities[rows], p.truth[rows], bins),
                       "risk_coverage": risk_coverage(p.probabilities[rows].max(1), correct),
                       "sure": None if sure is None else selective(sure[rows], correct)}
    return out


def confidence_table(result: Result, before: Result | None = None) -> str:
    """Markdown: per held-out corpus, ECE (before, and with the result's confidence), the threshold,
    accuracy among the clips shown as sure and their share, and the accuracy over all clips.

    ``before``: the same protocol without the confidence (its ECE column). The last rows give the
    mean over corpora (each weighs the same) and the largest ECE.

    Examples
    --------
    >>> r = find_result(load_results(), name="emotion6-loco7-whisper")
    >>> print(confidence_table(r).splitlines()[0])
    | held-out corpus | clips | accuracy | ECE | threshold | accuracy when sure | shown as sure |
    """
    after = confidence_by_corpus(result)
    earlier = confidence_by_corpus(before) if before is not None else None
    state = _confidence_state(result)
    threshold = {fold["name"].split(":", 1)[-1]: fold.get("confidence", {}).get(state, {}).get("threshold")
                 for fold in result.folds}

    def number(value, form=".3f"):
        return "–" if value is None or value != value else format(value, form)

    def ece(values):  # the ECE cell(s): before (when given) and after
        return (f"{number(values[0])} | " if earlier is not None else "") + number(values[1])

    head = "ECE" if earlier is None else "ECE before | ECE after"
    rows = [f"| held-out corpus | clips | accuracy | {head} | threshold | accuracy when sure | shown as sure |",
            "|---|---|---|" + "---|" * (2 if earlier is not None else 1) + "---|---|---|"]
    for corpus, v in after.items():
        sure = v["sure"] or {}
        rows.append(f"| {corpus} | {v['n']} | {v['accuracy']:.3f} | "
                    f"{ece((earlier and earlier[corpus]['ECE'], v['ECE']))} | {number(threshold.get(corpus))} | "
                    f"{number(sure.get('accuracy'))} | {number(sure.get('coverage'), '.1%')} |")

    def mean(values):
        values = [v for v in values if v is not None and v == v]
        return float(np.mean(values)) if values else None

    sure = [v["sure"] or {} for v in after.values()]
    before_eces = [v["ECE"] for v in earlier.values()] if earlier else None
    after_eces = [v["ECE"] for v in after.values()]
    rows.append(f"| **mean** | | {mean([v['accuracy'] for v in after.values()]):.3f} | "
                f"{ece((before_eces and mean(before_eces), mean(after_eces)))} | | "
                f"{number(mean([s.get('accuracy') for s in sure]))} | {number(mean([s.get('coverage') for s in sure]), '.1%')} |")
    rows.append(f"| max | | | {ece((before_eces and max(before_eces), max(after_eces)))} | | | |")
    return "\n".join(rows) + "\n"
