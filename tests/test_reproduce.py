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
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from serwidgets import corpora, evaluate, fingerprint, labels
from serwidgets.features import FeatureConfig
from serwidgets.train import Recipe

RESULTS = Path(__file__).resolve().parents[1] / "results"

#: Largest |ΔUA| and |ΔWA| accepted for a CNN fold re-run in another environment. Measured:
#: fold 5/5 of ser-emotion6-kfold5 re-run on the CI machine and on the development machine
#: (unpinned and pinned to 2 threads) scored UA 0.6544 against the file's 0.6563 (-0.0019, a
#: clip or two of 268); pinned to 1 thread, see CNN_ONE_THREAD below. The result's folds spread
#: far wider (fold UA standard deviation 0.034, range 0.562-0.656), so a change that moves a
#: fold by a typical fold-to-fold difference still fails, while the environment's rounding passes.
CNN_TOLERANCE = 0.02


class ComparisonWarning(UserWarning):
    """Says which comparison a reproduction test applied, and why."""


def rerun(name, fold, shared_data):
    """Re-run ``fold`` of ``results/<name>.json``; returns (saved result, re-run result)."""
    saved = json.loads((RESULTS / f"{name}.json").read_text())
    df = labels.select_task(corpora.load_corpora(saved["corpora"], shared_data), saved["task"])
    options = {k: v for k, v in saved["recipe"].items() if k != "model"}
    result = evaluate.evaluate(
        df, saved["model"], saved["protocol"], task=saved["task"],
        n_folds=saved["n_folds"] if saved["protocol"] == "speaker-kfold" else None, snrs=[None],
        recipe=Recipe.from_dict(saved["recipe"]) if saved["model"] == "cnn" else None,
        baseline_options=None if saved["model"] == "cnn" else options,
        feature_config=FeatureConfig.from_dict(saved["feature_config"]) if "feature_config" in saved else None,
        only_folds=[fold], verbose=0, log=lambda message: None)
    return saved, result


def comparison(saved, result) -> tuple[str, str]:
    """``("exact" | "tolerance", why)`` for a re-run ``result`` of the ``saved`` result."""
    if saved["model"] != "cnn":
        return "exact", f"{saved['model']} is deterministic"
    found = fingerprint.differences(saved.get("environment"), result["environment"])
    if not found:
        return "exact", "same environment as the results file"
    more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
    return "tolerance", f"|ΔUA|, |ΔWA| <= {CNN_TOLERANCE}: environment differs: {'; '.join(found[:3])}{more}"


def test_comparison_is_exact_only_for_deterministic_models_or_the_same_environment():
    env = fingerprint.environment()
    other = {**env, "cpu": {**env["cpu"], "model": "another CPU"}}
    assert comparison({"model": "baseline"}, {"environment": other})[0] == "exact"
    assert comparison({"model": "cnn", "environment": env}, {"environment": env})[0] == "exact"
    mode, why = comparison({"model": "cnn", "environment": env}, {"environment": other})
    assert mode == "tolerance" and "cpu.model" in why
    mode, why = comparison({"model": "cnn"}, {"environment": env})  # written before fingerprints
    assert mode == "tolerance" and "not recorded" in why


class _Prior:
    """A stand-in classifier for the protocol machinery: predicts the training class frequencies."""

    def __init__(self, labels):
        self.labels = labels

    def fit(self, train_df, val_df=None):
        counts = train_df["emotion"].value_counts()
        self.prior = np.array([counts.get(label, 0) for label in self.labels], float) / len(train_df)
        return self

    def predict_proba(self, df):
        return np.tile(self.prior, (len(df), 1))


def test_every_result_records_its_environment(emodb3):
    result = evaluate.evaluate(emodb3, lambda: _Prior(labels.task_labels("emodb7")), "loso", task="emodb7",
                               snrs=[None], only_folds=["loso:emodb:03"], log=lambda message: None)
    env = result["environment"]
    assert env["libraries"]["numpy"] == np.__version__
    assert env["cpu"]["logical_cpus"] and env["python"]
    assert fingerprint.differences(json.loads(json.dumps(env)), fingerprint.environment()) == []


def test_the_fingerprint_imports_nothing_heavy():
    code = ("import sys; from serwidgets import fingerprint; fingerprint.environment(); "
            "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("name, fold", [
    ("emodb7-loso-compare-spknorm", "loso:emodb:03"),
    # Where the shipped model's card metrics come from (models/ser-emotion6/card.json).
    ("ser-emotion6-kfold5", "speaker-kfold:5/5"),
])
def test_a_fold_of_a_saved_result_reproduces(name, fold, shared_data, record_property):
    saved, result = rerun(name, fold, shared_data)
    got, expected = result["folds"][0], next(f for f in saved["folds"] if f["name"] == fold)
    assert (got["n_train"], got["n_val"], got["n_test"]) == (
        expected["n_train"], expected["n_val"], expected["n_test"])
    assert got.get("C") == expected.get("C")
    mode, why = comparison(saved, result)
    record_property("comparison", f"{mode}: {why}")
    how = "exactly" if mode == "exact" else "within tolerance"
    warnings.warn(f"{name} {fold}: compared {how} ({why}); UA {got['UA']:.4f}, "
                  f"file {expected['UA']:.4f}", ComparisonWarning)
    if mode == "exact":
        assert got["best_epoch"] == expected["best_epoch"]
        assert got["UA"] == pytest.approx(expected["UA"], abs=1e-12), why
        assert got["WA"] == pytest.approx(expected["WA"], abs=1e-12), why
    else:
        assert abs(got["UA"] - expected["UA"]) <= CNN_TOLERANCE, why
        assert abs(got["WA"] - expected["WA"]) <= CNN_TOLERANCE, why
