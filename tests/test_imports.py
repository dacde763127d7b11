"""Light imports: ``import serwidgets`` and LiteRT prediction pull in no heavy library.

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures_bundle import LABELS, tiny_bundle

HEAVY = ("tensorflow", "keras", "librosa", "numba", "matplotlib", "sklearn", "pandas")


def imported_after(code: str) -> dict:
    """Run ``code`` in a fresh Python; return its result and which HEAVY modules it imported."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"heavy = sorted({{name.split('.')[0] for name in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps({'heavy': heavy, 'result': globals().get('result')}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, emodb_root):
    return tiny_bundle(tmp_path_factory, emodb_root)


def test_import_serwidgets_is_light():
    report = imported_after("import serwidgets\nresult = 'serwidgets.widgets' in sys.modules")
    assert report["heavy"] == []
    assert report["result"] is False, "import serwidgets imported the widgets"


def test_core_modules_are_light():
    code = ("import serwidgets.bundle, serwidgets.card, serwidgets.model, serwidgets.heads, serwidgets.export, "
            "serwidgets.results, serwidgets.cli.predict, serwidgets.cli.export")
    assert imported_after(code)["heavy"] == []


def test_litert_prediction_imports_no_tensorflow(bundle_dir, emodb_root, ravdess_root):
    wav = emodb_root / "wav" / "03a01Wa.wav"
    flac = ravdess_root / "Actor_01" / "03-01-02-01-01-02-01.flac"
    code = (
        "import serwidgets\n"
        f"model = serwidgets.load_model({str(bundle_dir)!r})\n"
        f"a = model.analyze({str(wav)!r})\n"
        f"p = model.predict_file({str(flac)!r})\n"
        "result = [model.backend, list(p), a.top]\n"
    )
    report = imported_after(code)
    assert report["heavy"] == []
    backend, labels, top = report["result"]
    assert backend == "litert"
    assert tuple(labels) == LABELS and top in LABELS


def test_the_shipped_model_predicts_and_calibrates_without_heavy_imports(emodb_root):
    """The dashboard's path: load, analyse, calibrate to a voice, analyse calibrated."""
    clips = [str(p) for p in sorted((emodb_root / "wav").glob("03a0*.wav"))[:4]]
    code = (
        "import serwidgets\n"
        "model = serwidgets.load_model()\n"
        f"calibration = model.calibrate({clips[:3]!r})\n"
        f"a = model({clips[3]!r}, calibration=calibration)\n"
        "result = [type(model).__name__, a.calibrated, a.top in model.labels]\n"
    )
    report = imported_after(code)
    assert report["heavy"] == []
    assert report["result"] == ["EncoderModel", True, True]
