"""Build hook: ship the default model bundles, the dashboard notebook and the Voilà config.

Everything else is configured in pyproject.toml. These files stay where people read and edit
them (the repository's top-level ``models/``, ``notebooks/``, ``config/``); a wheel gets copies
under ``serwidgets/_shipped/`` with the same relative paths, which ``serwidgets.shipped`` finds
(an editable install and a plain checkout use the repository's own files). Every file under
``models/`` is shipped, whatever bundles it holds. MANIFEST.in puts the same files in the sdist.
"""

import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# Not resolve(): a tree of symbolic links (tests/test_wheel.py) builds from where it is.
ROOT = Path(os.path.abspath(__file__)).parent
#: Repository paths copied into the wheel: folders whole, files alone.
SHIPPED = ("models", "notebooks/dashboard.ipynb", "config/voila.json")
PACKAGED = Path("serwidgets") / "_shipped"


def shipped_files():
    """Repository-relative paths of the shipped files (hidden files and caches skipped)."""
    for entry in SHIPPED:
        source = ROOT / entry
        if not source.exists():
            raise FileNotFoundError(f"setup.py: {entry} is shipped in the wheel but missing")
        for file in [source] if source.is_file() else sorted(source.rglob("*")):
            relative = file.relative_to(ROOT)
            if file.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in relative.parts):
                yield relative


class BuildPyWithShippedFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the repository's files in place
        for relative in shipped_files():
            target = Path(self.build_lib) / PACKAGED / relative
            self.mkpath(str(target.parent))
            self.copy_file(str(ROOT / relative), str(target))


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
