"""``ser evaluate``: run a protocol and write results/<name>.json + .md (or print the table).

Examples::

    ser evaluate --corpora emodb --task emodb7 --protocol loso --classifier cnn
    ser evaluate --corpora ravdess --task ravdess8 --protocol speaker-kfold --folds 6
    ser evaluate --corpora emodb --task emodb7 --protocol leaky --classifier baseline
    ser evaluate --corpora emodb ravdess ased emovo urdu korean-emotiontts nemo --task emotion6 \
        --protocol loco --classifier baseline     # leave one corpus out: per-corpus and per-language UA
    ser evaluate --corpora emodb --task emodb7 --classifier baseline --feature-set compare --speaker-norm
    ser evaluate --corpora emodb --task emodb7 --classifier whisper          # frozen Whisper-base + LR head
    ser evaluate --corpora emodb ravdess ased emovo urdu korean-emotiontts nemo --task emotion6 \
        --protocol loco --classifier whisper --calibration-clips 10   # calibrated to each test speaker
    ser evaluate --table            # the README results table, from results/*.json
    ser evaluate --corpora emodb ravdess --task emotion6 --protocol speaker-kfold --folds 5 \\
        --name zhao2019-emotion6-kfold5 --card models/zhao2019-emotion6   # the shipped model's card metrics
"""

from __future__ import annotations

import argparse
import sys

from ._options import (DeprecatedAlias, add_data_arguments, card_metrics, feature_config, load_table, parse_C,
                       parse_calibration, parse_layers)

#: ``--estimator`` choices (the baseline's scikit-learn estimator).
ESTIMATORS = ("logreg", "svm")


class ClassifierOrOldEstimator(argparse.Action):
    """``--classifier``: the learner kind; an estimator name (``logreg``, ``svm``) is the old
    meaning of this option (now ``--estimator``): accepted with a note on stderr."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values in ESTIMATORS:
            print(f"{parser.prog}: --classifier {values} (the baseline's estimator) is deprecated; "
                  f"use --estimator {values}", file=sys.stderr)
            namespace.estimator = values
        else:
            namespace.classifier = values


def run(args) -> int:
    from serwidgets import evaluate, results

    if args.table:
        print(results.results_table(args.results), end="")
        return 0
    if args.protocol == "loco" and len(set(args.corpora)) < 2:
        raise SystemExit("ser evaluate: --protocol loco (leave one corpus out) needs two or more --corpora")
    df, recipe = load_table(args)
    snrs = [None] + [float(s) for s in args.snr]
    baseline_options = {"feature_set": args.feature_set, "speaker_norm": args.speaker_norm,
                        "estimator": args.estimator, "C": parse_C(args.C)}
    head_options = {"layers": parse_layers(args.layers), "C": parse_C(args.head_C) if args.head_C else 0.01}
    calibration = parse_calibration(args.calibration_clips)
    if calibration is not None and args.classifier != "whisper":
        raise SystemExit("ser evaluate: --calibration-clips needs --classifier whisper")
    result = evaluate.evaluate(df, args.classifier, args.protocol, task=args.task, n_folds=args.folds,
                               snrs=snrs, recipe=recipe, baseline_options=baseline_options,
                               feature_config=feature_config(args), seed=args.seed,
                               head_options=head_options if args.classifier == "whisper" else None,
                               calibration_clips=calibration, calibration_kind=args.calibration_kind)
    learner = {"cnn": "cnn", "whisper": "whisper"}.get(args.classifier, f"{args.classifier}-{args.feature_set}")
    calibrated = [] if calibration is None else [
        f"cal{calibration}" + ("-neutral" if args.calibration_kind == "neutral" else "")]
    # Files written before the names were unified say "spknorm"; new ones "speaker-norm".
    name = args.name or "-".join([
        "+".join(args.corpora), args.task, args.protocol, learner, *(["speaker-norm"] * args.speaker_norm),
        *calibrated])
    json_path, md_path = results.write_results(result, name, args.results)
    if args.card:
        from serwidgets.card import ModelCard

        if args.classifier != "cnn":
            raise SystemExit("ser evaluate: --card takes the CNN recipe's scores (--classifier cnn)")
        card = ModelCard.read(args.card).set_metrics(card_metrics({"name": name, **result}), task=args.task,
                                                     recipe=result["recipe"])
        card.write(args.card)
        print(f"ser evaluate: metrics written to {args.card}/card.json")
    m = result["metrics"]
    print(f"ser evaluate: UA {m['UA']:.3f} WA {m['WA']:.3f} macro-F1 {m['macro_F1']:.3f} "
          f"({result['wall_seconds'] / 60:.1f} min) -> {json_path}, {md_path}")
    if "loco_mean_UA" in result:
        per_corpus = ", ".join(f"{c} {ua:.3f}" for c, ua in result["per_corpus"].items())
        print(f"ser evaluate: leave-one-corpus-out mean UA {result['loco_mean_UA']:.3f} ({per_corpus})")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a classifier under a protocol; write results/",
                                   description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--protocol", choices=("loso", "speaker-kfold", "loco", "random", "leaky"), default="loso",
                        help="loso: leave one speaker out; speaker-kfold: --folds speaker folds; loco: leave one "
                             "corpus out (needs two or more --corpora); random, leaky: speaker-dependent")
    parser.add_argument("--folds", type=int, default=None, help="folds for speaker-kfold")
    parser.add_argument("--classifier", choices=("cnn", "baseline", "whisper", *ESTIMATORS), default="cnn",
                        action=ClassifierOrOldEstimator, metavar="{cnn,baseline,whisper}",
                        help="cnn: the Zhao 2019 CNN-LSTM from scratch; baseline: functionals + LR; "
                             "whisper: frozen Whisper-base encoder + LR head (the shipped model's kind)")
    parser.add_argument("--model", dest="classifier", choices=("cnn", "baseline", "whisper"), action=DeprecatedAlias,
                        new="--classifier", help="deprecated name of --classifier")
    head = parser.add_argument_group("whisper head options")
    head.add_argument("--layers", default="1,2,3",
                      help="encoder states for the head, e.g. 2,3 (0 = convolutions), or 'auto' "
                           "(chosen by speaker-grouped CV inside each training side; default: 1,2,3)")
    head.add_argument("--head-C", default=None, help="head's inverse regularisation or 'auto' (default 0.01)")
    head.add_argument("--calibration-clips", default=None,
                      help="K: calibrate to each test speaker with K of their clips and score only the "
                           "others (0 = uncalibrated); 'all': every clip calibrates (transductive)")
    head.add_argument("--calibration-kind", choices=("varied", "neutral"), default="varied",
                      help="calibration clips across emotions (default) or neutral only")
    baseline = parser.add_argument_group("baseline options")
    baseline.add_argument("--feature-set", choices=("stats", "compare", "egemaps"), default="stats",
                          help="utterance features: our numpy statistics, or openSMILE ComParE 2016 / "
                               "eGeMAPS v02 functionals (default: stats)")
    baseline.add_argument("--estimator", choices=ESTIMATORS, default="logreg",
                          help="the scikit-learn estimator after the scaler (default: logreg)")
    baseline.add_argument("--C", default=None,
                          help="inverse regularisation, or 'auto' (chosen by speaker-grouped CV on the "
                               "training side; default: 0.1 for stats, auto otherwise)")
    baseline.add_argument("--speaker-norm", action="store_true",
                          help="standardise features per speaker, test speakers by their own unlabelled "
                               "clips (transductive; flagged in the results)")
    parser.add_argument("--snr", nargs="*", default=["20", "10", "5", "0"],
                        help="test-time SNRs in dB besides clean (default: 20 10 5 0)")
    parser.add_argument("--name", default=None, help="results file name (default: from the arguments)")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    parser.add_argument("--table", action="store_true", help="print the README results table and exit")
    parser.add_argument("--card", default=None,
                        help="bundle folder whose card takes these scores as its cross-validated metrics "
                             "(same task and recipe), e.g. models/zhao2019-emotion6")
    parser.set_defaults(func=run)
