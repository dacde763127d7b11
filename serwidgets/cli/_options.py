"""Options and helpers shared by the ``ser`` subcommands (``train``, ``evaluate``).

Not a subcommand itself (the name starts with ``_``): the command modules import from here,
never from each other.
"""

from __future__ import annotations

import argparse
import json
import sys


class DeprecatedAlias(argparse.Action):
    """An old option name kept for one release: stores into the new option's ``dest`` and
    prints a note to stderr naming the new option."""

    def __init__(self, option_strings, dest, new, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_classifier_arguments(parser, choices, help) -> None:
    """``--classifier`` (the learner kind) and its deprecated alias ``--model``."""
    parser.add_argument("--classifier", choices=choices, default="cnn", help=help)
    parser.add_argument("--model", dest="classifier", choices=choices, action=DeprecatedAlias, new="--classifier",
                        help="deprecated name of --classifier")


def add_data_arguments(parser) -> None:
    """Corpus/task/recipe options shared by ``ser train`` and ``ser evaluate``."""
    add = parser.add_argument
    add("--corpora", nargs="+", default=["emodb"], help="corpus names (default: emodb)")
    add("--data-dir", default=None, help="folder with one subfolder per corpus (default: $SER_DATA)")
    add("--data", dest="data_dir", action=DeprecatedAlias, new="--data-dir", help="deprecated name of --data-dir")
    add("--task", default="emotion6", help="label set from serwidgets.labels.TASKS (default: emotion6)")
    add("--epochs", type=int, default=None, help="override the recipe's epoch limit")
    add("--net", default=None, help="network name from serwidgets.nets.NETS")
    add("--net-kwargs", default=None, help='JSON builder arguments, e.g. \'{"pooling": "paper"}\'')
    add("--noisy-copies", type=int, default=None, help="noisy copies of each training clip")
    add("--recipe", default=None,
        help='JSON changes to the training Recipe, e.g. \'{"patience": 10, "epochs": 60}\'')
    add("--feature-config", default=None,
        help='JSON log-mel settings over the defaults (FeatureConfig), e.g. \'{"n_mels": 128}\'')
    add("--seed", type=int, default=0)


def load_table(args):
    """The corpus table restricted to the task, and the recipe, from parsed arguments."""
    import dataclasses

    from serwidgets import corpora, labels
    from serwidgets.train import Recipe

    df = labels.select_task(corpora.load_corpora(args.corpora, args.data_dir), args.task)
    changes = {"seed": args.seed}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.net is not None:
        changes["net"] = args.net
    if args.net_kwargs is not None:
        changes["net_kwargs"] = json.loads(args.net_kwargs)
    if args.noisy_copies is not None:
        changes["noisy_copies"] = args.noisy_copies
    if args.recipe is not None:
        changes.update(json.loads(args.recipe))
    return df, dataclasses.replace(Recipe(), **changes)


def feature_config(args):
    """The :class:`~serwidgets.features.FeatureConfig` of ``--feature-config`` (defaults elsewhere)."""
    from serwidgets.features import FeatureConfig

    if args.feature_config is None:
        return FeatureConfig()
    return FeatureConfig.from_dict({**FeatureConfig().to_dict(), **json.loads(args.feature_config)})


def card_metrics(result: dict) -> dict:
    """The part of a results file that goes into a model card."""
    m = result["metrics"]
    return {
        "protocol": f"{result['protocol']} ({result['n_folds']} folds)",
        "UA": m["UA"], "WA": m["WA"], "macro_F1": m["macro_F1"], "recall": m["recall"],
        "fold_UA": result["fold_UA"], "per_corpus_UA": result["per_corpus"],
        "snr_UA": result["snr_UA"], "results_file": f"results/{result['name']}.json",
    }


def parse_layers(text):
    if text == "auto":
        return text
    return tuple(int(n) for n in text.split(","))


def parse_calibration(text):
    if text is None or text == "all":
        return text
    return int(text)


def parse_C(text):
    if text is None or text == "auto":
        return text
    return float(text)
