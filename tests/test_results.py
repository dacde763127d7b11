"""Results files: written, read back, refused when not canonical, found, tabled; on the committed results/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from serwidgets import results

RESULTS = Path(__file__).resolve().parents[1] / "results"


def toy_result(**changes) -> results.Result:
    """A small result of a made-up two-class run."""
    fields = {
        "classifier": "cnn", "recipe": {"epochs": 30, "val_speakers": 0, "net_kwargs": {}},
        "audio_options": {}, "task": "emodb3", "labels": ["a", "b"], "protocol": "loso", "seed": 0,
        "n_folds": 2, "corpora": ["emodb"], "n_clips": 4, "speakers": 2,
        "metrics": {"UA": 0.75, "WA": 0.5, "macro_F1": 0.4, "confusion": [[1, 1], [0, 2]]},
        "fold_UA": {"mean": 0.7, "std": 0.1}, "per_speaker": {"03": 0.5}, "per_corpus": {"emodb": 0.75},
        "snr_UA": {"clean": 0.75}, "folds": [], "wall_seconds": 60.0, "date": "2025-01-01T00:00:00+00:00",
    }
    return results.Result(**{**fields, **changes})


def test_load_results_reads_every_committed_file():
    loaded = results.load_results()
    assert [r.name for r in loaded] == [p.stem for p in sorted(RESULTS.glob("*.json"))]  # file-name order
    assert [r.name for r in results.load_results(RESULTS)] == [r.name for r in loaded]
    for r in loaded:
        # Canonical: each file is what its Result writes, byte for byte.
        assert (RESULTS / f"{r.name}.json").read_text() == json.dumps(r.to_dict(), indent=2, sort_keys=True) + "\n"
        assert r.classifier in ("cnn", "baseline", "whisper") and r.recipe and r.audio_options
        assert (r.calibration or {}).get("draw", "round-robin") in ("round-robin", "random", "neutral")


def test_find_result_on_the_committed_files():
    loaded = results.load_results()
    r = results.find_result(loaded, corpora="emodb", task="emodb7", protocol="loso", classifier="whisper")
    assert r.name == "emodb7-loso-whisper"
    saved = json.loads((RESULTS / "emodb7-loso-whisper.json").read_text())
    assert r.metrics == saved["metrics"]
    spk = results.find_result(loaded, corpora=["emodb"], protocol="loso", name="emodb7-loso-compare-spknorm")
    assert spk.speaker_norm is True
    # corpora compare as a set; nothing matches -> None
    mixed = results.find_result(loaded, corpora=("ravdess", "emodb"), classifier="whisper")
    assert mixed is not None and set(mixed.corpora) == {"emodb", "ravdess"}
    assert results.find_result(loaded, corpora="emodb", classifier="no-such") is None
    assert results.find_result([], name="x") is None


def test_a_result_with_unknown_or_missing_keys_is_refused(tmp_path):
    data = toy_result().to_dict()
    with pytest.raises(ValueError, match=r"unknown keys \['model'\]"):
        results.Result.from_dict({**data, "model": "cnn"})
    del data["task"]
    with pytest.raises(ValueError, match=r"missing keys \['task'\]"):
        results.Result.from_dict(data)
    (tmp_path / "old.json").write_text(json.dumps({**toy_result().to_dict(), "speaker_normalised": True}))
    with pytest.raises(ValueError, match="old.json: not a result: unknown keys"):
        results.load_results(tmp_path)


def test_written_results_round_trip(tmp_path):
    result = toy_result(speaker_norm=True)
    json_path, md_path = results.write_results(result, "toy", tmp_path)
    assert json_path == tmp_path / "toy.json" and md_path.read_text().startswith("# toy\n\ncnn on emodb")
    assert "**speaker-normalised**" in md_path.read_text() and not (tmp_path / "toy.npz").exists()
    (loaded,) = results.load_results(tmp_path)
    assert loaded.to_dict() == result.to_dict() and loaded.name == "toy" and loaded.predictions is None
    table = results.results_table(tmp_path)
    assert "| [toy](" in table and "speaker-normalised (transductive)" in table and "| 0.750 | 0.500 |" in table


def test_predictions_are_written_beside_the_json(tmp_path):
    predictions = results.Predictions(
        probabilities=[[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], truth=[0, 1, 1], corpus=["emodb"] * 3,
        speaker=["emodb:03", "emodb:03", "emodb:08"], clip=["wav/a.wav", "wav/b.wav", "wav/c.wav"], fold=[0, 0, 1])
    results.write_results(toy_result(predictions=predictions), "toy", tmp_path)
    (loaded,) = results.load_results(tmp_path)
    p = loaded.predictions
    assert p.probabilities.dtype == np.float32 and p.correct.tolist() == [True, True, False]
    assert p.speaker.tolist() == ["emodb:03", "emodb:03", "emodb:08"] and p.fold.tolist() == [0, 0, 1]
    np.testing.assert_allclose(p.probabilities, predictions.probabilities)


def test_model_label_names_what_was_evaluated():
    assert results.model_label(toy_result()) == "cnn (30 epochs)"
    assert results.model_label(toy_result(recipe={"epochs": 25, "val_speakers": 2, "net_kwargs": {"pooling": "paper"}})) \
        == "cnn (≤25 epochs, early stopping, paper pooling)"
    whisper = toy_result(classifier="whisper", recipe={"layers": [2, 3]})
    assert results.model_label(whisper) == "whisper-base encoder (frozen) + logistic regression (states [2, 3])"
    baseline = toy_result(classifier="baseline", recipe={"feature_set": "compare", "estimator": "svm"})
    assert results.model_label(baseline) == "baseline (compare + svm)"
