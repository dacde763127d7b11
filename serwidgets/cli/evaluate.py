"""``ser evaluate``: run a protocol and write results/<name>.json + .md (or print the table).

Examples::

    ser evaluate --corpora emodb --task emodb7 --protocol loso --model cnn
    ser evaluate --corpora ravdess --task ravdess8 --protocol speaker-kfold --folds 6
    ser evaluate --corpora emodb --task emodb7 --protocol leaky --model baseline
    ser evaluate --corpora emodb ravdess ased emovo urdu korean-emotiontts nemo --task emotion6 \
        --protocol loco --model baseline     # leave one corpus out: per-corpus and per-language UA
    ser evaluate --corpora emodb --task emodb7 --model baseline --feature-set compare --speaker-norm
    ser evaluate --corpora emodb --task emodb7 --model whisper          # frozen Whisper-base + LR head
    ser evaluate --corpora emodb ravdess ased emovo urdu korean-emotiontts nemo --task emotion6 \
        --protocol loco --model whisper --calibration-clips 10   # calibrated to each test speaker
    ser evaluate --table            # the README results table, from results/*.json
    ser evaluate --corpora emodb ravdess --task emotion6 --protocol speaker-kfold --folds 5 \\
        --name zhao2019-emotion6-kfold5 --card models/zhao2019-emotion6   # the shipped model's card metrics
"""

from __future__ import annotations

from .train import add_data_arguments, card_metrics, feature_config, load_table


def run(args) -> int:
    from serwidgets import evaluate

    if args.table:
        print(evaluate.results_table(args.results), end="")
        return 0
    if args.protocol == "loco" and len(set(args.corpora)) < 2:
        raise SystemExit("ser evaluate: --protocol loco (leave one corpus out) needs two or more --corpora")
    df, recipe = load_table(args)
    snrs = [None] + [float(s) for s in args.snr]
    baseline_options = {"feature_set": args.feature_set, "speaker_norm": args.speaker_norm,
                        "classifier": args.classifier, "C": _parse_C(args.C)}
    head_options = {"layers": _parse_layers(args.layers), "C": _parse_C(args.head_C) if args.head_C else 0.01}
    calibration = _parse_calibration(args.calibration_clips)
    if calibration is not None and args.model != "whisper":
        raise SystemExit("ser evaluate: --calibration-clips needs --model whisper")
    result = evaluate.evaluate(df, args.model, args.protocol, task=args.task, n_folds=args.folds,
                               snrs=snrs, recipe=recipe, baseline_options=baseline_options,
                               feature_config=feature_config(args), seed=args.seed,
                               head_options=head_options if args.model == "whisper" else None,
                               calibration_clips=calibration, calibration_kind=args.calibration_kind)
    model = {"cnn": "cnn", "whisper": "whisper"}.get(args.model, f"{args.model}-{args.feature_set}")
    calibrated = [] if calibration is None else [
        f"cal{calibration}" + ("-neutral" if args.calibration_kind == "neutral" else "")]
    name = args.name or "-".join([
        "+".join(args.corpora), args.task, args.protocol, model, *(["spknorm"] * args.speaker_norm), *calibrated])
    json_path, md_path = evaluate.write_results(result, name, args.results)
    if args.card:
        from serwidgets import bundle

        if args.model != "cnn":
            raise SystemExit("ser evaluate: --card takes the CNN recipe's scores (--model cnn)")
        bundle.set_metrics(args.card, card_metrics({"name": name, **result}), task=args.task,
                           recipe=result["recipe"])
        print(f"ser evaluate: metrics written to {args.card}/card.json")
    m = result["metrics"]
    print(f"ser evaluate: UA {m['UA']:.3f} WA {m['WA']:.3f} macro-F1 {m['macro_F1']:.3f} "
          f"({result['wall_seconds'] / 60:.1f} min) -> {json_path}, {md_path}")
    if "loco_mean_UA" in result:
        per_corpus = ", ".join(f"{c} {ua:.3f}" for c, ua in result["per_corpus"].items())
        print(f"ser evaluate: leave-one-corpus-out mean UA {result['loco_mean_UA']:.3f} ({per_corpus})")
    return 0


def _parse_layers(text):
    if text == "auto":
        return text
    return tuple(int(n) for n in text.split(","))


def _parse_calibration(text):
    if text is None or text == "all":
        return text
    return int(text)


def _parse_C(text):
    if text is None or text == "auto":
        return text
    return float(text)


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a model under a protocol; write results/",
                                   description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--protocol", choices=("loso", "speaker-kfold", "loco", "random", "leaky"), default="loso",
                        help="loso: leave one speaker out; speaker-kfold: --folds speaker folds; loco: leave one "
                             "corpus out (needs two or more --corpora); random, leaky: speaker-dependent")
    parser.add_argument("--folds", type=int, default=None, help="folds for speaker-kfold")
    parser.add_argument("--model", choices=("cnn", "baseline", "whisper"), default="cnn",
                        help="cnn: the Zhao 2019 CNN-LSTM from scratch; baseline: functionals + LR; "
                             "whisper: frozen Whisper-base encoder + LR head (the shipped model's kind)")
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
    baseline.add_argument("--classifier", choices=("logreg", "svm"), default="logreg")
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
