#!/usr/bin/env python
"""Issue 18, item 3: each lever on the same leave-one-corpus-out folds, one file per lever.

Every lever is scored on the folds of ``ser evaluate --protocol loco`` (7 corpora, ``emotion6``,
the files that cannot be used left out: :func:`folds` is ``Protocol("loco").splits``) and
written as ``results/levers/<name>.json``: mean UA over the held-out corpora (each over the
classes it has), UA per held-out corpus and per language, expected calibration error (10
equal-width bins on the top probability) per held-out corpus, wall time with the machine's load
average, the command and the commit. ``scripts/make_results_table.py`` renders them as the
README's lever table. The files live in a folder of their own because ``results/*.json`` are
:class:`serwidgets.results.Result` files and these are not.

    python scripts/run_levers.py baseline                  # the shipped kind of head: states 1-3, C 0.01
    python scripts/run_levers.py states --layers 0,1,2,3   # the same head on other encoder states
    python scripts/run_levers.py states --layers 4,5,6 --states-cache DIR --encoder-name NAME   # another encoder's
    python scripts/run_levers.py augment --kind band --copies DIR
    python scripts/run_levers.py from-result emotion6-loco7-whisper-cal10 --name speaker-norm-k10 ...
    python scripts/run_levers.py import-lab --lab /work/lab

``augment`` adds one augmented copy of every training clip (pooled states read from ``DIR``,
``<sha256[:2]>/<sha256 of the source file>.npz`` with a ``pooled`` array, as
``scripts/encode_augmented.py`` writes them); a copy enters a fold's training side only when its source clip
does, and the held-out corpus is always scored on its clean clips. ``from-result`` turns a
committed ``ser evaluate`` result (and its ``.npz`` predictions) into a lever row.
``import-lab`` writes the rows that were measured by the research scripts of issue 18
(``/work/lab/r18a``, ``/work/lab/r18b``; not in this repository) from their output files, each
marked with the script that produced it and the load it ran under, and the rows not measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from make_results_table import LEVER_GROUPS as GROUPS  # noqa: E402  (the lever table's groups, in order)
from run_whisper_results import ALL  # noqa: E402  (the corpora, in the order the committed results used)

from serwidgets import corpora, embeddings, labels  # noqa: E402
from serwidgets.embedding_classifier import DEFAULT_C, DEFAULT_LAYERS, EmbeddingClassifier  # noqa: E402
from serwidgets.evaluate import Protocol, scores  # noqa: E402
from serwidgets.reliability import expected_calibration_error  # noqa: E402
from serwidgets.splits import check_leakage  # noqa: E402

TASK = "emotion6"
LEVERS = REPO / "results" / "levers"
#: The committed result the baseline must reproduce (same folds, same head).
BASELINE_RESULT = "emotion6-loco7-whisper"


# -- the folds and the scores -------------------------------------------------------------------

def usable_table(data_dir=None):
    """The 7 corpora's ``emotion6`` table without the files that cannot be used, and their cached
    pooled states ``(n, 4, 1024)`` (the rows ``ser evaluate`` scores, in the same order)."""
    df = labels.select_task(corpora.load_corpora(ALL, data_dir), TASK)
    X = embeddings.cached_embeddings(df, progress=False)
    usable = ~np.isnan(X).reshape(len(X), -1).any(axis=1)
    return df[usable].reset_index(drop=True), X[usable]


def folds(df):
    """The leave-one-corpus-out folds of ``df``: exactly those of ``ser evaluate --protocol loco``."""
    return Protocol("loco").splits(df)[1]


def summarise(df, probabilities, label_names=None) -> dict:
    """Mean UA over held-out corpora, UA per corpus and per language, and ECE per corpus, of the
    rows of ``df`` that have probabilities (the others: folds not run)."""
    label_names = label_names or labels.task_labels(TASK)
    truth = df["emotion"].map({label: i for i, label in enumerate(label_names)}).to_numpy()
    done = ~np.isnan(probabilities[:, 0])
    corpus, language = df["corpus"].astype(str).to_numpy(), df["language"].astype(str).to_numpy()
    per_corpus, ece = {}, {}
    for c in sorted(set(corpus[done])):
        rows = done & (corpus == c)
        per_corpus[c] = scores(truth[rows], probabilities[rows].argmax(1), label_names)["UA"]
        ece[c] = expected_calibration_error(probabilities[rows], truth[rows])
    per_language = {lang: scores(truth[done & (language == lang)], probabilities[done & (language == lang)].argmax(1),
                                 label_names)["UA"] for lang in sorted(set(language[done]))}
    return {"per_corpus": per_corpus, "per_language": per_language, "ECE": ece,
            "languages": {c: language[corpus == c][0] for c in per_corpus}}


def run_loco(df, X, fit_predict, copies=None, log=print):
    """Probabilities of every row of ``df`` from the fold that holds its corpus out.

    ``fit_predict(X_train, df_train, X_test) -> (n_test, k)``; ``copies`` is ``(rows, X_copies)``:
    augmented copies, ``rows`` indexing their source clips in ``df``. Every fold passes the
    leakage guard the protocols use (no speaker on both sides). Returns the probabilities, each
    fold's seconds and the load average (1 min) before the first fold and after each.
    """
    probabilities = np.full((len(df), len(labels.task_labels(TASK))), np.nan)
    fold_seconds, loads = {}, [os.getloadavg()[0]]
    for split in folds(df):
        check_leakage(df, split, speaker_independent=True)
        start = time.perf_counter()
        X_train, df_train = X[split.train], df.iloc[split.train]
        if copies is not None:
            rows, X_copies = copies
            in_train = np.zeros(len(df), bool)
            in_train[split.train] = True
            keep = in_train[rows]
            X_train = np.concatenate([X_train, X_copies[keep]])
            df_train = pd.concat([df_train, df.iloc[rows[keep]]])
        probabilities[split.test] = fit_predict(X_train, df_train.reset_index(drop=True), X[split.test])
        name = split.name.split(":", 1)[1]
        fold_seconds[name] = round(time.perf_counter() - start, 1)
        loads.append(os.getloadavg()[0])
        log(f"  {split.name}: {fold_seconds[name]:.0f} s (load {loads[-1]:.1f})", flush=True)
    return probabilities, fold_seconds, loads


def shipped_head(layers=DEFAULT_LAYERS, C=DEFAULT_C):
    """``fit_predict`` of the shipped kind of head (its global, uncalibrated head)."""
    def fit_predict(X_train, df_train, X_test):
        head = EmbeddingClassifier(labels.task_labels(TASK), layers=layers, C=C, normalization="global")
        return head.fit_features(X_train, df_train).predict_features(X_test)
    return fit_predict


# -- the files --------------------------------------------------------------------------------------

def _commit() -> str:
    """HEAD, with ``+changes`` when this script differs from it (a run of uncommitted code)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    return head + ("+changes" if git("status", "--porcelain", "--", "scripts/run_levers.py") else "")


#: The commit of the code that runs, taken when it is loaded (the file may change during a long run).
COMMIT = _commit()


def commit() -> str:
    return COMMIT


def write_lever(name, row, directory=LEVERS) -> Path:
    """Write one lever's row as canonical JSON; returns the path."""
    if row["group"] not in GROUPS:
        raise ValueError(f"unknown group {row['group']!r}; expected one of {GROUPS}")
    if row.get("per_corpus") and len(row["per_corpus"]) == len(ALL):
        row["mean_UA"] = float(np.mean(list(row["per_corpus"].values())))
    if row.get("ECE"):
        row["ECE_mean"], row["ECE_max"] = float(np.mean(list(row["ECE"].values()))), float(max(row["ECE"].values()))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(row, indent=2, sort_keys=True) + "\n")
    print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: mean UA "
          f"{row.get('mean_UA') if row.get('mean_UA') is None else round(row['mean_UA'], 3)}")
    return path


def measured_row(group, description, df, run, start, **extra) -> dict:
    """The file of a lever run here: ``run`` is what :func:`run_loco` returned, ``start`` its start time."""
    probabilities, fold_seconds, loads = run
    return {
        "group": group, "description": description, **summarise(df, probabilities),
        "folds": sorted(fold_seconds), "n_clips": int(len(df)), "fold_seconds": fold_seconds,
        "wall_seconds": round(time.perf_counter() - start, 1),
        # The 1-min load average before the first fold and after each: [lowest, highest].
        "load_average": [round(min(loads), 1), round(max(loads), 1)], "cpus": os.cpu_count(),
        "produced_by": "scripts/run_levers.py", "command": "python scripts/run_levers.py " + shlex.join(sys.argv[1:]),
        "commit": commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


# -- the levers -------------------------------------------------------------------------------------

def run_baseline(args):
    df, X = usable_table(args.data_dir)
    start = time.perf_counter()
    row = measured_row("baseline", "the shipped kind of head: states 1-3, C 0.01, balanced over emotions and "
                       "corpora, global (uncalibrated)", df, run_loco(df, X, shipped_head()), start)
    saved = json.loads((REPO / "results" / f"{BASELINE_RESULT}.json").read_text())
    row["reproduces"] = {"result": BASELINE_RESULT, "max_abs_difference_per_corpus_UA": max(
        abs(row["per_corpus"][c] - saved["per_corpus"][c]) for c in saved["per_corpus"])}
    write_lever(args.name or "baseline", row)


def run_states(args):
    layers = tuple(int(s) for s in args.layers.split(","))
    df, X = usable_table(args.data_dir)
    names = "state " + str(layers[0]) if len(layers) == 1 else f"states {', '.join(map(str, layers))}"
    where, extra = "the shipped cut (blocks 0-3)", {}
    if args.states_cache:
        # Another encoder's pooled states of every clip (e.g. all 6 blocks), cached as the augmented copies are.
        rows, X = load_copies(df, args.states_cache)
        if len(rows) != len(df):
            raise SystemExit(f"{args.states_cache}: {len(rows)} of {len(df)} clips")
        where, extra = args.encoder_name, {"states_cache": args.encoder_name}
    start = time.perf_counter()
    row = measured_row("states and depth", f"the shipped head on {names} of {where}",
                       df, run_loco(df, X, shipped_head(layers=layers)), start, layers=list(layers), **extra)
    write_lever(args.name or "states-" + "-".join(map(str, layers)), row)


def load_copies(df, directory):
    """``(rows, X_copies)``: the cached augmented copy of each clip of ``df`` that has one."""
    from serwidgets.cache import file_sha256

    rows, X = [], []
    for i, path in enumerate(df["path"]):
        entry = Path(directory) / (sha := file_sha256(path))[:2] / f"{sha}.npz"
        if entry.is_file():
            with np.load(entry) as z:
                if "pooled" in z.files:  # a copy that lost its speech has none
                    rows.append(i)
                    X.append(z["pooled"])
    return np.array(rows, int), np.stack(X)


def run_augment(args):
    df, X = usable_table(args.data_dir)
    rows, X_copies = load_copies(df, args.copies)
    print(f"{args.kind}: {len(rows)} copies of {len(df)} clips", flush=True)
    start = time.perf_counter()
    row = measured_row("augmentation", args.description or f"+ one {args.kind} copy of every training clip",
                       df, run_loco(df, X, shipped_head(), copies=(rows, X_copies)), start,
                       n_copies=int(len(rows)), copies_encoded_by=args.encoded_by)
    write_lever(args.name or f"augment-{args.kind}", row)


def run_from_result(args):
    """A lever row from a committed ``ser evaluate`` result and its predictions."""
    from serwidgets.results import load_results

    result = next(r for r in load_results(REPO / "results") if r.name == args.result)
    if result.protocol != "loco":
        raise SystemExit(f"{args.result}: not a leave-one-corpus-out result")
    p = result.predictions  # None for results written before predictions were saved: no ECE
    ece = {} if p is None else {c: expected_calibration_error(p.probabilities[p.corpus == c], p.truth[p.corpus == c])
                                for c in sorted(set(p.corpus))}
    languages = {c: lang for lang, v in result.per_language.items() for c in v["corpora"]}
    last = subprocess.run(["git", "log", "-1", "--format=%h", "--", f"results/{args.result}.json"], cwd=REPO,
                          capture_output=True, text=True).stdout.strip()
    row = {
        "group": args.group, "description": args.description, "per_corpus": result.per_corpus,
        "per_language": {lang: v["UA"] for lang, v in result.per_language.items()}, "ECE": ece,
        "languages": languages, "folds": sorted(result.per_corpus), "n_clips": result.n_clips,
        "n_scored": None if p is None else int(len(p.truth)),
        # Its run reused the fitted heads of the uncalibrated run (memoised), so its wall time
        # is not the lever's cost.
        "wall_seconds": None, "result_wall_seconds": result.wall_seconds, "load_average": None,
        "load_note": "not recorded by ser evaluate",
        "produced_by": f"scripts/run_whisper_results.py (results/{args.result}.json)",
        "command": "python scripts/run_levers.py " + shlex.join(sys.argv[1:]),
        "commit": last, "date": result.date, "note": args.note,
    }
    write_lever(args.name, row)


# -- the rows the research scripts measured ---------------------------------------------------------

#: Load on the shared 2-core machine while the research ran (their reports and logs).
LAB_LOAD = "2 shared cores, load average 10-20 (research run; compare rows, not product figures)"


def _languages():
    saved = json.loads((REPO / "results" / f"{BASELINE_RESULT}.json").read_text())
    return {c: lang for lang, v in saved["per_language"].items() for c in v["corpora"]}


def _lab_row(group, description, per_corpus, ece, seconds, script, **extra):
    languages = _languages()
    return {
        "group": group, "description": description, "per_corpus": per_corpus,
        "per_language": {languages[c]: ua for c, ua in per_corpus.items()}, "ECE": ece,
        "languages": {c: languages[c] for c in per_corpus}, "folds": sorted(per_corpus),
        "wall_seconds": seconds, "load_average": None, "load_note": LAB_LOAD, "produced_by": script,
        "command": "python scripts/run_levers.py " + shlex.join(sys.argv[1:]), "commit": commit(), **extra,
    }


def import_lab(args):
    lab = Path(args.lab)
    b = lab / "r18b"

    def r18b(name, file="levers.json", rows=None):
        data = json.loads((b / "results" / file).read_text())
        return (data[rows] if rows else data)[name]

    out = {}
    nn = "r18b/nnfits.py (numpy/TensorFlow heads on the cached pooled states), table by r18b/09_levers.py"
    for key, name, what, script in (
            ("MLP 3072-256-6 (dropout, AdamW)", "head-mlp",
             "a small MLP (3072-256-6, GELU, dropout 0.2/0.5, AdamW, 30 epochs) on states 1-3", nn),
            ("learned state weights (1-3) + linear", "head-state-weights-1-3",
             "learned softmax weights over states 1-3, then a linear softmax", nn),
            ("learned state weights (0-3) + linear", "head-state-weights-0-3",
             "learned softmax weights over states 0-3, then a linear softmax", nn),
            ("attention pooling over frames (8 ep)", "head-attention",
             "attention pooling over frames of states 1-3 (instead of mean + std), 8 epochs",
             "r18b/08_attention.py on frame states cached by r18b/03_frames.py"),
            ("LR C 0.001", "head-C-0.001", "the shipped head with C 0.001 (hindsight best of a grid; "
             "EmoDB 7-class LOSO falls 0.923 -> 0.895 with it, r18b/12b_within_C.py)", "r18b/lrfits.py"),
            ("LR balance emotions only", "balance-emotions", "the shipped head balanced over emotions only",
             "r18b/lrfits.py"),
            ("LR balance corpus", "balance-corpora", "the shipped head balanced over corpora only", "r18b/lrfits.py")):
        r = r18b(key)
        group = "speaker normalisation and balance" if key.startswith("LR balance") else "head"
        out[name] = _lab_row(group, what, r["UA"], r["ECE"], r["seconds"] and round(r["seconds"], 1), script)
    for key, name, what in (
            ("log-linear (weight nested)", "ensemble-egemaps-loglinear",
             "Whisper head x eGeMAPS head (88 functionals, LR, C nested), log-linear pooling, weight nested "
             "(inner LOCO). Within corpus it falls: EmoDB 7-class LOSO 0.920 -> 0.872, RAVDESS 8-class "
             "0.760 -> 0.745 (r18b/12_within.py, 50/50 ensemble)"),
            ("average 50/50", "ensemble-egemaps-average", "Whisper head and eGeMAPS head, probabilities averaged"),
            ("egemaps (C nested)", "egemaps-alone", "eGeMAPS functionals + LR alone (C nested)")):
        r = r18b(key, "ensemble.json", "rows")
        out[name] = _lab_row("ensemble", what, r["UA"], r["ECE"], None, "r18b/06_ensemble.py (eGeMAPS cached by "
                             "r18b/02_functionals_cache.py)")
    out.update(fine_tuning(lab))
    out.update(NOT_MEASURED)
    for name, row in out.items():
        existing = LEVERS / f"{name}.json"
        if existing.is_file() and json.loads(existing.read_text()).get("produced_by") == "scripts/run_levers.py":
            print(f"{existing.relative_to(REPO)}: measured here; the research's figure stays out")
            continue
        if "not_measured" in row:
            row = {**row, "command": "python scripts/run_levers.py " + shlex.join(sys.argv[1:]), "commit": commit()}
        write_lever(name, row)


def fine_tuning(lab: Path) -> dict:
    """The partial fine-tuning row: the folds r18a/finetune.py finished, with its per-epoch times,
    its timing probe on the RAVDESS fold, and the LiteRT-against-Keras check of an exported block."""
    results = lab / "r18a" / "results"
    folds = json.loads((results / "finetune_b3_folds.json").read_text())["histories"]
    probe = json.loads((results / "finetune_b3_ravdess_probe.json").read_text())
    epochs = {fold: [{"seconds": round(e["seconds"], 1), "clips": e["clips"], "val_UA": round(e["val_UA"], 3)}
                     for e in h["history"] if "seconds" in e] for fold, h in folds.items()}
    baseline = json.loads((LEVERS / "baseline.json").read_text())["per_corpus"]
    export = lab / "h18b" / "export_check.txt"
    check = next((line for line in export.read_text().splitlines() if line.startswith("max |LiteRT")),
                 None) if export.is_file() else None
    minutes = "; ".join(f"{fold} {min(e['seconds'] for e in runs) / 60:.1f}-{max(e['seconds'] for e in runs) / 60:.1f} "
                        f"min per epoch of {runs[0]['clips']} clips" for fold, runs in epochs.items())
    probe_ua = probe["histories"]["ravdess"]["fold_UA"]
    note = (f"epochs at load 8-15: {minutes}; a timing probe on the RAVDESS fold (40 steps of 16 clips per epoch) "
            f"scored {probe_ua:.3f} (frozen: {baseline['ravdess']:.3f}); the ASED fold's tuned encoder exported to "
            "LiteRT and checked against Keras (r18a/export_ft.py's check, run without its card by "
            "/work/lab/h18b/export_check.py): " + (check or "not run"))
    row = _lab_row(
        "fine-tuning",
        "block 3 (the shipped cut's top block) fine-tuned on cached state-2 frames with mean+std pooling and "
        "a linear softmax (3 epochs; emotion/corpus/speaker-balanced cross-entropy; best epoch by UA on 15 % "
        "of each training corpus's speakers), then the shipped head refitted on states 1-3 with the tuned "
        "state 3; run on 2 of the 7 folds, ASED and Korean (each fold took 0.5-1 h on the shared CPU)",
        {fold: h["fold_UA"] for fold, h in folds.items()}, {}, None,
        "r18a/finetune.py (frames cached by r18a/encode_job.py --encoder l6 --frames 2,5)",
        epochs=epochs, minutes_per_fold={fold: round(h["minutes"], 1) for fold, h in folds.items()},
        timing_probe={"fold": "ravdess", "args": probe["args"], "fold_UA": probe["histories"]["ravdess"]["fold_UA"],
                      "note": "40 steps of 16 clips per epoch (601 of ~5000 clips), 4 epochs: a timing probe"},
        litert_check=check, note=note)
    return {"finetune-block3": row}


NOT_MEASURED = {
    f"augment-{kind}": {"group": "augmentation", "description": f"+ one {what} copy of every training clip",
                        "not_measured": why, "per_corpus": {}, "ECE": {}, "folds": []}
    for kind, what, why in (
        ("noise", "noise (white, pink or 4-talker babble, 5-20 dB SNR)",
         "not encoded: each augmented encoding of ~7100 clips takes 35-65 min on the shared machine, and two "
         "others (band-limiting/EQ, reverberation) were run first"),
        ("pitch", "pitch-shifted (1-3 semitones)", "not encoded (as noise)"),
    )
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="folder with one subfolder per corpus (default $SER_DATA)")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("baseline")
    p.add_argument("--name", default=None)
    p.set_defaults(run=run_baseline)
    p = commands.add_parser("states")
    p.add_argument("--layers", required=True, help="e.g. 0,1,2,3")
    p.add_argument("--states-cache", default=None, help="folder of another encoder's pooled states (default: "
                   "the shipped cut's, from the embedding cache)")
    p.add_argument("--encoder-name", default=None, help="what encoded --states-cache (recorded in the file)")
    p.add_argument("--name", default=None)
    p.set_defaults(run=run_states)
    p = commands.add_parser("augment")
    p.add_argument("--kind", required=True)
    p.add_argument("--copies", required=True, help="folder of cached pooled states of augmented copies")
    p.add_argument("--encoded-by", required=True, help="what encoded the copies (recorded in the file)")
    p.add_argument("--description", default=None)
    p.add_argument("--name", default=None)
    p.set_defaults(run=run_augment)
    p = commands.add_parser("from-result")
    p.add_argument("result")
    p.add_argument("--name", required=True)
    p.add_argument("--group", required=True, choices=GROUPS)
    p.add_argument("--description", required=True)
    p.add_argument("--note", default=None)
    p.set_defaults(run=run_from_result)
    p = commands.add_parser("import-lab")
    p.add_argument("--lab", default="/work/lab")
    p.set_defaults(run=import_lab)
    args = parser.parse_args()
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
