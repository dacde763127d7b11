"""The README's architecture section is the import graph: checked here, not just drawn.

The section's first code block lists the package in layers, top (people) to bottom (no
serwidgets imports). A module may import (at module level or inside a function) only modules
on its own line or on lines below; every module is listed; there is no import cycle. A
module-level ``__getattr__`` is where a moved name stays importable for a release (with a
DeprecationWarning); its imports point at the new home and are not part of the design.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "serwidgets"


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str) -> str:
    """``a.b.c`` -> the longest prefix that is a module or package of serwidgets."""
    parts = name.split(".")
    while parts:
        path = PACKAGE.joinpath(*parts)
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return ""  # the package root (serwidgets/__init__.py: version, lazy re-exports)


def import_graph() -> dict[str, set[str]]:
    """Module -> the serwidgets modules it imports anywhere in its code (docstrings excluded)."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        imported = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        shims = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"]
        for shim in shims:
            tree.body.remove(shim)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").startswith("serwidgets"):
                    target = node.module.removeprefix("serwidgets").lstrip(".")
                else:
                    continue
                for alias in node.names:
                    imported.add(_resolve(f"{target}.{alias.name}".lstrip(".")))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("serwidgets"):
                        imported.add(_resolve(alias.name.removeprefix("serwidgets").lstrip(".")))
        imported.discard(module)
        imported.discard("")
        graph[module] = imported
    return graph


def readme_layers() -> list[list[str]]:
    """The module names of each line of the README's architecture block, top line first."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Architecture\n", 1)[1]
    block = section.split("```", 2)[1].split("\n", 1)[1]
    layers = []
    for line in block.splitlines():
        names = line.split("←", 1)[0].split()
        if names:
            layers.append([name.rstrip("/") for name in names])
    return layers


def _layer_of(layers) -> dict[str, int]:
    """Module -> its line (0 = bottom); ``corpora/`` stands for the package and its modules."""
    graph = import_graph()
    where = {}
    for depth, names in enumerate(reversed(layers)):
        for name in names:
            if name not in graph:
                raise AssertionError(f"README architecture lists {name!r}, which is not a module")
            for module in graph:
                if module == name or module.startswith(name + "."):
                    where.setdefault(module, depth)
    return where


def test_every_module_is_in_the_readme_architecture():
    where = _layer_of(readme_layers())
    missing = sorted(set(import_graph()) - set(where) - {""})
    assert not missing, f"modules missing from README's architecture block: {missing}"


def test_imports_only_go_down_the_readme_layers():
    where, graph = _layer_of(readme_layers()), import_graph()
    upward = [f"{module} (line {where[module]}) imports {target} (line {where[target]})"
              for module, targets in graph.items() if module in where
              for target in sorted(targets) if where.get(target, -1) > where[module]]
    assert not upward, "imports that go up the README's layers:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = import_graph()
    # A package's __init__ re-exporting its own modules is not a cycle of the design.
    edges = {m: {t for t in ts if not m == t.rpartition(".")[0] and not (m and t.startswith(m + "."))}
             for m, ts in graph.items()}
    state, cycles = {}, []

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_core_never_imports_widgets_or_cli():
    offenders = [f"{m} imports {t}" for m, ts in import_graph().items()
                 if not m.startswith(("widgets", "cli")) for t in ts if t.startswith(("widgets", "cli"))]
    assert not offenders, offenders


@pytest.mark.parametrize("layers, message", [
    ([["predictor"], ["audio"]], None),
    ([["audio"], ["predictor"]], "go up"),
])
def test_the_layer_check_can_fail(monkeypatch, layers, message):
    """The checker itself: the same graph against a right and a wrong order of two modules."""
    graph = {"predictor": {"audio"}, "audio": set()}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    monkeypatch.setattr(sys.modules[__name__], "readme_layers", lambda: layers)
    if message is None:
        test_imports_only_go_down_the_readme_layers()
    else:
        with pytest.raises(AssertionError, match=message):
            test_imports_only_go_down_the_readme_layers()
