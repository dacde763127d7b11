#!/usr/bin/env python
"""Write the Whisper-encoder results files behind the README (one process, so heads fit once per fold).

    python scripts/run_whisper_results.py [--only emodb|ravdess|loco|calall|shipped] [--data-dir DIR]

Each run is what ``ser evaluate`` does for the same arguments (``serwidgets.evaluate.evaluate`` +
``serwidgets.results.write_results``), under the name ``ser evaluate`` would give it; running the calibrated
variants in one process lets the heads, memoised by everything that changes a fit, be fitted once per fold
instead of once per variant.

Calibration (issue 17): for leave one corpus out (7 corpora, ``emotion6-loco7-whisper*``) and for the
shipped model's 5 speaker folds (``ser-emotion6-kfold5*``, with the recipe in the shipped card, so a
retrained head is evaluated as it was trained), k = 0, 5, 10, 20 clips of each test speaker drawn at
random or round-robin over their emotions, unlabelled, and round-robin with their emotion as a label;
at k = 10 also labels replaced by random ones (robustness) and, for ``loco``, 10 neutral clips.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serwidgets import corpora, labels, results, shipped  # noqa: E402
from serwidgets.card import EncoderHeadCard  # noqa: E402
from serwidgets.embedding_classifier import EmbeddingClassifier  # noqa: E402
from serwidgets.evaluate import CalibrationDraw, Protocol, evaluate  # noqa: E402

ALL = ["emodb", "ravdess", "ased", "emovo", "urdu", "korean-emotiontts", "nemo"]
#: Within-corpus runs choose states and C by speaker-grouped CV inside each training side. The
#: leave-one-corpus-out runs (6000+ training clips per fold) use the head's defaults instead
#: (states 1-3, C 0.01; what that inner CV picks most on EmoDB and RAVDESS), to stay in minutes.
AUTO = {"layers": "auto", "C": "auto"}
DEFAULTS = {}
#: Test-time noise: each SNR re-encodes every test clip (not cached), so two levels, not four.
SNRS = (None, 20.0, 10.0)
#: Calibration clips per test speaker, and the draws of each (results-file suffix after -cal<k>:
#: the names ``ser evaluate`` gives, serwidgets.results.CALIBRATION_ROWS).
CLIPS = (5, 10, 20)
DRAWS = {"-random": {"draw": "random"}, "": {}, "-labelled": {"labelled": True}}
#: Robustness at 10 clips: every label replaced by one of the speaker's emotions at random.
RANDOM_LABELS = ("-labelled-noise1", {"labelled": True, "label_noise": 1.0})
SHIPPED = "ser-emotion6"


def calibration_variants(k0_name, protocol, extra=()):
    """``(name, protocol)`` of every calibrated variant of ``protocol`` (k = 0 is ``k0_name``)."""
    runs = [(k0_name, protocol)]
    for k in CLIPS:
        for suffix, draw in DRAWS.items():
            runs.append((f"{k0_name}-cal{k}{suffix}", Protocol(protocol.name, protocol.n_folds, protocol.seed,
                                                               calibration=CalibrationDraw(k, **draw))))
    suffix, draw = RANDOM_LABELS
    runs.append((f"{k0_name}-cal10{suffix}", Protocol(protocol.name, protocol.n_folds, protocol.seed,
                                                       calibration=CalibrationDraw(10, **draw))))
    for suffix, draw in extra:
        runs.append((f"{k0_name}-cal10{suffix}", Protocol(protocol.name, protocol.n_folds, protocol.seed,
                                                           calibration=CalibrationDraw(10, **draw))))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("emodb", "ravdess", "loco", "calall", "shipped"), action="append")
    parser.add_argument("--data-dir", default=None, help="folder with one subfolder per corpus (default $SER_DATA)")
    parser.add_argument("--results", default=str(REPO / "results"))
    args = parser.parse_args()
    only = set(args.only or ("emodb", "ravdess", "loco", "calall", "shipped"))

    def run(name, df, task, protocol, classifier):
        result = evaluate(df, classifier, protocol, task=task)
        results.write_results(result, name, args.results)
        extra = f", loco mean {result.loco_mean_UA:.3f}" if result.loco_mean_UA is not None else ""
        gate = result.calibration or {}
        if "speakers_labels_used" in gate:
            extra += f", labels used for {gate['speakers_labels_used']} of {gate['speakers_calibrated']} speakers"
        print(f"{name}: UA {result.metrics['UA']:.3f}{extra} ({result.wall_seconds / 60:.1f} min)", flush=True)

    def head(task, **recipe):
        return EmbeddingClassifier(labels.task_labels(task), **recipe)

    if "emodb" in only:
        df = labels.select_task(corpora.load_corpus("emodb", data_dir=args.data_dir), "emodb7")
        run("emodb7-loso-whisper", df, "emodb7", Protocol("loso", snrs=SNRS), head("emodb7", **AUTO))
    if "ravdess" in only:
        df = labels.select_task(corpora.load_corpus("ravdess", data_dir=args.data_dir), "ravdess8")
        run("ravdess8-kfold6-whisper", df, "ravdess8", Protocol("speaker-kfold", n_folds=6, snrs=SNRS),
            head("ravdess8", **AUTO))
    if "shipped" in only:
        # The shipped model's cross-validation as `ser train --cv-folds 5` runs it (k = 0 with 20 dB
        # noise too), with the recipe its card records.
        card = EncoderHeadCard.read(shipped.path("models") / SHIPPED)
        corpora_, task = card.training["corpora"], card.task
        df = labels.select_task(corpora.load_corpora(corpora_, args.data_dir), task)
        classifier = EmbeddingClassifier.from_recipe(labels.task_labels(task), card.training["recipe"])
        k0 = Protocol("speaker-kfold", n_folds=5, snrs=(None, 20.0))
        for name, protocol in calibration_variants(f"{SHIPPED}-kfold5", k0):
            run(name, df, task, protocol, classifier)
    df = labels.select_task(corpora.load_corpora(ALL, args.data_dir), "emotion6")
    base = "emotion6-loco7-whisper"
    if "loco" in only:
        for name, protocol in calibration_variants(base, Protocol("loco"), extra=[("-neutral", {"draw": "neutral"})]):
            run(name, df, "emotion6", protocol, head("emotion6", **DEFAULTS))
    if "calall" in only:
        run(f"{base}-calall", df, "emotion6", Protocol("loco", calibration=CalibrationDraw("all")),
            head("emotion6", **DEFAULTS))


if __name__ == "__main__":
    main()
