"""``ser train``: train a classifier on one or more corpora and save it as a model bundle.

With ``--cv-folds K`` the same classifier is then cross-validated (speaker k-fold over all
speakers, ``results/<name>-kfold<K>.json``; an encoder head also calibrated with
``--calibration-clips`` clips of each test speaker, unlabelled and labelled, ``...-cal<k>.json``
and ``...-cal<k>-labelled.json``) and those scores go into
the card; with ``--metrics-from FILE`` the scores of an earlier ``ser evaluate`` run are used
instead.

The shipped model::

    ser train --classifier whisper --corpora emodb ravdess --task emotion6 --cv-folds 5 --out models/ser-emotion6

The Zhao 2019 CNN-LSTM reference (the seed's model)::

    ser train --corpora emodb ravdess --task emotion6 --cv-folds 5 --out models/zhao2019-emotion6
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ._options import add_data_arguments, card_metrics, load_table, make_classifier


def describe(args, classifier) -> str:
    """The card's default description."""
    trained_on = f"trained on {', '.join(args.corpora)} for {args.task}"
    if args.classifier == "whisper":
        return f"Whisper-base encoder (frozen, LiteRT) + logistic-regression heads, {trained_on}"
    if args.classifier == "baseline":
        return f"{args.feature_set} functionals + logistic regression, {trained_on}"
    return f"{classifier.to_recipe()['net']} {trained_on}"


def cross_validate(args, df, classifier) -> dict:
    """The card's metrics from ``--cv-folds`` speaker folds (written to results/ too).

    An encoder head is scored three times: uncalibrated, calibrated with ``--calibration-clips``
    round-robin clips of each test speaker (scored on the rest; ``metrics["calibrated"]``), and
    the same clips labelled with their emotion, as the dashboard's prompts label its takes
    (``metrics["calibrated_labelled"]``).
    """
    from serwidgets import results
    from serwidgets.evaluate import DEFAULT_SNRS, CalibrationDraw, Protocol, evaluate

    base = f"{args.name or Path(args.out).name}-kfold{args.cv_folds}"
    runs = {None: (base, Protocol("speaker-kfold", args.cv_folds, args.seed, DEFAULT_SNRS))}
    if args.classifier == "whisper":
        # Each SNR re-encodes every test clip: one noisy level, and the calibrated runs clean.
        k = args.calibration_clips
        runs = {None: (base, Protocol("speaker-kfold", args.cv_folds, args.seed, (None, 20.0))),
                "calibrated": (f"{base}-cal{k}", Protocol("speaker-kfold", args.cv_folds, args.seed,
                                                          calibration=CalibrationDraw(k))),
                "calibrated_labelled": (f"{base}-cal{k}-labelled", Protocol(
                    "speaker-kfold", args.cv_folds, args.seed, calibration=CalibrationDraw(k, labelled=True)))}
    metrics = {}
    for key, (name, protocol) in runs.items():
        result = evaluate(df, classifier, protocol, task=args.task)
        results.write_results(result, name, args.results)
        metrics[key] = card_metrics(result)
    uncalibrated = metrics.pop(None)
    return {**uncalibrated, **{key: {**m, "clips": args.calibration_clips} for key, m in metrics.items()}}


def run(args) -> int:
    from serwidgets import results

    df = load_table(args)
    out = Path(args.out)
    classifier = make_classifier(args)
    card = {"task": args.task, "name": args.name or out.name,
            "description": args.description or describe(args, classifier)}
    print(f"ser train: {len(df)} clips, {df['speaker'].nunique()} speakers, task {args.task}", flush=True)
    metrics = {}
    if args.metrics_from:
        path = Path(args.metrics_from)
        metrics = card_metrics(results.Result.from_dict({**json.loads(path.read_text()), "name": path.stem}))
    start = time.perf_counter()
    # The bundle is written as soon as the model is trained; a cross-validation then only
    # rewrites the card with its scores.
    classifier.fit(df).save(out, metrics=metrics, **card)
    print(f"ser train: bundle written to {out} ({time.perf_counter() - start:.0f} s; chose {classifier.chosen_})",
          flush=True)
    if args.cv_folds:
        metrics = cross_validate(args, df, classifier)
        classifier.save(out, metrics=metrics, **card)
        print(f"ser train: cross-validated UA {metrics['UA']:.3f}"
              + (f", calibrated with {args.calibration_clips} clips {metrics['calibrated']['UA']:.3f} "
                 f"(labelled {metrics['calibrated_labelled']['UA']:.3f})" if "calibrated" in metrics else "")
              + "; card updated", flush=True)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a classifier and save it as a model bundle",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", choices=("cnn", "baseline", "whisper"), default="cnn",
                        help="cnn: the Zhao 2019 CNN-LSTM recipe; baseline: functionals + logistic regression; "
                             "whisper: heads on the frozen Whisper-base encoder (the shipped model)")
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, help="bundle folder, e.g. models/ser-emotion6")
    parser.add_argument("--name", default=None, help="model name (default: the folder name)")
    parser.add_argument("--description", default=None)
    parser.add_argument("--cv-folds", type=int, default=0,
                        help="cross-validate the classifier with K speaker folds; scores go into the card")
    parser.add_argument("--metrics-from", default=None,
                        help="results JSON of an earlier `ser evaluate` for the card")
    parser.add_argument("--results", default="results", help="folder for the cross-validation results")
    parser.add_argument("--calibration-clips", type=int, default=10,
                        help="whisper: clips per test speaker for the calibrated CV scores (default 10)")
    parser.set_defaults(func=run)
