"""The README's architecture section is the import graph: checked here, not just drawn.

The section's first code block lists the package in layers, top (people) to bottom (no
serwidgets imports). A module may import only modules on its own line or on lines below; every
module is listed; there is no import cycle. An import counts wherever it is written: at module
level, inside a function (a lazy import), inside a module ``__getattr__``, or as a string that
names a serwidgets module (``importlib.import_module("serwidgets.model")``, or a table of such
names as ``serwidgets/__init__.py`` keeps for its lazy attributes). The checker is tested too, on
a package made up for the purpose with a planted cycle and an upward import.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "serwidgets"


def _module(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, package: Path) -> str:
    """``a.b.c`` -> the longest prefix that is a module or package of ``package``."""
    parts = name.split(".")
    while parts:
        path = package.joinpath(*parts)
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return ""  # the package root


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports anywhere in its code (docstrings excluded)."""
    top = package.name
    graph = {}
    for path in sorted(package.rglob("*.py")):
        module = _module(path, package)
        parent = module if path.name == "__init__.py" else module.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = parent.split(".") if parent else []
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif node.module == top or (node.module or "").startswith(top + "."):
                    target = node.module.removeprefix(top).lstrip(".")
                else:
                    continue
                imported.update(_resolve(f"{target}.{alias.name}".lstrip("."), package) for alias in node.names)
            elif isinstance(node, ast.Import):
                imported.update(_resolve(alias.name.removeprefix(top).lstrip("."), package)
                                for alias in node.names if alias.name.split(".")[0] == top)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value.startswith(top + ".") and node.value.count(" ") == 0:
                # A module named in a string: importlib.import_module("serwidgets.x"), lazy tables.
                imported.add(_resolve(node.value.removeprefix(top + ".").split(":")[0], package))
        imported.discard(module)
        imported.discard("")
        graph[module] = imported
    return graph


def readme_layers(text: str | None = None) -> list[list[str]]:
    """The module names of each line of the README's architecture block, top line first."""
    text = (ROOT / "README.md").read_text(encoding="utf-8") if text is None else text
    section = text.split("\n## Architecture\n", 1)[1]
    block = section.split("```", 2)[1].split("\n", 1)[1]
    layers = []
    for line in block.splitlines():
        names = line.split("←", 1)[0].split()
        if names:
            layers.append([name.rstrip("/") for name in names])
    return layers


def layer_of(layers, graph) -> dict[str, int]:
    """Module -> its line (0 = bottom); ``corpora/`` stands for the package and its modules."""
    where = {}
    for depth, names in enumerate(reversed(layers)):
        for name in names:
            if name not in graph:
                raise AssertionError(f"README architecture lists {name!r}, which is not a module")
            for module in graph:
                if module == name or module.startswith(name + "."):
                    where.setdefault(module, depth)
    return where


def unlisted(layers, graph) -> list[str]:
    return sorted(set(graph) - set(layer_of(layers, graph)) - {""})


def upward(layers, graph) -> list[str]:
    where = layer_of(layers, graph)
    return [f"{module} (line {where[module]}) imports {target} (line {where[target]})"
            for module, targets in graph.items() if module in where
            for target in sorted(targets) if where.get(target, -1) > where[module]]


def cycles(graph) -> list[str]:
    # A package's __init__ importing its own modules is not a cycle of the design.
    edges = {m: {t for t in ts if not (m == "" or t.startswith(m + "."))} for m, ts in graph.items()}
    state, found = {}, []

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                found.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    return found


def test_every_module_is_in_the_readme_architecture():
    missing = unlisted(readme_layers(), import_graph())
    assert not missing, f"modules missing from README's architecture block: {missing}"


def test_imports_only_go_down_the_readme_layers():
    found = upward(readme_layers(), import_graph())
    assert not found, "imports that go up the README's layers:\n" + "\n".join(found)


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(found)


def test_core_never_imports_widgets_or_cli():
    offenders = [f"{m} imports {t}" for m, ts in import_graph().items()
                 if not m.startswith(("widgets", "cli")) and m != "" for t in ts if t.startswith(("widgets", "cli"))]
    assert not offenders, offenders


def test_the_package_root_imports_what_its_lazy_table_names():
    """``serwidgets/__init__.py`` imports nothing at module level; its lazy table is seen."""
    assert {"model", "widgets"} <= import_graph()[""]


# -- the checker, on a package made up for it -------------------------------------------------------

PLANTED = {
    "__init__.py": '_LAZY = {"Thing": ("toy.top", "Thing")}\n',
    "top.py": "from . import middle\n",
    "middle.py": "def later():\n    from toy import bottom\n",
    "bottom.py": 'import importlib\n\ndef load():\n    return importlib.import_module("toy.middle")\n',
    "leaf.py": "def __getattr__(name):\n    from .top import Thing\n    return Thing\n",
    "other.py": '"""Mentions toy.top in prose: not an import."""\nNOTE = "see toy.top for more"\n',
}


@pytest.fixture
def toy(tmp_path):
    package = tmp_path / "toy"
    package.mkdir()
    for name, code in PLANTED.items():
        (package / name).write_text(code)
    return package


def test_the_checker_sees_lazy_string_and_getattr_imports(toy):
    graph = import_graph(toy)
    assert graph == {"": {"top"}, "top": {"middle"}, "middle": {"bottom"}, "bottom": {"middle"},
                     "leaf": {"top"}, "other": set()}


def test_the_checker_finds_a_planted_cycle(toy):
    assert cycles(import_graph(toy)) == ["bottom -> middle -> bottom"]
    (toy / "bottom.py").write_text("def load():\n    pass\n")
    assert cycles(import_graph(toy)) == []


def test_the_checker_finds_an_upward_import_and_an_unlisted_module(toy):
    (toy / "bottom.py").write_text("X = 1\n")
    graph = import_graph(toy)
    right = [["leaf"], ["top"], ["middle", "other"], ["bottom"]]
    assert upward(right, graph) == [] and unlisted(right, graph) == []
    wrong = [["top"], ["leaf", "middle", "other"], ["bottom"]]
    assert upward(wrong, graph) == ["leaf (line 1) imports top (line 2)"]
    assert unlisted([["top"], ["middle"], ["bottom"]], graph) == ["leaf", "other"]
    with pytest.raises(AssertionError, match="'gone', which is not a module"):
        layer_of([["gone"]], graph)


def test_readme_layers_reads_the_block():
    text = "# x\n\n## Architecture\n\ntext\n\n```\ncli/  server   ← people\naudio          ← bottom\n```\n"
    assert readme_layers(text) == [["cli", "server"], ["audio"]]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
