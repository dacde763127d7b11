"""``ser evaluate``: run a protocol and write results/<name>.json + .md (or print the table).

Examples::

    ser evaluate --corpora emodb --task emodb7 --protocol loso --model cnn
    ser evaluate --corpora ravdess --task ravdess8 --protocol speaker-kfold --folds 6
    ser evaluate --corpora emodb --task emodb7 --protocol leaky --model baseline
    ser evaluate --table            # the README results table, from results/*.json
"""

from __future__ import annotations

from .train import add_data_arguments, load_table


def run(args) -> int:
    from serwidgets import evaluate

    if args.table:
        print(evaluate.results_table(args.results), end="")
        return 0
    df, recipe = load_table(args)
    snrs = [None] + [float(s) for s in args.snr]
    result = evaluate.evaluate(df, args.model, args.protocol, task=args.task, n_folds=args.folds,
                               snrs=snrs, recipe=recipe, seed=args.seed)
    name = args.name or f"{'+'.join(args.corpora)}-{args.task}-{args.protocol}-{args.model}"
    json_path, md_path = evaluate.write_results(result, name, args.results)
    m = result["metrics"]
    print(f"ser evaluate: UA {m['UA']:.3f} WA {m['WA']:.3f} macro-F1 {m['macro_F1']:.3f} "
          f"({result['wall_seconds'] / 60:.1f} min) -> {json_path}, {md_path}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a model under a protocol; write results/",
                                   description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--protocol", choices=("loso", "speaker-kfold", "random", "leaky"), default="loso")
    parser.add_argument("--folds", type=int, default=None, help="folds for speaker-kfold")
    parser.add_argument("--model", choices=("cnn", "baseline"), default="cnn")
    parser.add_argument("--snr", nargs="*", default=["20", "10", "5", "0"],
                        help="test-time SNRs in dB besides clean (default: 20 10 5 0)")
    parser.add_argument("--name", default=None, help="results file name (default: from the arguments)")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    parser.add_argument("--table", action="store_true", help="print the README results table and exit")
    parser.set_defaults(func=run)
