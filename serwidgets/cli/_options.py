"""Options and helpers shared by the ``ser`` subcommands (``train``, ``evaluate``).

Not a subcommand itself (the name starts with ``_``): the command modules import from here,
never from each other. :data:`CLASSIFIERS` is where a ``--classifier`` name becomes an
estimator (:mod:`serwidgets.classifier`), built from the parsed options.
"""

from __future__ import annotations

import dataclasses
import json


def _cnn(args, labels):
    from serwidgets.train import NetClassifier

    return NetClassifier(labels, recipe(args), feature_config(args))


def _baseline(args, labels):
    from serwidgets.baseline import BaselineClassifier

    return BaselineClassifier(labels, args.estimator, parse_C(args.C), args.feature_set, args.speaker_norm,
                              feature_config(args), seed=args.seed)


def _whisper(args, labels):
    from serwidgets.embedding_classifier import EmbeddingClassifier

    return EmbeddingClassifier(labels, parse_layers(args.layers), parse_C(args.head_C))


#: ``--classifier`` name -> ``build(args, labels)``: an unfitted estimator (imports its module
#: only when chosen: TensorFlow for the CNN, scikit-learn for the others).
CLASSIFIERS = {"cnn": _cnn, "baseline": _baseline, "whisper": _whisper}


def make_classifier(args):
    """The unfitted estimator the parsed arguments describe (``--classifier`` and its options)."""
    from serwidgets.labels import task_labels

    return CLASSIFIERS[args.classifier](args, task_labels(args.task))


def add_data_arguments(parser) -> None:
    """Corpus/task/classifier options shared by ``ser train`` and ``ser evaluate``."""
    add = parser.add_argument
    add("--corpora", nargs="+", default=["emodb"], help="corpus names (default: emodb)")
    add("--data-dir", default=None, help="folder with one subfolder per corpus (default: $SER_DATA)")
    add("--task", default="emotion6", help="label set from serwidgets.labels.TASKS (default: emotion6)")
    add("--seed", type=int, default=0, help="of the recipe, the splits and the calibration draws")
    cnn = parser.add_argument_group("cnn options")
    cnn.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch limit")
    cnn.add_argument("--net", default=None, help="network name from serwidgets.nets.NETS")
    cnn.add_argument("--net-kwargs", default=None, help='JSON builder arguments, e.g. \'{"pooling": "paper"}\'')
    cnn.add_argument("--noisy-copies", type=int, default=None, help="noisy copies of each training clip")
    cnn.add_argument("--recipe", default=None,
                     help='JSON changes to the training Recipe, e.g. \'{"patience": 10, "epochs": 60}\'')
    cnn.add_argument("--feature-config", default=None,
                     help='JSON log-mel settings over the defaults (FeatureConfig), e.g. \'{"n_mels": 128}\'')
    head = parser.add_argument_group("whisper head options")
    head.add_argument("--layers", default="1,2,3",
                      help="encoder states for the head, e.g. 2,3 (0 = convolutions), or 'auto' "
                           "(chosen by speaker-grouped CV inside each training side; default: 1,2,3)")
    head.add_argument("--head-C", default="0.01", help="head's inverse regularisation or 'auto' (default 0.01)")
    baseline = parser.add_argument_group("baseline options")
    baseline.add_argument("--feature-set", choices=("stats", "compare", "egemaps"), default="stats",
                          help="utterance features: our numpy statistics, or openSMILE ComParE 2016 / "
                               "eGeMAPS v02 functionals (default: stats)")
    baseline.add_argument("--estimator", choices=("logreg", "svm"), default="logreg",
                          help="the scikit-learn estimator after the scaler (default: logreg)")
    baseline.add_argument("--C", default=None,
                          help="inverse regularisation, or 'auto' (chosen by speaker-grouped CV on the "
                               "training side; default: 0.1 for stats, auto otherwise)")
    baseline.add_argument("--speaker-norm", action="store_true",
                          help="standardise features per speaker, test speakers by their own unlabelled "
                               "clips (transductive; flagged in the results)")


def load_table(args):
    """The corpus table of ``--corpora``, restricted to ``--task``."""
    from serwidgets import corpora, labels

    return labels.select_task(corpora.load_corpora(args.corpora, args.data_dir), args.task)


def recipe(args):
    """The CNN's :class:`~serwidgets.train.Recipe` from the defaults and the options that change it."""
    from serwidgets.train import Recipe

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
    return dataclasses.replace(Recipe(), **changes)


def feature_config(args):
    """The :class:`~serwidgets.features.FeatureConfig` of ``--feature-config`` (defaults elsewhere)."""
    from serwidgets.features import FeatureConfig

    if args.feature_config is None:
        return FeatureConfig()
    return FeatureConfig.from_dict({**FeatureConfig().to_dict(), **json.loads(args.feature_config)})


def card_metrics(result) -> dict:
    """The part of a :class:`~serwidgets.results.Result` (written, so it has a name) that goes into a card."""
    m = result.metrics
    return {
        "protocol": f"{result.protocol} ({result.n_folds} folds)",
        "UA": m["UA"], "WA": m["WA"], "macro_F1": m["macro_F1"], "recall": m["recall"],
        "fold_UA": result.fold_UA, "per_corpus_UA": result.per_corpus,
        "snr_UA": result.snr_UA, "results_file": f"results/{result.name}.json",
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
