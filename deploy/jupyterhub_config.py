"""JupyterHub on one machine for a class: each student's page is the serwidgets dashboard in Voilà.

Run it from the directory that should hold the hub's state (its database, cookie secret and
the students' home folders), as an ordinary user, never root (see "Who runs what" below)::

    scripts/setup-env --hub                      # once: Python packages + the pinned proxy
    export SER_HUB_PASSWORD='the class password' # 8 characters or more
    .venv/bin/jupyterhub -f deploy/jupyterhub_config.py

A student opens the hub's address, logs in with any name and the class password, and lands on
``/user/<name>/voila/render/notebooks/dashboard.ipynb``: the dashboard in Voilà, run by their own Jupyter
server and kernel. Any setting here can be overridden on the command line, e.g.
``--JupyterHub.bind_url=http://0.0.0.0:8000``, or by a config file that loads this one
(``load_subconfig("deploy/jupyterhub_config.py")``; tests/browser/test_jupyterhub.py does that).

Microphones: browsers record only on a secure page, https or localhost. A hub reached over the
network needs TLS: ``--JupyterHub.ssl_cert=... --JupyterHub.ssl_key=...``, or a TLS proxy
(nginx, Caddy) in front of ``bind_url``.

Who runs what: ``SimpleLocalProcessSpawner`` starts every student's server as the user who
started the hub, with ``$HOME`` in ``homes/<name>``. Students are not isolated from one another
(a kernel runs whatever code is sent to it; all kernels are one Unix user), which is the price
of needing no Unix account per student. Never run it as root: the students' Jupyter servers
refuse to start as root, and should. For isolation give each student a Unix account
(``c.JupyterHub.spawner_class = "localprocess"`` with ``c.JupyterHub.authenticator_class =
"pam"``, hub run as root) or a container (Zero to JupyterHub: ``deploy/z2jh-values.yaml``).
``deploy/README.md`` says which to pick for how many students.
"""

import os
import sys
from pathlib import Path

from serwidgets import shipped

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

DEPLOY = Path(__file__).resolve().parent
#: This Python's environment: the students' servers and the idle culler run from it too.
BIN = Path(sys.executable).parent
#: Where ``scripts/setup-env --hub`` installs configurable-http-proxy (pinned in deploy/package-lock.json).
PROXY = Path(sys.prefix) / "jupyterhub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
#: A student's server without activity for this long (as the hub sees it: traffic through the
#: proxy, kernel messages) is stopped by the idle culler (seconds). An open page's websocket
#: counts, so an open page keeps its server: the hub reads the proxy's activity every
#: ``JupyterHub.last_activity_interval`` (300 s by default), well within this.
IDLE_SERVER_SECONDS = 600

# --- the hub ---------------------------------------------------------------------------------
# 127.0.0.1 until the teacher says otherwise (a network address wants TLS, see above).
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
if PROXY.exists():
    c.ConfigurableHTTPProxy.command = [str(PROXY)]

# --- who may log in: one class password, any name --------------------------------------------
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ.get("SER_HUB_PASSWORD")  # unset: nobody can log in
c.Authenticator.allow_all = True

# --- each student's server: Voilà's server extension, the dashboard as the landing page -----
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(Path.cwd() / "homes" / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
# The folder holding the shipped notebooks/dashboard.ipynb (the checkout, or the installed
# package's copy): read by Voilà, the same for every student. The same URL as in the image.
c.Spawner.notebook_dir = str(shipped.path("notebooks").parent)
c.Spawner.default_url = "/voila/render/notebooks/dashboard.ipynb"
c.Spawner.environment = {
    # deploy/singleuser/jupyter_server_config.py, then config/ (its voila.json: Voilà's page
    # settings, the websocket message limit and kernel culling, as `ser dashboard` has them).
    "JUPYTER_CONFIG_PATH": os.pathsep.join([str(DEPLOY / "singleuser"), str(shipped.path("config"))]),
    # One runtime thread per kernel: many kernels share the machine's cores.
    "SER_NUM_THREADS": "1",
}
# The model, corpora and cache the teacher chose reach the students' kernels.
c.Spawner.env_keep.extend(["SER_MODEL", "SER_DATA", "SER_CACHE"])  # added to the defaults
# A class logging in at once starts many servers together on few cores: give them time.
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180

# --- idle culling: the hub's own culler, as a hub service ------------------------------------
# Inside each server, kernels of closed pages are culled (config/voila.json's
# MappingKernelManager settings); the culler then stops servers idle for IDLE_SERVER_SECONDS.
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={IDLE_SERVER_SECONDS}", "--cull-every=60"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
