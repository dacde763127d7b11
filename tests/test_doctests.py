"""The docstring examples run, print what they say they print, and exercise their module.

``MODULES`` lists the modules whose examples run; each must run at least one example that uses
what the module defines (a function or class of its own, or a name of its ``__all__``): an
import alone, or examples that only touch other modules, do not count. An example marked
``# doctest: +SKIP`` is not run (those that need a long computation, a corpus we do not have or a
browser); examples read the shared corpora from ``$SER_DATA``.
``NOT_YET`` lists the modules with examples that do not run yet, and why. Every module with
examples is in one list or the other, so a new module's examples are run from the start.

One module by hand: ``SER_DATA=../shared/data .venv/bin/python -m pytest --doctest-modules
serwidgets/audio.py`` (pyproject.toml sets the same option flags as here).
"""

from __future__ import annotations

import ast
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
    "serwidgets.calibration",
    "serwidgets.card",
    "serwidgets.classifier",
    "serwidgets.confidence",
    "serwidgets.confident_classifier",
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
    "serwidgets.model",
    "serwidgets.nets",
    "serwidgets.new_tasks",
    "serwidgets.personal",
    "serwidgets.plots",
    "serwidgets.reliability",
    "serwidgets.results",
    "serwidgets.shipped",
    "serwidgets.splits",
    "serwidgets.train",
    "serwidgets.vad",
    "serwidgets.widgets",
    "serwidgets.widgets.calibrator",
    "serwidgets.widgets.corrector",
    "serwidgets.widgets.dashboard",
    "serwidgets.widgets.limits",
    "serwidgets.widgets.panel",
    "serwidgets.widgets.recorder",
    "serwidgets.widgets.scorecard",
    "serwidgets.widgets.teacher",
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


def subject(module) -> set[str]:
    """What ``module`` is about: the names of its ``__all__`` and the functions and classes it defines."""
    defined = {name for name, obj in vars(module).items()
               if callable(obj) and getattr(obj, "__module__", None) == module.__name__}
    return defined | set(getattr(module, "__all__", ()))


def exercised(module) -> set[str]:
    """The names of :func:`subject` that the module's examples which run (not skipped) use."""
    names = subject(module)
    used = set()
    for test in doctest.DocTestFinder().find(module, module.__name__):
        for example in test.examples:
            if example.options.get(doctest.SKIP):
                continue
            try:
                tree = ast.parse(example.source)
            except SyntaxError:
                continue
            used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    return used & names


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch, shared_data):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    monkeypatch.setenv("SER_DATA", str(shared_data))  # the corpora's examples read the shared copies
    module = importlib.import_module(name)
    failed, attempted, report = run_examples(module)
    assert failed == 0, f"{name}: {failed} of {attempted} examples failed\n{report}"
    assert exercised(module), (f"{name}: no example that runs uses anything the module defines "
                               f"({sorted(subject(module))[:8]} ...): add one, or move it to NOT_YET")


def test_an_import_alone_does_not_exercise_a_module(tmp_path, monkeypatch):
    """The check above, on a module made up for it: an import and an other module's call do not count."""
    import sys

    (tmp_path / "toy_doctested.py").write_text(
        '"""Toy.\n\n>>> import math\n>>> math.floor(2.5)\n2\n>>> double(2)    # doctest: +SKIP\n4\n"""\n\n'
        "def double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("toy_doctested")
    assert run_examples(module)[:2] == (0, 2) and subject(module) == {"double"} and exercised(module) == set()
    (tmp_path / "toy_doctested.py").write_text('"""Toy.\n\n>>> double(2)\n4\n"""\n\ndef double(x):\n    return 2 * x\n')
    del sys.modules["toy_doctested"]
    assert exercised(importlib.import_module("toy_doctested")) == {"double"}


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
