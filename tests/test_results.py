"""Results files: written, read back (old and new keys), found, tabled; on the committed results/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serwidgets import results

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_load_results_reads_every_committed_file():
    loaded = results.load_results()
    names = [r["name"] for r in loaded]
    assert names == [p.stem for p in sorted(RESULTS.glob("*.json"))]  # file-name order
    assert results.load_results(RESULTS) == loaded
    # Files written with the old keys get the new ones, with the same values.
    for r in loaded:
        assert r["classifier"] == r.get("model", r["classifier"])
        assert r["speaker_norm"] == bool(r.get("speaker_normalised", r["speaker_norm"]))


def test_find_result_on_the_committed_files():
    loaded = results.load_results()
    r = results.find_result(loaded, corpora="emodb", task="emodb7", protocol="loso", classifier="whisper")
    assert r["name"] == "emodb7-loso-whisper"
    saved = json.loads((RESULTS / "emodb7-loso-whisper.json").read_text())
    assert r["metrics"] == saved["metrics"]
    spk = results.find_result(loaded, corpora=["emodb"], protocol="loso", name="emodb7-loso-compare-spknorm")
    assert spk["speaker_norm"] is True and results.is_speaker_norm(spk)
    # corpora compare as a set; nothing matches -> None
    mixed = results.find_result(loaded, corpora=("ravdess", "emodb"), classifier="whisper")
    assert mixed is not None and set(mixed["corpora"]) == {"emodb", "ravdess"}
    assert results.find_result(loaded, corpora="emodb", classifier="no-such") is None
    assert results.find_result([], name="x") is None


def test_readers_accept_old_and_new_keys():
    old = {"model": "baseline", "speaker_normalised": True, "recipe": {"feature_set": "compare", "classifier": "svm"}}
    new = {"classifier": "baseline", "speaker_norm": True, "recipe": {"feature_set": "compare", "estimator": "svm"}}
    for r in (old, new):
        assert results.classifier_of(r) == "baseline" and results.is_speaker_norm(r)
        assert results.model_label(r) == "baseline (compare + svm)"
    assert results.find_result([old], classifier="baseline") is old
    assert results.find_result([new], classifier="cnn") is None


def _result(**extra):
    return {"task": "emodb3", "labels": ["a", "b"], "protocol": "loso", "n_folds": 2, "corpora": ["emodb"],
            "n_clips": 4, "speakers": 2, "leaky": False, "leakage": None, "recipe": {},
            "metrics": {"UA": 0.75, "WA": 0.5, "macro_F1": 0.4, "confusion": [[1, 1], [0, 2]]},
            "fold_UA": {"mean": 0.7, "std": 0.1}, "per_speaker": {"03": 0.5}, "per_corpus": {"emodb": 0.75},
            "snr_UA": {"clean": 0.75}, "snr_noise": "white", "wall_seconds": 60.0, **extra}


@pytest.mark.parametrize("keys", [{"classifier": "cnn", "speaker_norm": True},
                                  {"model": "cnn", "speaker_normalised": True}])
def test_written_results_round_trip_with_either_spelling(tmp_path, keys):
    json_path, md_path = results.write_results(_result(**keys), "toy", tmp_path)
    assert json_path == tmp_path / "toy.json" and md_path.read_text().startswith("# toy\n\ncnn on emodb")
    assert "**speaker-normalised**" in md_path.read_text()
    (loaded,) = results.load_results(tmp_path)
    assert loaded["name"] == "toy" and loaded["classifier"] == "cnn" and loaded["speaker_norm"] is True
    table = results.results_table(tmp_path)
    assert "| [toy](" in table and "speaker-normalised (transductive)" in table and "| 0.750 | 0.500 |" in table


def test_old_import_locations_still_work():
    from serwidgets import evaluate

    assert evaluate.write_results is results.write_results
    assert evaluate.results_table is results.results_table
    assert evaluate.model_label is results.model_label
    assert "write_results" not in evaluate.__all__
