"""``ser train``: train the CNN recipe on one or more corpora and save a model bundle.

With ``--cv-folds K`` the same recipe is then cross-validated (speaker k-fold over all
speakers, ``results/<name>-kfold<K>.json``) and those scores go into the card; with
``--metrics-from FILE`` the scores of an earlier ``ser evaluate`` run are used instead.

The shipped model::

    ser train --classifier whisper --corpora emodb ravdess --task emotion6 --cv-folds 5 --out models/ser-emotion6

The Zhao 2019 CNN-LSTM reference (the seed's model)::

    ser train --corpora emodb ravdess --task emotion6 --cv-folds 5 --out models/zhao2019-emotion6
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ._options import add_classifier_arguments, add_data_arguments, card_metrics, feature_config, load_table
from ._options import parse_C, parse_layers


def run(args) -> int:
    from serwidgets import evaluate, results, train

    if args.classifier == "whisper":
        return run_whisper(args)
    df, recipe = load_table(args)
    out = Path(args.out)
    name = args.name or out.name
    description = args.description or f"{recipe.net} trained on {', '.join(args.corpora)} for {args.task}"
    print(f"ser train: {len(df)} clips, {df['speaker'].nunique()} speakers, task {args.task}", flush=True)
    metrics = card_metrics(json.loads(Path(args.metrics_from).read_text())) if args.metrics_from else {}
    start = time.perf_counter()
    # The bundle is written as soon as the model is trained; a cross-validation then only
    # rewrites the card with its scores.
    config = feature_config(args)
    classifier = train.train_bundle(df, args.task, out, recipe=recipe, feature_config=config,
                                    metrics=metrics, name=name, description=description)
    print(f"ser train: bundle written to {out} ({time.perf_counter() - start:.0f} s)", flush=True)
    if args.cv_folds:
        result = evaluate.evaluate(df, "cnn", "speaker-kfold", task=args.task, n_folds=args.cv_folds,
                                   recipe=recipe, feature_config=config, seed=args.seed)
        result_name = f"{name}-kfold{args.cv_folds}"
        results.write_results(result, result_name, args.results)
        metrics = card_metrics({"name": result_name, **result})
        classifier.save(out, task=args.task, metrics=metrics, name=name, description=description)
        print(f"ser train: cross-validated UA {metrics['UA']:.3f}, card updated", flush=True)
    return 0


def run_whisper(args) -> int:
    """``ser train --classifier whisper``: a head on the frozen encoder, then (``--cv-folds``) its scores.

    The card gets the speaker k-fold scores twice: uncalibrated, and calibrated with
    ``--calibration-clips`` clips of each test speaker (scored on the rest).
    """
    from serwidgets import evaluate, heads, results

    df, _ = load_table(args)
    out = Path(args.out)
    name = args.name or out.name
    head_options = {"layers": parse_layers(args.layers), "C": parse_C(args.head_C) if args.head_C else 0.01}
    description = args.description or (
        f"Whisper-base encoder (frozen, LiteRT) + logistic-regression heads, trained on "
        f"{', '.join(args.corpora)} for {args.task}")
    print(f"ser train: {len(df)} clips, {df['speaker'].nunique()} speakers, task {args.task}", flush=True)
    start = time.perf_counter()
    classifier = evaluate.make_classifier("whisper", tuple(_task_labels(args.task)), head_options=head_options)
    classifier.fit(df)
    training = {
        "corpora": sorted(df["corpus"].unique()), "n_clips": int(len(df)), "speakers": int(df["speaker"].nunique()),
        "emotions": {str(k): int(v) for k, v in df["emotion"].value_counts().sort_index().items()},
        "clips_per_corpus": {str(k): int(v) for k, v in df["corpus"].value_counts().sort_index().items()},
        "recipe": classifier.recipe, "layers_chosen": list(classifier.layers_), "C_chosen": classifier.C_,
        "seconds": round(time.perf_counter() - start, 1),
    }
    metrics = card_metrics(json.loads(Path(args.metrics_from).read_text())) if args.metrics_from else {}
    heads.save_bundle(classifier, out, task=args.task, training=training, metrics=metrics, name=name,
                      description=description)
    print(f"ser train: bundle written to {out} ({training['seconds']:.0f} s; states {training['layers_chosen']}, "
          f"C {training['C_chosen']:g})", flush=True)
    if args.cv_folds:
        runs = {}
        for k in (None, args.calibration_clips):
            result = evaluate.evaluate(df, "whisper", "speaker-kfold", task=args.task, n_folds=args.cv_folds,
                                       head_options=head_options, seed=args.seed, calibration_clips=k,
                                       snrs=[None, 20.0] if k is None else [None])
            result_name = f"{name}-kfold{args.cv_folds}" + ("" if k is None else f"-cal{k}")
            results.write_results(result, result_name, args.results)
            runs[k] = card_metrics({"name": result_name, **result})
        metrics = {**runs[None], "calibrated": {**runs[args.calibration_clips],
                                                "clips": args.calibration_clips}}
        heads.save_bundle(classifier, out, task=args.task, training=training, metrics=metrics, name=name,
                          description=description)
        print(f"ser train: cross-validated UA {metrics['UA']:.3f}, calibrated with {args.calibration_clips} clips "
              f"{metrics['calibrated']['UA']:.3f}; card updated", flush=True)
    return 0


def _task_labels(task):
    from serwidgets.labels import task_labels

    return task_labels(task)


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the CNN recipe and save a model bundle",
                                   description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, help="bundle folder, e.g. models/ser-emotion6")
    parser.add_argument("--name", default=None, help="model name (default: the folder name)")
    parser.add_argument("--description", default=None)
    parser.add_argument("--cv-folds", type=int, default=0,
                        help="cross-validate the recipe with K speaker folds first; scores go into the card")
    parser.add_argument("--metrics-from", default=None,
                        help="results JSON of an earlier `ser evaluate` for the card")
    parser.add_argument("--results", default="results", help="folder for the cross-validation results")
    add_classifier_arguments(parser, ("cnn", "whisper"),
                             "cnn: the Zhao 2019 CNN-LSTM recipe; whisper: heads on the frozen Whisper-base "
                             "encoder (the shipped model)")
    parser.add_argument("--layers", default="1,2,3", help="whisper: encoder states, or 'auto' (default 1,2,3)")
    parser.add_argument("--head-C", default=None, help="whisper: inverse regularisation or 'auto' (default 0.01)")
    parser.add_argument("--calibration-clips", type=int, default=10,
                        help="whisper: clips per test speaker for the calibrated CV scores (default 10)")
    parser.set_defaults(func=run)

