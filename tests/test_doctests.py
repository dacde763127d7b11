"""The docstring examples run, and print what they say they print.

``MODULES`` lists the modules whose examples run; each must run at least one example (an
example marked ``# doctest: +SKIP`` is not run: those that need a corpus, a model or a
browser). ``NOT_YET`` lists the modules with examples that do not run yet, and why. Every module
with examples is in one list or the other, so a new module's examples are run from the start.

One module by hand: ``.venv/bin/python -m pytest --doctest-modules serwidgets/audio.py``
(pyproject.toml sets the same option flags as here).
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "serwidgets"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

MODULES = [
    "serwidgets",
    "serwidgets.audio",
    "serwidgets.augment",
    "serwidgets.baseline",
    "serwidgets.bundle",
    "serwidgets.cache",
    "serwidgets.card",
    "serwidgets.cli.predict",
    "serwidgets.corpora",
    "serwidgets.corpora.ased",
    "serwidgets.corpora.cremad",
    "serwidgets.corpora.emodb",
    "serwidgets.corpora.emovo",
    "serwidgets.corpora.folder",
    "serwidgets.corpora.iemocap",
    "serwidgets.corpora.korean_emotiontts",
    "serwidgets.corpora.nemo",
    "serwidgets.corpora.ravdess",
    "serwidgets.corpora.savee",
    "serwidgets.corpora.tess",
    "serwidgets.corpora.urdu",
    "serwidgets.deprecation",
    "serwidgets.embedding_classifier",
    "serwidgets.embeddings",
    "serwidgets.encoders",
    "serwidgets.encoders.whisper",
    "serwidgets.evaluate",
    "serwidgets.export",
    "serwidgets.features",
    "serwidgets.fingerprint",
    "serwidgets.functionals",
    "serwidgets.heads",
    "serwidgets.inputs",
    "serwidgets.labels",
    "serwidgets.nets",
    "serwidgets.plots",
    "serwidgets.predictor",
    "serwidgets.results",
    "serwidgets.shipped",
    "serwidgets.splits",
    "serwidgets.train",
    "serwidgets.vad",
    "serwidgets.widgets",
    "serwidgets.widgets.calibrator",
    "serwidgets.widgets.dashboard",
    "serwidgets.widgets.limits",
    "serwidgets.widgets.panel",
    "serwidgets.widgets.recorder",
    "serwidgets.widgets.uploader",
    "serwidgets.widgets.webrtc",
]

#: Modules with examples that do not run yet: module -> what is wrong.
NOT_YET: dict[str, str] = {}


def run_examples(module) -> tuple[int, int, str]:
    """``(failed, attempted, report)`` for the docstring examples of ``module`` (not of names it imports)."""
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module, module.__name__):
        runner.run(test, out=report.append)
    return runner.failures, runner.tries, "".join(report)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    failed, attempted, report = run_examples(importlib.import_module(name))
    assert attempted > 0, f"{name}: no example ran (all skipped?): move it to NOT_YET or drop it"
    assert failed == 0, f"{name}: {failed} of {attempted} examples failed\n{report}"


def modules_with_examples() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if re.search(r"^\s*>>> ", path.read_text(), re.MULTILINE):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_every_module_with_examples_is_listed():
    assert not set(MODULES) & set(NOT_YET), "a module is in both MODULES and NOT_YET"
    unlisted = modules_with_examples() - set(MODULES) - set(NOT_YET)
    assert not unlisted, f"modules with docstring examples in neither MODULES nor NOT_YET: {sorted(unlisted)}"
    gone = (set(MODULES) | set(NOT_YET)) - modules_with_examples()
    assert not gone, f"listed modules without examples (or gone): {sorted(gone)}"
