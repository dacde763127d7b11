"""The teaching notebooks: committed clean, and each runs end to end in quick mode.

Executed copies go to ``artifacts/notebooks/`` (ignored by git) for inspection.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
ARTIFACTS = REPO / "artifacts" / "notebooks"
TEACHING = ["01_data.ipynb", "02_augmentation.ipynb", "03_model.ipynb", "04_evaluation.ipynb", "05_new_task.ipynb"]
ALL_NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "serwidgets-test"
#: The parameters the tests run every chapter with (``data_dir``: the shared_data fixture's).
PARAMETERS = {"quick": True, "data_dir": None}


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def test_teaching_notebooks_present():
    missing = [name for name in TEACHING + ["dashboard.ipynb"] if name not in ALL_NOTEBOOKS]
    assert not missing, f"notebooks missing from notebooks/: {missing}"


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_committed_without_outputs(name):
    nb = _read(name)
    nbformat.validate(nb)
    dirty = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{name}: code cells {dirty} hold outputs or execution counts (strip them)"


def _parameters(name: str) -> dict:
    """The names the cell tagged ``parameters`` assigns, with their default values."""
    nb = _read(name)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected one cell tagged 'parameters', found {len(tagged)}"
    return {target.id: ast.literal_eval(node.value)
            for node in ast.parse(tagged[0].source).body if isinstance(node, ast.Assign)
            for target in node.targets}


@pytest.mark.parametrize("name", TEACHING)
def test_parameters_cell(name):
    """Every parameter the test passes is one the notebook has (papermill would inject an unknown
    one silently); by default a chapter runs in full on ``$SER_DATA``."""
    defaults = _parameters(name)
    assert set(PARAMETERS) <= set(defaults), f"{name}: no parameter {sorted(set(PARAMETERS) - set(defaults))}"
    assert defaults["quick"] is False and defaults["data_dir"] is None, defaults


def test_readme_indexes_every_notebook():
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    missing = [name for name in ALL_NOTEBOOKS if name not in readme]
    assert not missing, f"notebooks/README.md does not list {missing}"
    positions = [readme.index(name) for name in TEACHING]
    assert positions == sorted(positions), "README lists the chapters out of reading order"


@pytest.fixture(scope="session")
def venv_kernel(tmp_path_factory):
    """A kernelspec that runs *this* interpreter, so a fresh clone needs no registered kernel.

    The ``python3`` spec that pip installs into the venv launches ``python`` from ``PATH``,
    which is not the venv's interpreter unless the venv is activated.
    """
    spec_dir = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "serwidgets (test venv)",
        "language": "python",
        # Lets jupyter_client encrypt the kernel's channels, as pip's own python3 spec does.
        "metadata": {"supported_encryption": ["curve"]},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(spec_dir.parents[1]), old]))
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH")
    else:
        os.environ["JUPYTER_PATH"] = old


def _stderr_warnings(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                if "warning" in out.get("text", "").lower():
                    found.append(out["text"][:300])
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", TEACHING)
def test_notebook_runs_quick(name, venv_kernel, shared_data):
    import papermill

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    output = ARTIFACTS / name
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / name),
        str(output),
        parameters=PARAMETERS | {"data_dir": str(shared_data)},
        kernel_name=venv_kernel,
        cwd=str(NOTEBOOK_DIR),
        progress_bar=False,
    )  # raises PapermillExecutionError naming the failing cell
    executed = nbformat.read(output, as_version=4)
    warnings = _stderr_warnings(executed)
    assert not warnings, f"{name} printed warnings (fix their cause):\n" + "\n".join(warnings)
    figures = sum(
        "image/png" in out.get("data", {})
        for cell in executed.cells for out in cell.get("outputs", [])
    )
    assert figures > 0, f"{name} drew no figure"
