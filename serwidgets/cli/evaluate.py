"""``ser evaluate``: run a protocol and write results/<name>.json + .md + .npz (or print the table).

Examples::

    ser evaluate --corpora emodb --task emodb7 --protocol loso --classifier cnn
    ser evaluate --corpora ravdess --task ravdess8 --protocol speaker-kfold --folds 6
    ser evaluate --corpora emodb --task emodb7 --protocol leaky --classifier baseline
    ser evaluate --corpora emodb ravdess ased emovo urdu korean-emotiontts nemo --task emotion6 \\
        --protocol loco --classifier baseline     # leave one corpus out: per-corpus and per-language UA
    ser evaluate --corpora emodb --task emodb7 --classifier baseline --feature-set compare --speaker-norm
    ser evaluate --corpora emodb --task emodb7 --classifier whisper          # frozen Whisper-base + LR head
    ser evaluate --corpora emodb ravdess ased emovo urdu korean-emotiontts nemo --task emotion6 \\
        --protocol loco --classifier whisper --calibration-clips 10   # calibrated to each test speaker
    ser evaluate --corpora emodb ravdess ased emovo urdu korean-emotiontts nemo --task emotion6 \\
        --protocol loco --classifier whisper --calibration-clips 10 --calibration-labels   # labelled takes
    ser evaluate --table            # the README results table, from results/*.json
    ser evaluate --corpora emodb ravdess --task emotion6 --protocol speaker-kfold --folds 5 \\
        --name zhao2019-emotion6-kfold5 --card models/zhao2019-emotion6   # the shipped model's card metrics
"""

from __future__ import annotations

from ._options import add_data_arguments, card_metrics, load_table, make_classifier, parse_calibration


def protocol(args):
    """The :class:`~serwidgets.evaluate.Protocol` of the parsed arguments."""
    from serwidgets.evaluate import CalibrationDraw, Protocol

    clips = parse_calibration(args.calibration_clips)
    draw = None if clips is None else CalibrationDraw(clips, args.calibration_draw, args.calibration_labels,
                                                        args.label_noise)
    return Protocol(args.protocol, n_folds=args.folds, seed=args.seed,
                    snrs=(None,) if args.protocol == "leaky" else (None, *map(float, args.snr)), calibration=draw)


def result_name(args) -> str:
    """The default results file name: corpora, task, protocol, classifier and what varies."""
    learner = {"cnn": "cnn", "whisper": "whisper"}.get(args.classifier, f"{args.classifier}-{args.feature_set}")
    draw = "" if args.calibration_draw == "round-robin" else f"-{args.calibration_draw}"
    draw += "-labelled" * args.calibration_labels + (f"-noise{args.label_noise:g}" if args.label_noise else "")
    calibrated = [] if args.calibration_clips is None else [f"cal{args.calibration_clips}{draw}"]
    return "-".join(["+".join(args.corpora), args.task, args.protocol, learner,
                     *(["speaker-norm"] * args.speaker_norm), *calibrated])


def run(args) -> int:
    from serwidgets import evaluate, results

    if args.table:
        print(results.results_table(args.results), end="")
        return 0
    if args.protocol == "loco" and len(set(args.corpora)) < 2:
        raise SystemExit("ser evaluate: --protocol loco (leave one corpus out) needs two or more --corpora")
    if args.calibration_clips is not None and args.classifier != "whisper":
        raise SystemExit("ser evaluate: --calibration-clips needs --classifier whisper")
    if (args.calibration_labels or args.label_noise) and args.calibration_clips is None:
        raise SystemExit("ser evaluate: --calibration-labels and --label-noise need --calibration-clips")
    result = evaluate.evaluate(load_table(args), make_classifier(args), protocol(args), task=args.task)
    json_path, md_path = results.write_results(result, args.name or result_name(args), args.results)
    if args.card:
        from serwidgets.card import ModelCard

        # Refused (BundleError) unless the bundle was trained with the same task and recipe.
        card = ModelCard.read(args.card).set_metrics(card_metrics(result), task=args.task, recipe=result.recipe)
        card.write(args.card)
        print(f"ser evaluate: metrics written to {args.card}/card.json")
    m = result.metrics
    print(f"ser evaluate: UA {m['UA']:.3f} WA {m['WA']:.3f} macro-F1 {m['macro_F1']:.3f} "
          f"({result.wall_seconds / 60:.1f} min) -> {json_path}, {md_path}")
    if result.loco_mean_UA is not None:
        per_corpus = ", ".join(f"{c} {ua:.3f}" for c, ua in result.per_corpus.items())
        print(f"ser evaluate: leave-one-corpus-out mean UA {result.loco_mean_UA:.3f} ({per_corpus})")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a classifier under a protocol; write results/",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", choices=("cnn", "baseline", "whisper"), default="cnn",
                        help="cnn: the Zhao 2019 CNN-LSTM from scratch; baseline: functionals + LR; "
                             "whisper: frozen Whisper-base encoder + LR head (the shipped model's kind)")
    add_data_arguments(parser)
    parser.add_argument("--protocol", choices=("loso", "speaker-kfold", "loco", "random", "leaky"), default="loso",
                        help="loso: leave one speaker out; speaker-kfold: --folds speaker folds; loco: leave one "
                             "corpus out (needs two or more --corpora); random, leaky: speaker-dependent")
    parser.add_argument("--folds", type=int, default=None, help="folds for speaker-kfold")
    parser.add_argument("--calibration-clips", default=None,
                        help="whisper: calibrate to each test speaker with K of their clips and score only "
                             "the others (0 = uncalibrated); 'all': every clip calibrates (transductive)")
    parser.add_argument("--calibration-draw", choices=("round-robin", "random", "neutral"), default="round-robin",
                        help="calibration clips dealt round-robin over the emotions (default), drawn at "
                             "random, or neutral only")
    parser.add_argument("--calibration-labels", action="store_true",
                        help="the calibration clips carry their emotion as a label (as the dashboard's prompts "
                             "do); the same clips are drawn as without")
    parser.add_argument("--label-noise", type=float, default=0.0,
                        help="with --calibration-labels: share of the labels replaced by a random emotion of the "
                             "test clips (1 = random labels: robustness)")
    parser.add_argument("--snr", nargs="*", default=["20", "10", "5", "0"],
                        help="test-time SNRs in dB besides clean (default: 20 10 5 0; leaky: none)")
    parser.add_argument("--name", default=None, help="results file name (default: from the arguments)")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    parser.add_argument("--table", action="store_true", help="print the README results table and exit")
    parser.add_argument("--card", default=None,
                        help="bundle folder whose card takes these scores as its held-out metrics "
                             "(a bundle of the same task and recipe), e.g. models/zhao2019-emotion6")
    parser.set_defaults(func=run)
