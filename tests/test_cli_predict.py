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
        marker = f", {analysis.not_sure}" if analysis.not_sure else ""
        assert f"{path}: {analysis.top} ({analysis.confidence:.3f}{marker})" in out
        block = out.split(f"{path}: ")[1].splitlines()[1:1 + len(LABELS)]
        assert [line.split()[0] for line in block] == list(LABELS)
        assert [float(line.split()[1]) for line in block] == pytest.approx(list(probabilities.values()), abs=5e-4)


def test_predict_json(bundle_dir, files, capsys):
    assert main(["predict", *files, "--model", str(bundle_dir), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert list(results) == files
    model = load_model(bundle_dir)
    for path, result in results.items():
        assert list(result) == ["probabilities", "not_sure"]
        assert list(result["probabilities"]) == list(LABELS)
        assert sum(result["probabilities"].values()) == pytest.approx(1.0)
        assert result["not_sure"] == model.analyze(path).not_sure


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

