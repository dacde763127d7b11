"""Where the files serwidgets ships live: default model bundles, dashboard notebook, Voilà config.

People read and edit them in the repository's top-level ``models/``, ``notebooks/`` and
``config/``. A wheel carries copies under ``serwidgets/_shipped/`` with the same relative
paths (``setup.py`` copies them at build time, so the repository holds one copy only).
:func:`path` finds the packaged copy when there is one, and otherwise the checkout's file (a
source tree or an editable install).

Examples
--------
>>> from serwidgets import shipped
>>> (shipped.path("models") / "ser-emotion6" / "card.json").is_file()
True
>>> shipped.path("notebooks", "dashboard.ipynb").name
'dashboard.ipynb'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["PACKAGED", "path", "checkout"]

#: Folder inside the installed package that holds the shipped files.
PACKAGED = "_shipped"


def checkout() -> Path | None:
    """The repository root when serwidgets runs from a source tree, else ``None``."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "serwidgets").is_dir() else None


def path(*parts: str) -> Path:
    """The shipped file or folder ``parts`` (e.g. ``"models"``, ``"config", "voila.json"``).

    The installed package's copy (``serwidgets/_shipped/<parts>``) if it exists, else the
    checkout's ``<repository>/<parts>``. The returned path may not exist when neither does
    (then it names the packaged location, which is what an error message should show).
    """
    packaged = Path(str(resources.files("serwidgets"))).joinpath(PACKAGED, *parts)
    if packaged.exists():
        return packaged
    root = checkout()
    if root is not None and root.joinpath(*parts).exists():
        return root.joinpath(*parts)
    return packaged
