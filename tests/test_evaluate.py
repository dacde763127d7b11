"""Metrics on known confusions, protocols on real EmoDB speakers, results files and table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serwidgets import evaluate, results, splits
from serwidgets.baseline import BaselineClassifier
from serwidgets.cli import main

from tests.conftest import EMODB3_SPEAKERS as SPEAKERS
from tests.conftest import EMODB3_TASK as TASK


def test_scores_of_a_known_confusion():
    # Confusion (rows true, columns predicted): [[3, 1, 0], [0, 2, 0], [2, 0, 2]].
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 0, 0, 2, 2]
    s = evaluate.scores(y_true, y_pred, TASK)
    assert s["confusion"] == [[3, 1, 0], [0, 2, 0], [2, 0, 2]]
    assert s["WA"] == pytest.approx(7 / 10)
    assert s["UA"] == pytest.approx((3 / 4 + 2 / 2 + 2 / 4) / 3)
    precision, recall = np.array([3 / 5, 2 / 3, 2 / 2]), np.array([3 / 4, 2 / 2, 2 / 4])
    assert s["macro_F1"] == pytest.approx(np.mean(2 * precision * recall / (precision + recall)))
    assert s["recall"] == pytest.approx({"angry": 0.75, "neutral": 1.0, "sad": 0.5})


def test_scores_ignore_classes_absent_from_the_test_set():
    s = evaluate.scores([0, 0, 1], [0, 2, 1], TASK)
    assert s["UA"] == pytest.approx((1 / 2 + 1) / 2)
    assert set(s["recall"]) == {"angry", "neutral"}


def test_protocol_splits(emodb3):
    table, folds, independent = evaluate.make_splits(emodb3, "loso")
    assert independent and len(folds) == len(SPEAKERS) and table is emodb3
    for fold in folds:
        splits.check_leakage(table, fold)
    table, folds, independent = evaluate.make_splits(emodb3, "leaky")
    assert not independent and len(table) == (1 + evaluate.LEAKY_COPIES) * len(emodb3)
    with pytest.raises(splits.LeakageError):
        splits.check_leakage(table, folds[0], speaker_independent=False)
    with pytest.raises(ValueError, match="protocol"):
        evaluate.make_splits(emodb3, "holdout")


def test_leaky_protocol_inflates_the_score(emodb3, tmp_path):
    model = BaselineClassifier(TASK, "logreg")

    loso = evaluate.evaluate(emodb3, model, "loso", task=TASK, snrs=[None, 0.0], log=lambda m: None)
    leaky = evaluate.evaluate(emodb3, model, "leaky", task=TASK, log=lambda m: None)
    assert not hasattr(model, "pipeline_")  # each fold fitted a clone; the instance passed in stays unfitted
    assert loso["classifier"] == "baseline" and "model" not in loso
    assert not loso["leaky"] and loso["leakage"] is None
    assert leaky["leaky"] and "leaks" in leaky["leakage"]
    assert leaky["metrics"]["UA"] > loso["metrics"]["UA"] + 0.1
    assert set(loso["per_speaker"]) == set(SPEAKERS)
    assert loso["metrics"]["n"] == len(emodb3)
    # 0 dB of white noise on the test clips costs accuracy.
    assert loso["snr_UA"]["0"] < loso["snr_UA"]["clean"]

    for name, result in (("loso", loso), ("leaky", leaky)):
        results.write_results(result, f"emodb3-{name}", tmp_path)
    saved = json.loads((tmp_path / "emodb3-loso.json").read_text())
    assert saved["metrics"]["UA"] == pytest.approx(loso["metrics"]["UA"])
    assert "LEAKY" in (tmp_path / "emodb3-leaky.md").read_text()
    table = results.results_table(tmp_path)
    assert f"{loso['metrics']['UA']:.3f}" in table and "inflated" in table
    assert len(table.strip().splitlines()) == 2 + 2


def test_cli_prints_the_table(tmp_path, capsys, emodb3):
    result = evaluate.evaluate(emodb3, BaselineClassifier(TASK, "logreg"), "random",
                               task=TASK, snrs=[None], log=lambda m: None)
    results.write_results(result, "emodb3-random", tmp_path)
    assert main(["evaluate", "--table", "--results", str(tmp_path)]) == 0
    assert "emodb3-random" in capsys.readouterr().out


def test_speaker_normalised_results_are_flagged(emodb3, tmp_path):
    result = evaluate.evaluate(emodb3, "baseline", "loso", task=TASK, snrs=[None],
                               baseline_options={"feature_set": "egemaps", "speaker_norm": True},
                               only_folds=["loso:emodb:03"], log=lambda m: None)
    assert result["speaker_norm"] and result["n_folds"] == 1 and "speaker_normalised" not in result
    assert result["recipe"]["feature_set"] == "egemaps" and result["folds"][0]["C"] in (0.001, 0.01, 0.1)
    assert results.model_label(result) == "baseline (egemaps + logreg)"
    results.write_results(result, "emodb3-speaker-norm", tmp_path)
    assert "speaker-normalised" in (tmp_path / "emodb3-speaker-norm.md").read_text()
    assert "speaker-normalised (transductive)" in results.results_table(tmp_path)
    with pytest.raises(ValueError, match="no fold named"):
        evaluate.evaluate(emodb3, "baseline", "loso", task=TASK, only_folds=["loso:emodb:99"])


def test_a_name_an_estimator_and_a_deprecated_factory_give_the_same_result(emodb3):
    options = {"feature_set": "egemaps", "C": 0.01}
    run = dict(task=TASK, snrs=[None], only_folds=["loso:emodb:08"], log=lambda m: None)
    by_name = evaluate.evaluate(emodb3, "baseline", "loso", baseline_options=options, **run)
    by_estimator = evaluate.evaluate(emodb3, BaselineClassifier(TASK, **options), "loso", **run)
    with pytest.warns(DeprecationWarning, match="callable"):
        by_factory = evaluate.evaluate(emodb3, lambda: BaselineClassifier(TASK, **options), "loso", **run)
    for other in (by_estimator, by_factory):
        assert other["metrics"] == by_name["metrics"] and other["folds"][0]["C"] == 0.01
    assert by_estimator["classifier"] == by_name["classifier"] == "baseline"
    assert by_estimator["recipe"] == by_name["recipe"]
    with pytest.raises(ValueError, match="labels"):
        evaluate.evaluate(emodb3, BaselineClassifier(("angry", "sad")), "loso", **run)
    with pytest.raises(ValueError, match="unknown classifier"):
        evaluate.evaluate(emodb3, "forest", "loso", **run)


def test_cli_classifier_options_and_their_deprecated_spellings(capsys):
    from serwidgets.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["evaluate", "--classifier", "baseline", "--estimator", "svm", "--speaker-norm"])
    assert (args.classifier, args.estimator, args.speaker_norm) == ("baseline", "svm", True)
    assert capsys.readouterr().err == ""
    # The old spellings: --model for the learner kind, --classifier logreg|svm for the estimator.
    args = parser.parse_args(["evaluate", "--model", "baseline", "--classifier", "svm"])
    assert (args.classifier, args.estimator) == ("baseline", "svm")
    err = capsys.readouterr().err
    assert "--model is deprecated; use --classifier" in err and "use --estimator svm" in err
    args = parser.parse_args(["train", "--out", "x", "--model", "whisper"])
    assert args.classifier == "whisper" and "--model is deprecated" in capsys.readouterr().err
    assert parser.parse_args(["train", "--out", "x"]).classifier == "cnn"
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "--classifier", "forest"])
    capsys.readouterr()
    # The folder holding the corpora is --data-dir (a corpus's own folder is its root); --data warns.
    assert parser.parse_args(["evaluate", "--data-dir", "d"]).data_dir == "d"
    assert capsys.readouterr().err == ""
    assert parser.parse_args(["train", "--out", "x", "--data", "d"]).data_dir == "d"
    assert "--data is deprecated; use --data-dir" in capsys.readouterr().err


def test_cli_names_a_speaker_normalised_result_speaker_norm(emodb3, tmp_path, capsys, monkeypatch):
    from serwidgets.cli import evaluate as cli_evaluate

    monkeypatch.setattr(cli_evaluate, "load_table", lambda args: (emodb3, None))
    monkeypatch.setattr(evaluate, "evaluate", lambda *a, **k: {**FAKE_RESULT, "speaker_norm": True})
    assert main(["evaluate", "--corpora", "emodb", "--task", "emodb7", "--classifier", "baseline",
                 "--feature-set", "egemaps", "--speaker-norm", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "emodb-emodb7-loso-baseline-egemaps-speaker-norm.json").exists()


FAKE_RESULT = {
    "classifier": "baseline", "recipe": {}, "task": "emodb7", "labels": ["a", "b"], "protocol": "loso",
    "n_folds": 2, "corpora": ["emodb"], "n_clips": 4, "speakers": 2, "leaky": False, "leakage": None,
    "metrics": {"UA": 0.5, "WA": 0.5, "macro_F1": 0.5, "confusion": [[1, 1], [1, 1]]},
    "fold_UA": {"mean": 0.5, "std": 0.0}, "per_speaker": {}, "per_corpus": {"emodb": 0.5},
    "snr_UA": {"clean": 0.5}, "snr_noise": "white", "wall_seconds": 1.0,
}
