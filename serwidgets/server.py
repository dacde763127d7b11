"""The dashboard's web server: Voilà with a kernel cap, a Host check and no CDN at page load.

``ser dashboard`` runs ``python -m serwidgets.server notebooks/dashboard.ipynb``: Voilà 0.5
(:class:`DashboardVoila`, every ``Voila``/``VoilaConfiguration`` option and ``config/voila.json``
still apply) plus

* **a cap on kernels in use** (``DashboardVoila.max_kernels``): a page request beyond it gets a
  small self-contained "busy, try again in a minute" page (HTTP 503, ``Retry-After``) instead of
  a kernel. In use = a page is connected to it or still loading. Preheated kernels waiting in
  the pool do not count, nor do kernels of closed pages: the idle culler
  (``MappingKernelManager.cull_*`` in the config) shuts those down within a minute, and at the
  cap they are shut down at once to make room for the new visitor.
* **a Host-header check** on every handler (``DashboardVoila.allowed_hosts``, default
  ``localhost``, ``127.0.0.1`` and ``::1``): any other ``Host`` gets 403. Standalone Voilà sets
  ``allow_remote_access=True`` itself, so jupyter_server's own check is off there; and Voilà's
  static-file handlers are not Jupyter handlers at all. This check covers both.
* **no request to a CDN**: Voilà's ``lab`` template links Font Awesome from jsdelivr on every
  page. The dashboard draws no icon font (its buttons are our own widgets), so
  ``static/index.html.j2`` extends the template without those links.
* ``GET /serwidgets/status``: counts only (kernels in use, pooled and warm, the cap), never kernel ids
  (a kernel id is enough to connect to that kernel).

Examples
--------
    python -m serwidgets.server notebooks/dashboard.ipynb --port=8866 --no-browser
    python -m serwidgets.server notebooks/dashboard.ipynb --DashboardVoila.max_kernels=4
"""

from __future__ import annotations

import asyncio
import html
import inspect
import ipaddress
import json
import os
import re
import time
from pathlib import Path

import tornado.web
from tornado.log import app_log
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Int, List, Unicode
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

#: Holds ``index.html.j2``: Voilà's ``lab`` page without the Font Awesome CDN links.
TEMPLATE_DIR = Path(__file__).parent / "widgets" / "static"

BUSY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry}">
<link rel="icon" href="data:,">
<title>Busy: try again in a minute</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 36em; margin: 12vh auto; padding: 0 1em;
         color: #333; line-height: 1.5; }}
  h1 {{ font-size: 1.5em; }}
</style></head>
<body class="ser-busy">
<h1>The dashboard is busy: try again in a minute</h1>
<p>{in_use} people are using it now, the most this server takes at once.
This page tries again by itself in {retry} seconds.</p>
</body></html>
"""


class DashboardKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager base, telling kernels in use from pooled ones and closed pages' ones.

    Voilà wraps it into its preheating ``VoilaKernelManager`` (config section
    ``VoilaKernelManager``; the culling options stay under ``MappingKernelManager``).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool_starting = 0  # kernels starting for the pool (not yet in the pool's list)
        self.page_starting = 0  # kernels starting for a page (not yet in the kernel list)
        self._connected_once: set[str] = set()
        self._unclaimed_since: dict[str, float] = {}
        self._closing: set[str] = set()  # being shut down (that can take seconds under load)

    def notify_connect(self, kernel_id):
        self._connected_once.add(kernel_id)
        super().notify_connect(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id):
        # A preheated kernel's last activity is when its notebook ran, maybe minutes before a
        # page took it: without this grace the culler could shut it down in the second between
        # the page's HTML and its websocket. A kernel whose page never connects still goes,
        # one idle timeout after the culler first saw it out of the pool.
        if kernel_id not in self._connected_once:
            since = self._unclaimed_since.setdefault(kernel_id, time.monotonic())
            if time.monotonic() - since < self.cull_idle_timeout:
                return None
        return await super().cull_kernel_if_idle(kernel_id)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        self._closing.add(kernel_id)
        try:
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            self._closing.discard(kernel_id)
            self._connected_once.discard(kernel_id)
            self._unclaimed_since.pop(kernel_id, None)

    async def start_kernel(self, *args, **kwargs):
        pooled = (kwargs.get("env") or {}).get("VOILA_PREHEAT") == "True"
        attribute = "pool_starting" if pooled else "page_starting"
        setattr(self, attribute, getattr(self, attribute) + 1)
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            setattr(self, attribute, getattr(self, attribute) - 1)

    def pooled_ids(self) -> set[str]:
        """Kernels waiting in Voilà's preheated pool (started, notebook run, no page yet)."""
        ids = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    ids.add(task.result().get("kernel_id"))
        return ids

    def warm_count(self) -> int:
        """Pooled kernels whose notebook has finished running (a page that takes one is shown at once).

        Voilà puts a kernel in its pool as soon as it has started; the notebook then runs in it.
        """
        warm = 0
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    render = task.result().get("task")
                    warm += render is not None and render.done()
        return warm

    def _split(self) -> tuple[int, list[str]]:
        """(kernels serving or loading a page, kernels of closed pages not culled yet)."""
        pooled = self.pooled_ids()
        in_use, closed = self.page_starting, []
        for kernel_id in set(self._kernels) - pooled - self._closing:
            if self._kernel_connections.get(kernel_id, 0) > 0 or kernel_id not in self._connected_once:
                in_use += 1  # a page is connected, or its page is still loading
            else:
                closed.append(kernel_id)  # its page was connected and has gone
        return in_use, closed

    def in_use(self) -> int:
        """Kernels serving a page or a page that is loading (not those of closed pages)."""
        return self._split()[0]

    def make_room(self, cap: int) -> list[str]:
        """Shut down kernels of closed pages (oldest activity first) so that one more fits under ``cap``.

        They would be culled within a minute anyway; when the server is full, a new visitor
        should not wait for that. Returns the kernels being shut down.
        """
        in_use, closed = self._split()
        excess = in_use + len(closed) + 1 - cap  # kernels already closing do not count
        if excess <= 0:
            return []
        def last_activity(kernel_id):
            when = getattr(self._kernels[kernel_id], "last_activity", None)
            return when.timestamp() if when is not None else 0.0

        closed.sort(key=last_activity)
        chosen = closed[:excess]
        for kernel_id in chosen:
            self.log.info("Shutting down kernel %s of a closed page to make room", kernel_id)
            self._closing.add(kernel_id)  # at once: the next request must not choose it again
            asyncio.ensure_future(self.shutdown_kernel(kernel_id))
        return chosen

    def counts(self) -> dict:
        in_use, closed = self._split()
        return {"kernels": len(self.list_kernel_ids()), "in_use": in_use, "closed_pages": len(closed),
                "closing": len(self._closing),
                "pooled": len(self.pooled_ids()), "warm": self.warm_count(),
                "starting": self.pool_starting + self.page_starting}


def _host_allowed(host_header: str, allowed: list[str]) -> bool:
    if "*" in allowed:
        return True
    match = re.match(r"^(.*?)(:\d+)?$", host_header or "")
    host = match.group(1).lower() if match else ""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host in allowed:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback and any(
            _is_loopback(name) for name in allowed)
    except ValueError:
        return False


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return name == "localhost"


class _HostCheck:
    """Refuse (403, plain text) a request whose Host header is not an allowed host."""

    async def prepare(self):
        allowed = self.settings.get("serwidgets_allowed_hosts", ["localhost", "127.0.0.1", "::1"])
        if not _host_allowed(self.request.host, allowed):
            app_log.warning("Refused a request for Host %r (allowed: %s)", self.request.host, allowed)
            self.clear()
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"403: this server answers only to {', '.join(allowed)} (got Host: {self.request.host}).\n")
            return
        result = super().prepare()
        if inspect.isawaitable(result):
            await result


class _CappedVoilaHandler(_HostCheck, TornadoVoilaHandler):
    """The notebook page: a busy page instead of a kernel when ``max_kernels`` are in use."""

    async def get(self, path=None):
        if path:  # not the dashboard page (Voilà redirects other paths to /voila/files/): no kernel
            return await super().get(path)
        manager = self.kernel_manager
        cap = self.settings.get("serwidgets_max_kernels", 0)
        in_use = manager.in_use() if isinstance(manager, DashboardKernelManager) else 0
        if cap and in_use >= cap:
            retry = self.settings.get("serwidgets_retry_seconds", 60)
            app_log.warning("Busy page: %d kernels in use (cap %d)", in_use, cap)
            self.set_status(503)
            self.set_header("Retry-After", str(retry))
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(BUSY_PAGE.format(in_use=html.escape(str(in_use)), retry=int(retry)))
            return
        if cap and isinstance(manager, DashboardKernelManager):
            manager.make_room(cap)
        await super().get(path)


class _StatusHandler(_HostCheck, tornado.web.RequestHandler):
    def get(self):
        manager = self.settings["kernel_manager"]
        counts = manager.counts() if isinstance(manager, DashboardKernelManager) else {}
        counts["max_kernels"] = self.settings.get("serwidgets_max_kernels", 0)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(counts))


class DashboardVoila(Voila):
    """Voilà with a kernel cap, a Host check and a template without CDN links (see the module)."""

    max_kernels = Int(40, config=True, help="kernels in use at most; more page requests get a busy page (0: no cap)")
    retry_seconds = Int(60, config=True, help="the busy page's Retry-After and automatic reload (seconds)")
    allowed_hosts = List(Unicode(), ["localhost", "127.0.0.1", "::1"], config=True,
                         help="Host header values (without port) this server answers; '*' for any")

    def initialize(self, argv=None):
        super().initialize(argv)
        # Kernels inherit the environment: one runtime thread each, as many kernels share the cores.
        os.environ.setdefault("SER_NUM_THREADS", "1")
        configuration = self.voila_configuration
        if configuration.multi_kernel_manager_class is AsyncMappingKernelManager:
            configuration.multi_kernel_manager_class = DashboardKernelManager

    def setup_template_dirs(self):
        super().setup_template_dirs()
        # First in the search path: our index.html.j2 extends voila/templates/lab/index.html.j2.
        if self.voila_configuration.template == "lab":
            self.template_paths.insert(0, str(TEMPLATE_DIR))

    def init_settings(self):
        settings = super().init_settings()
        settings["serwidgets_max_kernels"] = self.max_kernels
        settings["serwidgets_retry_seconds"] = self.retry_seconds
        settings["serwidgets_allowed_hosts"] = [host.lower() for host in self.allowed_hosts]
        return settings

    def init_handlers(self):
        handlers = []
        for pattern, handler, *rest in super().init_handlers():
            if handler is TornadoVoilaHandler:
                wrapped = _CappedVoilaHandler
            else:
                wrapped = type(handler.__name__, (_HostCheck, handler), {})
            handlers.append((pattern, wrapped, *rest))
        status = (self.server_url or "/").rstrip("/") + "/serwidgets/status"
        return [(status, _StatusHandler), *handlers]


def main(argv=None) -> None:
    DashboardVoila.launch_instance(argv)


if __name__ == "__main__":
    main()
