"""An installed package works, not just a checkout.

The working tree is built into a wheel (setuptools' PEP 517 backend, through pip), and the
wheel installed with ``pip install --target`` into
a temporary folder (``--no-deps``: the dependencies come from this environment, so the test
runs offline). Programs then run from a folder outside the checkout, with the installed copy
first on the path, and must find the shipped model, the dashboard notebook and the Voilà config
inside the installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(command, **kwargs):
    out = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{command} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from the working tree (offline: no build isolation, no index).

    The build runs in a temporary tree of symbolic links to the files git sees (tracked, or
    untracked and not ignored), so it writes no ``build/`` into the checkout and never reads
    ``.venv`` or caches.
    """
    build = tmp_path_factory.mktemp("build")
    files = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                 cwd=REPO).stdout.split("\0")
    source = build / "src"
    for name in filter(None, files):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).symlink_to(REPO / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "--quiet", "-w", str(build / "dist"), str(source)])
    (wheel,) = (build / "dist").glob("serwidgets-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """``(run, target)``: ``run(args)`` runs a command with the installed package first on the path."""
    target = tmp_path_factory.mktemp("site")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
          "--target", str(target), str(wheel)])
    env = {k: v for k, v in os.environ.items() if k not in ("SER_MODEL", "PYTHONPATH")}
    # The installed copy before this environment's packages (and its editable serwidgets);
    # PYTHONSAFEPATH keeps the current folder off the path; the folder is outside the checkout.
    env.update(PYTHONPATH=str(target), PYTHONSAFEPATH="1")
    cwd = tmp_path_factory.mktemp("elsewhere")

    def run(args):
        return _run(args, env=env, cwd=cwd)

    return run, target


def test_the_wheel_ships_every_file_under_models_and_the_dashboard_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    models = [p.relative_to(REPO).as_posix() for p in sorted((REPO / "models").rglob("*"))
              if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")]
    assert models, "no files under models/"
    expected = models + ["notebooks/dashboard.ipynb", "config/voila.json"]
    missing = [name for name in expected if f"serwidgets/_shipped/{name}" not in names]
    assert not missing, f"not in {wheel.name}: {missing}"
    assert any(name.startswith("serwidgets/widgets/static/") for name in names)


def test_the_installed_package_loads_the_shipped_model(installed):
    run, target = installed
    code = ("import json, importlib.metadata as m, serwidgets, serwidgets.bundle as b; "
            "model = serwidgets.load_model(); "
            "print(json.dumps({'file': serwidgets.__file__, 'model': str(b.resolve()), "
            "'labels': list(model.labels), 'version': serwidgets.__version__, "
            "'metadata': m.version('serwidgets')}))")
    got = json.loads(run([sys.executable, "-c", code]).stdout)
    assert Path(got["file"]).is_relative_to(target), got["file"]
    assert Path(got["model"]) == target / "serwidgets" / "_shipped" / "models" / "ser-emotion6"
    card = json.loads((REPO / "models" / "ser-emotion6" / "card.json").read_text())
    assert got["labels"] == card["labels"]
    # One version, defined in serwidgets/__init__.py, is the one in the package metadata.
    assert got["version"] == got["metadata"]


def test_ser_predict_from_the_installed_package(installed, emodb_root):
    run, target = installed
    clip = emodb_root / "wav" / "03a01Wa.wav"
    out = json.loads(run([str(target / "bin" / "ser"), "predict", "--json", str(clip)]).stdout)
    probabilities = out[str(clip)]["probabilities"] if "probabilities" in out[str(clip)] else out[str(clip)]
    assert isinstance(probabilities, dict) and abs(sum(probabilities.values()) - 1) < 1e-4


def test_ser_dashboard_finds_the_installed_notebook_and_config(installed):
    run, target = installed
    assert "dashboard" in run([str(target / "bin" / "ser"), "dashboard", "--help"]).stdout
    code = ("import json; from serwidgets.cli import dashboard as d; "
            "print(json.dumps([str(d.NOTEBOOK), str(d.CONFIG_DIR), d.voila_env({})['JUPYTER_CONFIG_PATH']]))")
    notebook, config, config_path = (Path(p) for p in json.loads(run([sys.executable, "-c", code]).stdout))
    shipped = target / "serwidgets" / "_shipped"
    assert notebook == shipped / "notebooks" / "dashboard.ipynb" and notebook.is_file()
    assert config == shipped / "config" and (config / "voila.json").is_file()
    assert config_path == config
