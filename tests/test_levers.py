"""The lever table of issue 18: its folds are the leave-one-corpus-out protocol's, its rows are
the files in results/levers/, and its baseline reproduces the committed result."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serwidgets import splits
from serwidgets.evaluate import Protocol

REPO = Path(__file__).resolve().parents[1]
LEVERS = REPO / "results" / "levers"


def _script(name):
    sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def levers():
    return _script("run_levers")


@pytest.fixture(scope="module")
def table():
    return _script("make_results_table")


def _toy(n_per_speaker=4):
    """Three corpora of two speakers each, every speaker with clips of two emotions."""
    rows = [{"corpus": c, "speaker": f"{c}:{s}", "emotion": ("angry", "sad")[i % 2], "language": lang,
             "path": f"/x/{c}/{s}/{i}.wav"}
            for c, lang in (("a", "xx"), ("b", "yy"), ("c", "zz")) for s in (1, 2) for i in range(n_per_speaker)]
    return pd.DataFrame(rows)


def test_folds_are_the_loco_protocol(levers):
    df = _toy()
    ours = levers.folds(df)
    theirs = list(splits.loco(df))
    assert [f.name for f in ours] == [f.name for f in theirs] == [f.name for f in Protocol("loco").splits(df)[1]]
    for a, b in zip(ours, theirs):
        assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)


def test_copies_train_only_with_their_source_clip(levers):
    """An augmented copy of a held-out clip never reaches training; the held-out side is scored clean."""
    df = _toy()
    X = np.arange(len(df), dtype=float)[:, None, None] * np.ones((1, 4, 2))
    rows = np.arange(len(df))  # one copy of every clip, marked by a negative value
    seen = []

    def fit_predict(X_train, df_train, X_test):
        seen.append((set(df_train["corpus"]), len(df_train), X_train[:, 0, 0].copy(), X_test[:, 0, 0].copy()))
        return np.full((len(X_test), 6), 1 / 6)

    p, seconds, loads = levers.run_loco(df, X, fit_predict, copies=(rows, -X), log=lambda *a, **k: None)
    assert sorted(seconds) == ["a", "b", "c"] and len(loads) == 4 and not np.isnan(p).any()
    for (corpora, n, x_train, x_test), held in zip(seen, ("a", "b", "c")):
        assert held not in corpora and n == 2 * (len(df) - 8)
        held_rows = np.flatnonzero(df["corpus"] == held)
        assert set(-x_train[x_train < 0]).isdisjoint(held_rows) and (x_test >= 0).all()


def test_every_lever_file_has_its_provenance():
    files = sorted(LEVERS.glob("*.json"))
    assert (LEVERS / "baseline.json") in files
    for path in files:
        row = json.loads(path.read_text())
        assert row["description"] and row["commit"] and row["group"], path.name
        if "not_measured" in row:
            continue
        assert row["produced_by"] and set(row["ECE"]) <= set(row["per_corpus"]) == set(row["folds"]), path.name
        assert row.get("load_average") or row.get("load_note"), f"{path.name}: no word on the machine's load"
        if len(row["per_corpus"]) == 7:
            assert row["mean_UA"] == pytest.approx(np.mean(list(row["per_corpus"].values()))), path.name


def test_baseline_reproduces_the_committed_loco_result():
    base = json.loads((LEVERS / "baseline.json").read_text())
    saved = json.loads((REPO / "results" / "emotion6-loco7-whisper.json").read_text())
    assert base["n_clips"] == saved["n_clips"]
    assert base["per_corpus"] == pytest.approx(saved["per_corpus"], abs=1e-9)
    assert base["mean_UA"] == pytest.approx(saved["loco_mean_UA"], abs=1e-9)


def test_lever_table_has_one_row_per_file(table):
    text = table.levers_table(REPO / "results")
    rows = [line for line in text.splitlines()[2:] if line.startswith("| ")]
    names = sorted(path.stem for path in LEVERS.glob("*.json"))
    assert sorted(line.split(" | ")[0][2:] for line in rows) == names
    assert rows[0].startswith("| baseline | baseline | ")
    assert sorted(line.split("`")[1] for line in text.splitlines() if line.startswith("- `")) == names


def test_lever_table_says_what_was_not_measured_and_partial_folds(table, tmp_path):
    folder = tmp_path / "levers"
    folder.mkdir()
    per_corpus = {c: 0.5 for c in "abcdefg"}
    common = {"per_language": {c.upper(): 0.5 for c in per_corpus}, "ECE": {c: 0.2 for c in per_corpus},
              "ECE_mean": 0.2, "ECE_max": 0.2, "produced_by": "x.py", "wall_seconds": 60,
              "load_average": [1.0, 2.0]}
    rows = {
        "baseline": {"group": "baseline", "description": "b", "per_corpus": per_corpus, "mean_UA": 0.5, **common},
        "some": {"group": "fine-tuning", "description": "f", "per_corpus": {"a": 0.6, "b": 0.55},
                 **{**common, "per_language": {"A": 0.6, "B": 0.55}}},
        "none": {"group": "augmentation", "description": "n", "not_measured": "no time"},
    }
    for name, row in rows.items():
        (folder / f"{name}.json").write_text(json.dumps(row))
    lines = table.levers_table(tmp_path).splitlines()
    assert len(lines) == 9 and lines[2].startswith("| baseline | baseline | 0.500 |")
    assert lines[3].startswith("| none | augmentation | not measured |")
    assert "- `none`: n. **Not measured:** no time." in lines
    assert "| some | fine-tuning | – (2 of 7 folds) | +0.075 on its folds |" in lines[4]
    (folder / "bad.json").write_text(json.dumps({**rows["baseline"], "group": "magic"}))
    with pytest.raises(ValueError, match="unknown group"):
        table.levers_table(tmp_path)


@pytest.mark.parametrize("kind", ["band", "reverb", "speed", "pitch", "noise"])
def test_augmented_copies_are_drawn_once_per_file_kind_and_copy(kind):
    """A copy is a function of (file, kind, copy): a rebuilt cache is identical, another copy differs."""
    encode = _script("encode_augmented")
    t = np.arange(16000) / 16000
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)

    def draw(copy):
        return encode.AUGMENT[kind](y, np.random.default_rng(encode.seed("ab" * 32, kind, copy)))

    (a, meta), (b, _), (c, _) = draw(0), draw(0), draw(1)
    assert meta["kind"] == kind and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert 0.8 * len(y) < len(a) < 1.2 * len(y) and not np.allclose(a[: len(y)], y[: len(a)], atol=1e-3)


def test_baseline_calibration_error_matches_the_committed_predictions(levers):
    """The baseline's ECE per corpus, recomputed from ``ser evaluate``'s saved probabilities (float32)."""
    from serwidgets.results import Predictions

    base = json.loads((LEVERS / "baseline.json").read_text())
    p = Predictions.load(REPO / "results" / "emotion6-loco7-whisper.npz")
    assert sorted(set(p.corpus)) == sorted(base["ECE"])
    for corpus, ece in base["ECE"].items():
        rows = p.corpus == corpus
        assert ece == pytest.approx(levers.expected_calibration_error(p.probabilities[rows], p.truth[rows]), abs=2e-3)
