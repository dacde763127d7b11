"""pyproject.toml and environment.yml list the same dependencies, this environment meets them, and the
set-up is wired up (CI runs README's test command; the ``ser`` script and its subcommands resolve)."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import serwidgets
from serwidgets import cli

REPO = Path(__file__).resolve().parents[1]


def _normalise(req: str) -> tuple[str, str]:
    requirement = Requirement(req)
    return canonicalize_name(requirement.name), str(requirement.specifier)


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


def test_this_environment_meets_every_declared_requirement():
    """The tests run against what pyproject.toml declares: each requirement is installed, in range."""
    unmet = {}
    for name, bound in _pyproject_requirements().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            unmet[name] = f"{bound}: not installed"
            continue
        if not SpecifierSet(bound).contains(installed, prereleases=True):
            unmet[name] = f"{bound}: {installed} installed"
    assert not unmet, f"installed versions outside pyproject.toml's ranges: {unmet}"


def test_the_all_extra_is_every_other_extra():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (everything,) = extras["all"]
    named = Requirement(everything)
    assert named.name == "serwidgets" and named.extras == set(extras) - {"all"}


def _commands(shell_text: str) -> list[str]:
    """The commands of shell lines, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in shell_text.splitlines())
    return [line for line in lines if line]


def test_ci_runs_the_readme_test_command():
    """``.ci/run`` execs the command README's Quickstart gives, and that command runs pytest."""
    ci = _commands((REPO / ".ci" / "run").read_text())
    assert ci[-1].startswith("exec "), ci[-1]
    command = ci[-1].removeprefix("exec ")
    readme = (REPO / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart"):]
    first_block = re.search(r"```bash\n(.*?)```", quickstart, re.DOTALL).group(1)
    assert command in _commands(first_block), f"README's Quickstart does not give {command!r}"
    dry_run = subprocess.run(command.replace("make ", "make -n ", 1).split(), capture_output=True,
                             text=True, cwd=REPO)
    assert dry_run.returncode == 0, dry_run.stderr
    assert re.search(r"^\.venv/bin/python -m pytest\b", dry_run.stdout, re.MULTILINE), dry_run.stdout


def test_the_console_scripts_are_the_declared_entry_points():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    installed = {ep.name: ep for ep in metadata.distribution("serwidgets").entry_points
                 if ep.group == "console_scripts"}
    assert {name: ep.value for name, ep in installed.items()} == declared
    for name, ep in installed.items():
        assert callable(ep.load()), ep.value
        script = Path(sys.executable).parent / name
        done = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=REPO)
        assert done.returncode == 0 and done.stdout.startswith(f"usage: {name} "), done.stdout + done.stderr


@pytest.mark.parametrize("module", sorted(m.name for m in pkgutil.iter_modules(cli.__path__)
                                          if not m.name.startswith("_")))
def test_every_cli_module_is_a_subcommand(module, capsys):
    """Each module of ``serwidgets.cli`` registers the subcommand of its name (modules are discovered)."""
    with pytest.raises(SystemExit) as done:
        cli.main([module, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: ser {module} ")


def test_the_version_is_defined_once():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "serwidgets.__version__"}
    assert str(Version(serwidgets.__version__)) == serwidgets.__version__  # a PEP 440 version, as written


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
