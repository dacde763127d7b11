"""Saved results reproduce: one fold of a committed results file, re-run from a clean clone with
the recipe and feature settings stored in that file, scores exactly what the file says.

A whole cross-validation takes minutes to tens of minutes on the CI machine, so each test
re-runs one fold (``evaluate(only_folds=...)``). Training is deterministic for a given machine
and thread count (fixed seeds, a sequential data pipeline), so one fold checks the same code
path as all of them. A different thread count changes a CNN's floating-point sums and with them
its scores: these files were written on this project's 2-core machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serwidgets import corpora, evaluate, labels
from serwidgets.features import FeatureConfig
from serwidgets.train import Recipe

RESULTS = Path(__file__).resolve().parents[1] / "results"


def rerun(name, fold, shared_data):
    """Re-run ``fold`` of ``results/<name>.json``; returns (re-run fold, saved fold)."""
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
    return result["folds"][0], next(f for f in saved["folds"] if f["name"] == fold)


@pytest.mark.slow
@pytest.mark.parametrize("name, fold", [
    ("emodb7-loso-compare-spknorm", "loso:emodb:03"),
    # Where the shipped model's card metrics come from (models/ser-emotion6/card.json).
    ("ser-emotion6-kfold5", "speaker-kfold:5/5"),
])
def test_a_fold_of_a_saved_result_reproduces(name, fold, shared_data):
    got, expected = rerun(name, fold, shared_data)
    assert (got["n_train"], got["n_val"], got["n_test"]) == (
        expected["n_train"], expected["n_val"], expected["n_test"])
    assert got.get("C") == expected.get("C")
    assert got["best_epoch"] == expected["best_epoch"]
    assert got["UA"] == pytest.approx(expected["UA"], abs=1e-12)
    assert got["WA"] == pytest.approx(expected["WA"], abs=1e-12)
