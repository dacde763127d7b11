"""``ser predict`` on real EmoDB/RAVDESS files with the tiny test bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from serwidgets.audio import TARGET_SR
from serwidgets.cli import main
from serwidgets.model import load_model
from tests.fixtures_bundle import LABELS, tiny_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, emodb_root):
    return tiny_bundle(tmp_path_factory, emodb_root)


@pytest.fixture
def files(emodb_root, ravdess_root):
    return [str(emodb_root / "wav" / "03a01Wa.wav"), str(ravdess_root / "Actor_01" / "03-01-05-01-01-01-01.flac")]


def test_predict_prints_each_file(bundle_dir, files, capsys):
    assert main(["predict", *files, "--model", str(bundle_dir)]) == 0
    out = capsys.readouterr().out
    model = load_model(bundle_dir)
    for path in files:
        analysis = model.analyze(path)
        probabilities = analysis.as_dict()
        assert probabilities == pytest.approx(model.predict_file(path), abs=1e-9)
        marker = ", uncertain" if analysis.uncertain else ""
        assert f"{path}: {analysis.top} ({analysis.confidence:.3f}{marker})" in out
        block = out.split(f"{path}: ")[1].splitlines()[1:1 + len(LABELS)]
        assert [line.split()[0] for line in block] == list(LABELS)
        assert [float(line.split()[1]) for line in block] == pytest.approx(list(probabilities.values()), abs=5e-4)


def test_predict_json(bundle_dir, files, capsys):
    assert main(["predict", *files, "--model", str(bundle_dir), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert list(results) == files
    for probabilities in results.values():
        assert list(probabilities) == list(LABELS)
        assert sum(probabilities.values()) == pytest.approx(1.0)


def test_bad_files_are_reported_and_the_rest_predicted(bundle_dir, files, tmp_path, capsys):
    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(3 * TARGET_SR, np.float32), TARGET_SR)
    missing = tmp_path / "missing.wav"
    assert main(["predict", str(silence), files[0], str(missing), "--model", str(bundle_dir), "--json"]) == 1
    captured = capsys.readouterr()
    assert list(json.loads(captured.out)) == [files[0]]
    assert f"{silence}: no speech detected" in captured.err
    assert str(missing) in captured.err


def test_missing_model_is_a_clear_error(tmp_path, files, capsys):
    assert main(["predict", files[0], "--model", str(tmp_path)]) == 2
    assert "no model bundle" in capsys.readouterr().err


def test_evaluate_card_option_writes_the_scores_into_the_bundle_card(bundle_dir, tmp_path, monkeypatch, capsys):
    """``ser evaluate --card``: the cross-validated scores go into a bundle's card through ModelCard."""
    import shutil

    from serwidgets import evaluate
    from serwidgets.card import ModelCard
    from serwidgets.cli import evaluate as cli_evaluate

    target = tmp_path / "tiny"
    shutil.copytree(bundle_dir, target)
    result = {
        "classifier": "cnn", "recipe": {"epochs": 2}, "task": "tiny4", "labels": list(LABELS), "protocol": "loso",
        "n_folds": 2, "corpora": ["emodb"], "n_clips": 4, "speakers": 2, "leaky": False, "leakage": None,
        "metrics": {"UA": 0.625, "WA": 0.5, "macro_F1": 0.4, "recall": {"sad": 1.0},
                    "confusion": [[1, 0, 0, 0]] * 4},
        "fold_UA": {"mean": 0.6, "std": 0.1}, "per_speaker": {}, "per_corpus": {"emodb": 0.625},
        "snr_UA": {"clean": 0.625}, "snr_noise": "white", "wall_seconds": 1.0,
    }
    monkeypatch.setattr(cli_evaluate, "load_table", lambda args: (None, None))
    monkeypatch.setattr(evaluate, "evaluate", lambda *args, **kwargs: result)
    assert main(["evaluate", "--classifier", "cnn", "--task", "tiny4", "--name", "tiny-cv", "--card", str(target),
                 "--results", str(tmp_path / "results")]) == 0
    card = ModelCard.read(target)  # the weight files still match their hashes
    assert card.metrics["UA"] == 0.625 and card.metrics["results_file"] == "results/tiny-cv.json"
    assert card.metrics["protocol"] == "loso (2 folds)" and card.labels == LABELS
    assert "metrics written to" in capsys.readouterr().out
