"""Saved results reproduce: one fold of a committed results file, re-run from a clean clone with
the recipe and feature settings stored in that file, scores what the file says.

A whole cross-validation takes minutes to tens of minutes on the CI machine, so each test
re-runs one fold (``evaluate(only_folds=...)``), which checks the same code path as all of them.

Exactly, or within a tolerance (each test says which, in a warning in pytest's summary):

- The logistic-regression baselines are deterministic: their folds must reproduce exactly,
  on any machine.
- A CNN's training sums floating-point numbers in an order set by the CPU's kernels, the
  library versions and the thread count. Every results file records these
  (``"environment"``, :mod:`serwidgets.fingerprint`). In the same environment the fold must
  reproduce exactly (fixed seeds, a sequential data pipeline, threads pinned by
  :func:`serwidgets.train.pin_threads`). In another one, or when the file predates the
  fingerprint, UA and WA must agree within :data:`CNN_TOLERANCE`.

``results/experiments/zhao2019-emotion6-kfold5-fold5.json`` is fold 5/5 of the Zhao CNN reference bundle's
cross-validation re-run with its environment recorded, so the exact comparison of a CNN runs
wherever that environment is (it was written on the development machine; the CI re-run quoted
in issue 13 scored the same UA to the last digit).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from serwidgets import corpora, evaluate, fingerprint, labels, results
from serwidgets.audio import AudioOptions
from serwidgets.baseline import BaselineClassifier
from serwidgets.classifier import Classifier
from serwidgets.embedding_classifier import EmbeddingClassifier
from serwidgets.evaluate import Protocol
from serwidgets.features import FeatureConfig
from serwidgets.train import NetClassifier

from tests.test_results import toy_result

RESULTS = Path(__file__).resolve().parents[1] / "results"

#: Largest |ΔUA| and |ΔWA| accepted for a CNN fold re-run in another environment. Measured on
#: fold 5/5 of zhao2019-emotion6-kfold5 (268 test clips; the file says UA 0.6563, WA 0.6381), each
#: re-run a different order of floating-point sums of the same recipe:
#:
#: ======================================================  ======  ======
#: re-run                                                  UA      WA
#: ======================================================  ======  ======
#: this project's CI and development machine, 2 threads    0.6544  0.6343
#: same, TF_ENABLE_ONEDNN_OPTS=0 (other CPU kernels)       0.6267  0.6082
#: same, 1 thread                                          0.5984  0.5746
#: ======================================================  ======  ======
#:
#: So a fold's score moves by up to 0.06 with the order of its sums alone (standard deviation
#: of the four values 0.027, about the result's fold-to-fold spread: 0.034, folds 0.562-0.656).
#: 0.08 accepts that and still fails a change that costs the recipe a few points more; the
#: exact comparison, in the same environment, is the sharp test.
CNN_TOLERANCE = 0.08


class ComparisonWarning(UserWarning):
    """Says which comparison a reproduction test applied, and why."""


_RERUNS = {}


#: The classifier of each learner kind a results file names.
CLASSIFIERS = {"cnn": NetClassifier, "baseline": BaselineClassifier, "whisper": EmbeddingClassifier}


def rerun(name, fold, shared_data):
    """Re-run ``fold`` of ``results/<name>.json``; returns (saved result, re-run result).

    Each fold is re-run once per session (several reference files can share it).
    """
    (saved,) = [r for r in results.load_results(RESULTS) if r.name == name]
    if (name, fold) not in _RERUNS:
        _RERUNS[name, fold] = _rerun(saved, fold, shared_data)
    return saved, _RERUNS[name, fold]


def _rerun(saved, fold, shared_data):
    """The classifier the file describes (recipe, feature and audio settings), on the same fold."""
    df = labels.select_task(corpora.load_corpora(saved.corpora, shared_data), saved.task)
    options = {"audio_options": AudioOptions.from_dict(saved.audio_options)}
    if saved.feature_config is not None:
        options["feature_config"] = FeatureConfig.from_dict(saved.feature_config)
    if saved.classifier == "cnn":
        options["verbose"] = 0
    classifier = CLASSIFIERS[saved.classifier].from_recipe(labels.task_labels(saved.task), saved.recipe, **options)
    protocol = Protocol(saved.protocol, n_folds=saved.n_folds if saved.protocol == "speaker-kfold" else None,
                        seed=saved.seed, only_folds=[fold])
    return evaluate.evaluate(df, classifier, protocol, task=saved.task, log=lambda message: None)


def comparison(saved, result) -> tuple[str, str]:
    """``("exact" | "tolerance", why)`` for a re-run ``result`` of the ``saved`` result."""
    if saved.classifier != "cnn":
        return "exact", f"{saved.classifier} is deterministic"
    found = fingerprint.differences(saved.environment, result.environment)
    if not found:
        return "exact", "same environment as the results file"
    more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
    return "tolerance", f"|ΔUA|, |ΔWA| <= {CNN_TOLERANCE}: environment differs: {'; '.join(found[:3])}{more}"


def test_comparison_is_exact_only_for_deterministic_models_or_the_same_environment():
    env = fingerprint.environment()
    other = toy_result(environment={**env, "cpu": {**env["cpu"], "model": "another CPU"}})
    assert comparison(toy_result(classifier="baseline"), other)[0] == "exact"
    assert comparison(toy_result(classifier="cnn", environment=env), toy_result(environment=env))[0] == "exact"
    mode, why = comparison(toy_result(classifier="cnn", environment=env), other)
    assert mode == "tolerance" and "cpu.model" in why
    mode, why = comparison(toy_result(classifier="cnn"), toy_result(environment=env))  # written before fingerprints
    assert mode == "tolerance" and "not recorded" in why


class _Prior(Classifier):
    """A stand-in classifier for the protocol machinery: predicts the training class frequencies."""

    name = "prior"

    def __init__(self, labels):
        self.labels = labels

    def to_recipe(self):
        return {}

    def skipped_files(self, df):
        return {}

    def fit(self, df):
        self._fitted(df)
        self.prior_ = np.bincount(self._targets(df), minlength=len(self.labels)) / len(df)
        return self

    def predict_proba(self, df):
        return np.tile(self.prior_, (len(df), 1))


def test_every_result_records_its_environment(emodb3):
    result = evaluate.evaluate(emodb3, _Prior(labels.task_labels("emodb7")),
                               Protocol("loso", only_folds=["loso:emodb:03"]), task="emodb7", log=lambda message: None)
    env = result.environment
    assert env["libraries"]["numpy"] == np.__version__
    assert env["cpu"]["logical_cpus"] and env["python"]
    assert fingerprint.differences(json.loads(json.dumps(env)), fingerprint.environment()) == []


def test_the_fingerprint_imports_nothing_heavy():
    code = ("import sys; from serwidgets import fingerprint; fingerprint.environment(); "
            "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("name, fold, reference", [
    ("emodb7-loso-compare-spknorm", "loso:emodb:03", "emodb7-loso-compare-spknorm"),
    # Where the Zhao CNN reference bundle's card metrics come from (models/zhao2019-emotion6/card.json). The
    # file predates fingerprints, so this fold is compared within the tolerance ...
    ("zhao2019-emotion6-kfold5", "speaker-kfold:5/5", "zhao2019-emotion6-kfold5"),
    # ... and, without training again, with a re-run of it that recorded its environment: exact
    # wherever the environment is that one.
    ("zhao2019-emotion6-kfold5", "speaker-kfold:5/5", "experiments/zhao2019-emotion6-kfold5-fold5"),
])
def test_a_fold_of_a_saved_result_reproduces(name, fold, reference, shared_data, record_property):
    _, result = rerun(name, fold, shared_data)
    (saved,) = [r for r in results.load_results(RESULTS / Path(reference).parent) if r.name == Path(reference).name]
    got, expected = result.folds[0], next(f for f in saved.folds if f["name"] == fold)
    assert (got["n_train"], got.get("n_val"), got["n_test"]) == (
        expected["n_train"], expected.get("n_val"), expected["n_test"])
    assert got.get("C") == expected.get("C")
    mode, why = comparison(saved, result)
    record_property("comparison", f"{mode}: {why}")
    how = "exactly" if mode == "exact" else "within tolerance"
    warnings.warn(f"{reference} {fold}: compared {how} ({why}); UA {got['UA']:.4f}, "
                  f"file {expected['UA']:.4f}", ComparisonWarning)
    if mode == "exact":
        assert got.get("best_epoch") == expected.get("best_epoch")
        assert got["UA"] == pytest.approx(expected["UA"], abs=1e-12), why
        assert got["WA"] == pytest.approx(expected["WA"], abs=1e-12), why
    else:
        assert abs(got["UA"] - expected["UA"]) <= CNN_TOLERANCE, why
        assert abs(got["WA"] - expected["WA"]) <= CNN_TOLERANCE, why
