#!/usr/bin/env python
"""How well :func:`serwidgets.teach` learns one speaker's classes from a few takes, on the real corpora.

    python scripts/run_personal.py [--grid 4x5 4x3 4x10 2x5] [--seeds 0 1 2 3 4]   # writes results/personal-takes.csv
    python scripts/run_personal.py --table             # the tables of the file (the README's: results.personal_table)

Protocol (issue 19; the research of ``/work/lab/r19``, whose draws this repeats): for each speaker of
six acted corpora and each seed, ``CLASSES x TAKES`` = that many takes of each of 4 emotions (angry,
happy, neutral, sad; RAVDESS: calm, its neutral has too few clips per actor) drawn at random from the
speaker's clips. A head is taught on the takes exactly as :func:`serwidgets.personal.teach_features`
teaches it, and scored two ways: **leave-one-take-out** accuracy (each take predicted by the head
taught from the others: what the widget shows) and **UA on the speaker's other clips** of those
classes (never taught; "held-out"). A speaker's figure is the mean over seeds; a corpus's the mean
over its speakers; "macro" the mean over corpora. With 2 classes, the 2 are drawn per speaker and
seed from the corpus's emotions. ``s4x5``, ``s2x5``: the classes are *sentences* (ASED, EMOVO, nEMO:
what was said, each sentence's takes in the speaker's varied emotions), drawn per speaker and seed:
what the emotion prior costs when the classes are not feelings.

Heads (``--heads``):

``ridge+prior``  what ``teach`` does: the takes' standardised states + the scores of an emotion head
                 calibrated on the takes. The shipped head was trained on EmoDB and RAVDESS; for those two
                 corpora the prior is the same recipe trained on the shipped training corpora *without*
                 the tested one (so no speaker is ever scored by a prior that heard them).
``ridge``        the takes' standardised states only.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serwidgets import corpora, embeddings, load_model, results  # noqa: E402
from serwidgets.personal import PersonalClassifier  # noqa: E402

#: The 4 emotions of each corpus (RAVDESS's neutral has 4 clips per actor: calm stands in).
FOUR = ["angry", "happy", "neutral", "sad"]
CLASSES = {"emodb": FOUR, "ravdess": ["angry", "happy", "calm", "sad"], "ased": FOUR, "emovo": FOUR,
           "korean-emotiontts": FOUR, "nemo": FOUR}
HEADS = ("ridge+prior", "ridge")
#: Corpora whose speakers say several sentences in every emotion: classes that are not feelings.
SENTENCES = ("ased", "emovo", "nemo")


def draws(df, classes_by_corpus, takes, seeds, n_classes=None):
    """``(corpus, speaker, seed, classes, train rows, train targets, test rows, test targets)`` per draw
    (r19's ``lab.draws``: the same seeds give the same takes)."""
    for corpus, classes in classes_by_corpus.items():
        d = df[(df.corpus == corpus) & df.emotion.isin(classes)]
        for speaker, g in d.groupby("speaker"):
            counts = g.emotion.value_counts()
            ok = [c for c in classes if counts.get(c, 0) >= takes]
            k = n_classes or len(classes)
            if len(ok) < k:
                continue
            for seed in seeds:
                rng = np.random.default_rng([seed, zlib.crc32(speaker.encode())])
                chosen = sorted(rng.choice(ok, k, replace=False)) if k < len(ok) else ok
                tr, ytr, te, yte = [], [], [], []
                for j, c in enumerate(chosen):
                    idx = g.index[g.emotion == c].to_numpy()
                    pick = rng.choice(len(idx), takes, replace=False)
                    rest = np.setdiff1d(np.arange(len(idx)), pick)
                    tr += list(idx[pick])
                    ytr += [j] * takes
                    te += list(idx[rest])
                    yte += [j] * len(rest)
                yield corpus, speaker, seed, [str(c) for c in chosen], np.array(tr), np.array(ytr), \
                    np.array(te, int), np.array(yte, int)


def unheard_priors(model, df, X):
    """Corpus -> the speaker head that never heard it: the shipped one, or its recipe without that corpus."""
    from serwidgets.embedding_classifier import EmbeddingClassifier

    trained_on = model.card.training["corpora"]
    chosen = model.card.training["chosen"]
    priors = {}
    for corpus in trained_on:
        rows = (df.corpus.isin([c for c in trained_on if c != corpus]) & df.emotion.isin(model.labels)).to_numpy()
        clf = EmbeddingClassifier(model.labels, layers=tuple(chosen["layers"]), C=chosen["C"],
                                  balance=model.card.training["recipe"]["balance"])
        clf.fit_features(X[rows], df[rows].reset_index(drop=True))
        priors[corpus] = clf.calibration_head
        print(f"prior for {corpus}: the shipped recipe on {sorted(set(trained_on) - {corpus})} "
              f"({rows.sum()} clips)", flush=True)
    return lambda corpus: priors.get(corpus, model.calibration_head)


def ua(y, pred, k):
    present = [j for j in range(k) if (y == j).any()]
    return float(np.mean([(pred[y == j] == j).mean() for j in present])) if present else np.nan


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", nargs="+", default=["4x5", "4x3", "4x10", "2x5", "s4x5", "s2x5"],
                        help="CLASSESxTAKES; a leading s: the classes are sentences")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=HEADS)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(REPO / "results"), help=f"folder of {results.PERSONAL_TAKES}")
    parser.add_argument("--table", action="store_true", help="print the tables of the results file and stop")
    args = parser.parse_args()
    if args.table:
        show(args.results)
        return
    started = time.time()
    model = load_model()
    df = corpora.load_corpora(list(CLASSES), data_dir=args.data_dir).reset_index(drop=True)
    X = embeddings.cached_embeddings(df, progress=False)
    flat = X.reshape(len(X), -1)
    usable = ~np.isnan(flat).any(1)
    # Byte-identical clips (RAVDESS has some) have identical states: keep the first, so no clip
    # is both a take and a held-out clip.
    _, first = np.unique(flat[:, :64].round(6), axis=0, return_index=True)
    keep = usable & np.isin(np.arange(len(df)), first)
    df, X = df[keep].reset_index(drop=True), X[keep].astype(np.float64)
    prior_for = unheard_priors(model, df, X) if "ridge+prior" in args.heads else None
    rows = []
    for spec in args.grid:
        k_wanted, takes = map(int, spec.lstrip("s").split("x"))
        table = df
        if spec.startswith("s"):  # what was said, each sentence's takes in the speaker's varied emotions
            table = df.assign(emotion=df.utterance.astype(str))
            classes, n_classes = {c: sorted(set(table.emotion[table.corpus == c])) for c in SENTENCES}, k_wanted
        elif k_wanted == 4:
            classes, n_classes = CLASSES, None
        else:
            classes = {c: sorted(set(df.emotion[df.corpus == c])) for c in CLASSES}
            n_classes = k_wanted
        for corpus, speaker, seed, chosen, tr, ytr, te, yte in draws(table, classes, takes, args.seeds, n_classes):
            labels = [chosen[j] for j in ytr]
            for head in args.heads:
                prior = prior_for(corpus) if head == "ridge+prior" else None
                clf = PersonalClassifier(std_floor=model.head.std_floor_, prior=prior).fit(X[tr], labels)
                index = {c: j for j, c in enumerate(chosen)}
                predicted = np.array([index[c] for c in clf.predict(X[te])]) if len(te) else np.array([], int)
                rows.append({"grid": spec, "head": head, "corpus": corpus, "speaker": speaker, "seed": seed,
                             "classes": "/".join(chosen), "loo": clf.loo_accuracy_,
                             "held_out": ua(yte, predicted, len(chosen)) if len(te) else np.nan,
                             "n_held_out": len(te)})
        print(f"{spec}: {len(rows)} rows, {time.time() - started:.0f} s", flush=True)
    out = Path(args.results) / results.PERSONAL_TAKES
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.6g")
    print(f"wrote {out} in {time.time() - started:.0f} s")
    show(args.results)


def show(directory):
    for grid in dict.fromkeys(pd.read_csv(Path(directory) / results.PERSONAL_TAKES)["grid"]):
        classes, takes = grid.lstrip("s").split("x")
        kind = "sentences" if grid.startswith("s") else "emotions"
        print(f"\n{classes} {kind} x {takes} takes of one speaker, mean over speakers (of the mean over draws):")
        print(results.personal_table(grid, directory), end="")


if __name__ == "__main__":
    main()
