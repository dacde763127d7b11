"""pyproject.toml and environment.yml list the same dependencies, and the set-up is wired up."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _normalise(req: str) -> tuple[str, str]:
    name, _, bound = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)", req.strip()).groups()
    return name.lower().replace("_", "-"), bound.replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        reqs += [r for r in items if not r.startswith("serwidgets[")]
    return dict(_normalise(r) for r in reqs)


def _environment_requirements() -> dict[str, str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = []
    for line in lines[start + 1 :]:
        item = line.strip()
        if not item.startswith("- "):
            break
        item = item[2:]
        if item != "-e .":
            reqs.append(item)
    return dict(_normalise(r) for r in reqs)


def test_pyproject_and_environment_agree():
    assert _pyproject_requirements() == _environment_requirements()


def test_tested_lower_bounds_are_pinned():
    reqs = _pyproject_requirements()
    expected = {
        "tensorflow-cpu": ">=2.21", "keras": ">=3.15", "librosa": ">=0.11",
        "ipywidgets": ">=8.1", "anywidget": ">=0.11", "voila": ">=0.5", "jupyterlab": ">=4.6",
    }
    for name, bound in expected.items():
        assert reqs.get(name) == bound, name


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme
    assert "exec make test" in (REPO / ".ci" / "run").read_text()


@pytest.mark.parametrize("forbidden", ["tensorflow", "librosa", "numba", "matplotlib", "serwidgets.widgets"])
def test_import_serwidgets_is_light(forbidden):
    code = f"import serwidgets, sys; sys.exit(1 if {forbidden!r} in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_ser_entry_point_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "serwidgets.cli", "--help"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0
    assert "corpus" in out.stdout


def test_the_version_is_defined_once():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "serwidgets.__version__"}


def test_the_sdist_carries_what_the_wheel_ships():
    """setup.py copies SHIPPED into the wheel; MANIFEST.in must put them in the sdist too."""
    import ast

    tree = ast.parse((REPO / "setup.py").read_text())
    shipped = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SHIPPED")
    manifest = [line.split() for line in (REPO / "MANIFEST.in").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for entry in shipped:
        command = "graft" if (REPO / entry).is_dir() else "include"
        assert any(words[0] == command and entry in words[1:] for words in manifest), entry
