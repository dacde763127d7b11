"""Each student's Jupyter server under JupyterHub: the settings ``ser dashboard`` has, read from config/voila.json.

Found through ``JUPYTER_CONFIG_PATH`` (deploy/jupyterhub_config.py puts this folder first, then
config/; the container image does the same). Voilà's server extension reads config/voila.json
itself (its ``VoilaConfiguration``: hidden sources, no tracebacks on the page); a Jupyter server
does not, so the two settings below are taken from it here, one place for each fact:

* ``websocket_max_message_size``: uploads travel over the kernel websocket, and a message over
  the limit is dropped without a word (config/README.md);
* ``MappingKernelManager`` culling: the kernel of a closed page is shut down within a minute,
  so a student's server goes idle and JupyterHub's idle culler can stop it.

The standalone server's own settings (port, kernel cap, pool, Host check) do not apply here:
the hub authenticates, routes and starts one server per student.
"""

import json

from serwidgets import shipped

c = get_config()  # noqa: F821 (Jupyter's config loader provides it)

VOILA = json.loads(shipped.path("config", "voila.json").read_text())

c.ServerApp.tornado_settings = {
    "websocket_max_message_size": VOILA["Voila"]["tornado_settings"]["websocket_max_message_size"],
}
for name, value in VOILA["MappingKernelManager"].items():
    setattr(c.MappingKernelManager, name, value)

# A student's server serves the dashboard page only: no JupyterLab, Notebook, terminals or
# language servers. Each of them costs every student's server memory (benchmarks/bench_hub.py
# prints the figure); a course that wants students in JupyterLab turns them back on here.
c.ServerApp.jpserver_extensions = {
    "jupyterlab": False, "notebook": False, "notebook_shim": False,
    "jupyter_lsp": False, "jupyter_server_terminals": False,
}
c.ServerApp.terminals_enabled = False
