"""Results files: write them, read them back, find one, and the README's table.

A result is the JSON-ready dict :func:`serwidgets.evaluate.evaluate` returns. It is saved as
``results/<name>.json`` (the dict plus its ``"name"``) and ``results/<name>.md`` (a readable
report) by :func:`write_results`; :func:`load_results` reads every saved one back and
:func:`find_result` picks one by what was evaluated.

Files written before the names were unified say ``"model"`` for the learner kind and
``"speaker_normalised"`` for the transductive speaker normalisation; the readers here accept
them, and :func:`load_results` adds the current keys (``"classifier"``, ``"speaker_norm"``)
to such results so code that reads them needs one spelling.

Examples
--------
>>> from serwidgets import results
>>> saved = results.load_results()                                         # doctest: +SKIP
>>> r = results.find_result(saved, corpora="emodb", protocol="loso", classifier="whisper")  # doctest: +SKIP
>>> round(r["metrics"]["UA"], 3)                                           # doctest: +SKIP
0.931
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_results", "load_results", "find_result", "results_table", "model_label",
           "classifier_of", "is_speaker_norm"]


def classifier_of(result):
    """The learner kind of ``result`` (``"cnn"``, ``"baseline"``, ``"whisper"``, ...).

    Reads ``"classifier"``, or ``"model"`` in files written before that name.

    Examples
    --------
    >>> classifier_of({"classifier": "cnn"}), classifier_of({"model": "baseline"})
    ('cnn', 'baseline')
    """
    return result["classifier"] if "classifier" in result else result["model"]


def is_speaker_norm(result):
    """Whether test speakers' features were standardised with their own (unlabelled) clips.

    Reads ``"speaker_norm"``, or ``"speaker_normalised"`` in files written before that name.

    Examples
    --------
    >>> is_speaker_norm({"speaker_norm": True}), is_speaker_norm({"speaker_normalised": False}), is_speaker_norm({})
    (True, False, False)
    """
    value = result["speaker_norm"] if "speaker_norm" in result else result.get("speaker_normalised")
    return bool(value)


def _cross_corpus_markdown(r):
    """Markdown lines for the per-corpus classes, the per-language table and the loco mean."""
    lines = []
    if r.get("per_corpus_classes"):
        lines += ["", "Classes scored per corpus (UA averages recall over these):", "",
                  *(f"- {c}: {', '.join(k)}" for c, k in r["per_corpus_classes"].items())]
    if "loco_mean_UA" in r:
        lines += ["", f"Mean UA over held-out corpora (leave one corpus out): **{r['loco_mean_UA']:.3f}**"]
        unseen = {c: k for c, k in r.get("loco_unseen_classes", {}).items() if k}
        if unseen:
            lines += ["", "Classes of a held-out corpus that no training corpus had (never predicted): "
                      + "; ".join(f"{c}: {', '.join(k)}" for c, k in unseen.items())]
    if r.get("per_language"):
        lines += ["", "## UA per language", "", "| language | corpora | clips | UA | WA |", "|---|---|---|---|---|",
                  *(f"| {lang} | {', '.join(v['corpora'])} | {v['n']} | {v['UA']:.3f} | {v['WA']:.3f} |"
                    for lang, v in r["per_language"].items())]
    return lines


def _markdown(name, r):
    m = r["metrics"]
    lines = [
        f"# {name}",
        "",
        f"{classifier_of(r)} on {', '.join(r['corpora'])} ({r['n_clips']} clips, {r['speakers']} speakers), "
        f"task `{r['task']}`, protocol `{r['protocol']}` ({r['n_folds']} folds)"
        + (" — **LEAKY: test clips have noisy twins in training**" if r["leaky"] else "")
        + (" — **speaker-normalised**: each test speaker's features were standardised with "
           "statistics of all that speaker's (unlabelled) test clips" if is_speaker_norm(r) else "")
        + (f" — **calibrated**: {r['calibration']['protocol']} ({r['calibration']['kind']} clips)"
           if r.get("calibration") and not r["calibration"]["transductive"] else "")
        + ".",
        "",
        f"Model: {model_label(r)}.",
        "",
        "| UA | WA | macro-F1 | fold UA (mean ± std) | wall time |",
        "|---|---|---|---|---|",
        f"| {m['UA']:.3f} | {m['WA']:.3f} | {m['macro_F1']:.3f} | "
        f"{r['fold_UA']['mean']:.3f} ± {r['fold_UA']['std']:.3f} | {r['wall_seconds'] / 60:.1f} min |",
        "",
        "## Confusion matrix (rows: true, columns: predicted)",
        "",
        "| | " + " | ".join(r["labels"]) + " |",
        "|---" * (len(r["labels"]) + 1) + "|",
        *(f"| {label} | " + " | ".join(map(str, row)) + " |"
          for label, row in zip(r["labels"], m["confusion"])),
        "",
        "## Accuracy per speaker",
        "",
        "| speaker | accuracy |",
        "|---|---|",
        *(f"| {s} | {a:.3f} |" for s, a in r["per_speaker"].items()),
        "",
        "## UA per corpus",
        "",
        *(f"- {c}: {ua:.3f}" for c, ua in r["per_corpus"].items()),
        *(["", "Files skipped because they cannot be used: "
           + ", ".join(f"{cause} {n}" for cause, n in r["skipped_files"].items()) + "."]
          if r.get("skipped_files") else []),
        *_cross_corpus_markdown(r),
        "",
        f"## UA vs test-time SNR in dB ({r['snr_noise']} noise added to the test clips)",
        "",
        "| " + " | ".join(r["snr_UA"]) + " |",
        "|---" * len(r["snr_UA"]) + "|",
        "| " + " | ".join(f"{v:.3f}" for v in r["snr_UA"].values()) + " |",
    ]
    if r["leakage"]:
        lines += ["", "## Leakage guard verdict (bypassed for this protocol)", "",
                  f"    {r['leakage'][:600]}"]
    return "\n".join(lines) + "\n"


def write_results(result, name, directory="results"):
    """Write ``<directory>/<name>.json`` and ``<name>.md``; returns both paths.

    Parameters
    ----------
    result : dict
        What :func:`serwidgets.evaluate.evaluate` returned.
    name : str
        File name without suffix; also stored in the JSON as ``"name"``.
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
    json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
    json_path.write_text(json.dumps({"name": name, **result}, indent=2) + "\n")
    md_path.write_text(_markdown(name, result))
    return json_path, md_path


def default_directory():
    """The checkout's ``results/`` (next to the ``serwidgets`` package) if there is one, else
    ``./results``."""
    checkout = Path(__file__).resolve().parents[1] / "results"
    return checkout if checkout.is_dir() else Path("results")


def load_results(directory=None):
    """Every saved result in ``directory`` (``*.json``, sorted by file name).

    Parameters
    ----------
    directory : str or pathlib.Path, optional
        Default: the checkout's ``results/`` found from the package location, else
        ``./results`` (see :func:`default_directory`).

    Returns
    -------
    list of dict
        Each result as saved, with ``"name"`` (the file name without ``.json`` if the file
        lacks it), and ``"classifier"`` and ``"speaker_norm"`` added to results written with
        the old keys ``"model"`` and ``"speaker_normalised"`` (which stay too).

    See Also
    --------
    find_result : pick one of them.
    write_results : write one.

    Examples
    --------
    >>> names = [r["name"] for r in load_results()]                    # doctest: +SKIP
    >>> "emodb7-loso-whisper" in names                                 # doctest: +SKIP
    True
    """
    directory = default_directory() if directory is None else Path(directory)
    out = []
    for path in sorted(directory.glob("*.json")):
        r = json.loads(path.read_text())
        r.setdefault("name", path.stem)
        if "classifier" not in r and "model" in r:
            r["classifier"] = r["model"]
        if "speaker_norm" not in r:
            r["speaker_norm"] = is_speaker_norm(r)
        out.append(r)
    return out


def _as_set(value):
    return {value} if isinstance(value, str) else set(value)


def find_result(results, *, corpora=None, task=None, protocol=None, classifier=None, name=None):
    """The first of ``results`` that matches every given criterion, or None.

    Parameters
    ----------
    results : iterable of dict
        E.g. :func:`load_results`.
    corpora : str or sequence of str, optional
        The result's corpora, as a set (order does not matter): ``"emodb"`` or
        ``["emodb", "ravdess"]``.
    task, protocol, classifier, name : str, optional
        ``classifier`` also matches the old key ``"model"``.

    Returns
    -------
    dict or None

    Examples
    --------
    >>> rs = [{"name": "a", "corpora": ["emodb"], "task": "emodb7", "protocol": "loso", "model": "cnn"},
    ...       {"name": "b", "corpora": ["emodb"], "task": "emodb7", "protocol": "loso", "classifier": "whisper"}]
    >>> find_result(rs, corpora="emodb", classifier="whisper")["name"]
    'b'
    >>> find_result(rs, protocol="loso")["name"], find_result(rs, task="ravdess8") is None
    ('a', True)
    """
    for r in results:
        if corpora is not None and set(r.get("corpora", ())) != _as_set(corpora):
            continue
        if task is not None and r.get("task") != task:
            continue
        if protocol is not None and r.get("protocol") != protocol:
            continue
        if classifier is not None and r.get("classifier", r.get("model")) != classifier:
            continue
        if name is not None and r.get("name") != name:
            continue
        return r
    return None


def model_label(result):
    """What was evaluated, in a few words: ``cnn (30 epochs)``, ``baseline (compare + logreg)``, ...

    Examples
    --------
    >>> model_label({"classifier": "baseline", "recipe": {"feature_set": "compare", "estimator": "logreg"}})
    'baseline (compare + logreg)'
    >>> model_label({"model": "cnn", "recipe": {"epochs": 25, "val_speakers": 2}})
    'cnn (≤25 epochs, early stopping)'
    """
    recipe = result.get("recipe") or {}
    classifier = classifier_of(result)
    if classifier == "cnn" and "epochs" in recipe:
        details = [f"≤{recipe['epochs']} epochs, early stopping" if recipe.get("val_speakers")
                   else f"{recipe['epochs']} epochs"]
        if (recipe.get("net_kwargs") or {}).get("pooling"):
            details.append(f"{recipe['net_kwargs']['pooling']} pooling")
        return f"cnn ({', '.join(details)})"
    if classifier == "whisper":
        layers = recipe.get("layers")
        return ("whisper-base encoder (frozen) + logistic regression"
                + (f" (states {layers})" if layers and layers != "auto" else " (states chosen by inner CV)"))
    if classifier != "baseline":
        return classifier
    # Baseline recipes name the scikit-learn estimator "estimator" (older files: "classifier").
    estimator = recipe.get("estimator", recipe.get("classifier", "logreg"))
    return f"baseline ({recipe.get('feature_set', 'stats')} + {estimator})"


def results_table(directory=None, links=None):
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
        protocol = r["protocol"] + (f" ({r['n_folds']} folds)" if r["n_folds"] > 1 else "")
        if r["leaky"]:
            protocol += " (noisy twins across the split: inflated)"
        if is_speaker_norm(r):
            protocol += ", speaker-normalised (transductive)"
        elif (r.get("calibration") or {}).get("clips"):
            protocol += (f", calibrated with {r['calibration']['clips']} {r['calibration']['kind']} clips "
                         "per test speaker (scored on the rest)")
        m = r["metrics"]
        rows.append(
            f"| [{r['name']}]({links}/{r['name']}.md) | {model_label(r)} | {r['task']} | "
            f"{', '.join(r['corpora'])} | {protocol} | {m['UA']:.3f} | {m['WA']:.3f} | "
            f"{m['macro_F1']:.3f} | {r['wall_seconds'] / 60:.1f} min |"
        )
    return "\n".join(rows) + "\n"
