"""``ser dashboard``: serve notebooks/dashboard.ipynb with Voilà and the repository's config.

Both files are found with :mod:`serwidgets.shipped`: the repository's ``notebooks/`` and
``config/`` in a checkout, their packaged copies in an installed wheel.
The Voilà settings live in ``config/voila.json`` (found through ``JUPYTER_CONFIG_PATH``):
binding to 127.0.0.1:8866, hidden sources, and a websocket message limit above the
upload limit. That limit must be set in a config file: on the command line it arrives as a
string, which breaks the websocket handler; and with the default 10 MiB larger uploads
vanish without an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from serwidgets import shipped

NOTEBOOK = shipped.path("notebooks", "dashboard.ipynb")
CONFIG_DIR = shipped.path("config")


def voila_command(notebook: Path = NOTEBOOK, port: int | None = None, open_browser: bool = True) -> list[str]:
    """The Voilà command line ``ser dashboard`` runs (settings come from ``voila_env``).

    ``serwidgets.server`` is Voilà plus a kernel cap, a Host check and no CDN links.
    """
    command = [sys.executable, "-m", "serwidgets.server", str(notebook)]
    if port is not None:
        command.append(f"--port={port}")
    if not open_browser:
        command.append("--no-browser")
    return command


def voila_env(base: dict | None = None) -> dict:
    """``base`` (default: this process's environment) with the shipped config dir first."""
    env = dict(os.environ if base is None else base)
    paths = [str(CONFIG_DIR)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return env


def run(args) -> int:
    notebook = Path(args.notebook)
    if not notebook.is_file():
        print(f"ser dashboard: notebook not found: {notebook}", file=sys.stderr)
        return 2
    command = voila_command(notebook, args.port, open_browser=not args.no_browser)
    # From the checkout's root in a source tree; else from the notebook's folder.
    return subprocess.call(command, env=voila_env(), cwd=shipped.checkout() or notebook.resolve().parent)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="serve the record-and-predict dashboard (Voilà, http://127.0.0.1:8866)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--port", type=int, default=None, help="port (default: 8866, from config/voila.json)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--notebook", default=str(NOTEBOOK), help="notebook to serve (default: %(default)s)")
    parser.set_defaults(func=run)
