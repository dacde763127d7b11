#!/usr/bin/env python
"""Confidence for strangers (issue 18), measured by leaving one corpus out, and the shipped card's confidence.

    python scripts/run_confidence_results.py [--only loco|shipped|report] [--data-dir DIR]

``loco``: the 7 corpora, emotion6, the shipped recipe's head (states 1-3, C 0.01) wrapped in
:class:`serwidgets.confident_classifier.ConfidentClassifier`, whose confidence is fitted inside
each fold's training side on an inner leave-one-corpus-out (so nothing of the held-out corpus
shapes it), scored uncalibrated and calibrated with 10 clips per test speaker (round-robin over
their emotions; unlabelled, and labelled). Writes ``results/emotion6-loco7-whisper-confidence*``
(with their predictions ``.npz``); the same runs without the confidence are
``emotion6-loco7-whisper`` and ``-cal10[-labelled]`` (``scripts/run_whisper_results.py``). Prints
ECE per held-out corpus before and after, accuracy among the clips shown as sure and their share,
and, for comparison, a temperature that grows with the clip's atypicality (log typicality), fitted
on the same out-of-corpus predictions.

``shipped``: fits the confidence of ``models/ser-emotion6`` on out-of-corpus predictions of all 7
corpora (the 5 it was not trained on predicted by its recipe trained on EmoDB + RAVDESS, EmoDB by
the recipe trained on RAVDESS alone and RAVDESS by the recipe trained on EmoDB alone) and writes
it into the card (the head's weights are untouched; the card's sha256s still hold).

``report``: prints the comparison of ``loco`` again from the results files (no fitting).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serwidgets import corpora, labels, results, shipped  # noqa: E402
from serwidgets.card import EncoderHeadCard  # noqa: E402
from serwidgets.confident_classifier import ConfidentClassifier, fit_confidence, out_of_corpus_predictions  # noqa: E402
from serwidgets.embedding_classifier import EmbeddingClassifier  # noqa: E402
from serwidgets.evaluate import CalibrationDraw, Protocol, evaluate  # noqa: E402

ALL = ["emodb", "ravdess", "ased", "emovo", "urdu", "korean-emotiontts", "nemo"]
BASE = "emotion6-loco7-whisper"
SHIPPED = "ser-emotion6"
#: Suffix of each run -> its calibration of the test speakers (None: uncalibrated).
RUNS = {"": None, "-cal10": CalibrationDraw(10), "-cal10-labelled": CalibrationDraw(10, labelled=True)}


def usable(df, classifier):
    skipped = classifier.skipped_files(df)
    return df[~df["path"].astype(str).isin(skipped)].reset_index(drop=True)


def print_comparison(directory) -> None:
    """ECE per held-out corpus without and with the confidence, and "not sure", from the results files."""
    saved = {r.name: r for r in results.load_results(directory)}
    for suffix in RUNS:
        before, after = saved.get(BASE + suffix), saved.get(f"{BASE}-confidence{suffix}")
        if before is None or after is None:
            continue
        print(f"\n{after.name} (against {before.name})")
        print(results.confidence_table(after, before), end="")
        for r in (before, after):
            by_corpus = results.confidence_by_corpus(r)
            print(f"{r.name}: accuracy among the 40 % most confident clips of each corpus, mean over corpora "
                  f"{np.mean([v['risk_coverage'][0.4] for v in by_corpus.values()]):.3f}")


def typicality_comparison(df) -> None:
    """Uncalibrated: one temperature against one that grows with the clip's log typicality (what
    ``atypical`` thresholds), both fitted on the same inner out-of-corpus predictions of each
    fold's training side; prints ECE per held-out corpus. The heads are the runs' (memoised)."""
    from serwidgets.confidence import fit_rule
    from serwidgets.heads import state_columns
    from serwidgets.reliability import expected_calibration_error

    task_labels = labels.task_labels("emotion6")
    corpus = df["corpus"].astype(str).to_numpy()
    y = df["emotion"].map({label: i for i, label in enumerate(task_labels)}).to_numpy()
    X = EmbeddingClassifier(task_labels).embeddings(df)

    def predict(train_corpora, rows):
        model = EmbeddingClassifier(task_labels).fit(df[np.isin(corpus, train_corpora)])
        columns = state_columns(model.n_states_, model.layers_)
        typicality = model.global_head_.typicality(X[rows].reshape(len(rows), -1)[:, columns])
        return model.predict_features(X[rows]), np.log(typicality)[:, None]

    eces = {"one temperature": {}, "T(log typicality)": {}}
    for c in ALL:
        train = [j for j in ALL if j != c]
        parts = []
        for j in train:
            rows = np.flatnonzero(corpus == j)
            parts.append((*predict([k for k in train if k != j], rows), y[rows], corpus[rows]))
        P, S, Y, G = (np.concatenate([part[i] for part in parts]) for i in range(4))
        rows = np.flatnonzero(corpus == c)
        p, s = predict(train, rows)
        one = fit_rule(P, Y, S[:, :0], groups=G)
        grows = fit_rule(P, Y, S, names=("log_typicality",), groups=G)
        eces["one temperature"][c] = expected_calibration_error(one.apply(p, s[:, :0]), y[rows])
        eces["T(log typicality)"][c] = expected_calibration_error(grows.apply(p, s), y[rows])
        print(f"{c}: T(log typicality) coef {grows.coef[0]:+.3f}", flush=True)
    print("\nuncalibrated, ECE per held-out corpus (nested fits):")
    print("| temperature | " + " | ".join(ALL) + " | mean | max |")
    print("|---|" + "---|" * (len(ALL) + 2))
    for name, values in eces.items():
        v = [values[c] for c in ALL]
        print(f"| {name} | " + " | ".join(f"{e:.3f}" for e in v) + f" | {np.mean(v):.3f} | {max(v):.3f} |")


def run_loco(data_dir, directory) -> None:
    task_labels = labels.task_labels("emotion6")
    classifier = ConfidentClassifier(EmbeddingClassifier(task_labels))
    # evaluate drops the unusable files too: the same rows, so the heads fitted below are the runs'
    df = usable(labels.select_task(corpora.load_corpora(ALL, data_dir), "emotion6"), classifier)
    for suffix, draw in RUNS.items():
        name = f"{BASE}-confidence{suffix}"
        result = evaluate(df, classifier, Protocol("loco", calibration=draw), task="emotion6")
        results.write_results(result, name, directory)
        print(f"{name}: loco mean UA {result.loco_mean_UA:.3f} ({result.wall_seconds / 60:.1f} min)", flush=True)
    print_comparison(directory)
    typicality_comparison(df)


def run_shipped(data_dir) -> None:
    directory = shipped.path("models") / SHIPPED
    card = EncoderHeadCard.read(directory)
    task_labels = labels.task_labels(card.task)
    estimator = EmbeddingClassifier.from_recipe(task_labels, card.training["recipe"])
    df = usable(labels.select_task(corpora.load_corpora(ALL, data_dir), card.task), estimator)
    predictions = out_of_corpus_predictions(df, estimator, trained_on=card.training["corpora"], log=print)
    card.confidence = fit_confidence(predictions, fitted_on={
        "predictions": f"out of corpus: {', '.join(card.training['corpora'])} each by the recipe trained on the "
                       "others, every other corpus by the recipe trained on all of them",
        "script": "scripts/run_confidence_results.py --only shipped"})
    card.write(directory)
    for state, rule in card.confidence.rules.items():
        print(f"{state}: T = {np.exp(rule.intercept):.2f} (signals {list(rule.signals)}, coef "
              f"{[round(c, 3) for c in rule.coef]}), threshold {rule.threshold:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("loco", "shipped", "report"), action="append")
    parser.add_argument("--data-dir", default=None, help="folder with one subfolder per corpus (default $SER_DATA)")
    parser.add_argument("--results", default=str(REPO / "results"))
    args = parser.parse_args()
    only = set(args.only or ("loco", "shipped"))
    if "loco" in only:
        run_loco(args.data_dir, args.results)
    if "shipped" in only:
        run_shipped(args.data_dir)
    if only == {"report"}:
        print_comparison(args.results)


if __name__ == "__main__":
    main()
