"""A real JupyterHub on 127.0.0.1 with deploy/jupyterhub_config.py: two students, two dashboards.

The hub runs the deploy config through a small test config that loads it and changes only
what a test must: the dummy authenticator (any name, one password), free ports, and
``--allow-root`` for the students' servers when the tests run as root (CI does). Its proxy is
the pinned configurable-http-proxy that ``scripts/setup-env --browser`` installs. Two people log
in through the hub's login page in their own Chromium contexts, land on their own Voilà page of
the dashboard, record from the fake microphone and each get a label. Meanwhile the deploy
config's idle culler, its timeout shortened and kept to named servers, stops a named server
that nobody uses.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO, free_port, wait_for_port
from test_dashboard import TIMEOUT_MS, assert_result, record

pytestmark = pytest.mark.browser

DEPLOY_CONFIG = REPO / "deploy" / "jupyterhub_config.py"
PROXY = Path(sys.prefix) / "jupyterhub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "serwidgets-class"
#: A student's server start, Voilà's run of the notebook and the first page, on a busy 2-core machine.
SPAWN_TIMEOUT_MS = 120_000


def _our_processes(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (the hub, its proxy, services, servers, kernels)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ:
            pids.append(int(entry.name))
    return pids


def _end(pids: list[int], grace: float = 10) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.2)


@contextmanager
def running_hub(root: Path, env: dict, extra_config: str = ""):
    """Start JupyterHub in ``root`` with the deploy config; yield (url, admin token, log path).

    Everything it starts inherits ``JUPYTERHUB_API_URL`` with the hub's own port (servers,
    kernels, services) or the marker variable (the proxy): at the end the hub is stopped,
    then anything of it still alive is ended.
    """
    if not PROXY.exists():
        pytest.fail(f"{PROXY} not found: run scripts/setup-env --browser (it installs the pinned proxy)")
    port, hub_port, api_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(16)
    marker = f"SERWIDGETS_TEST_HUB={root}"
    (root / "jupyterhub_config.py").write_text(f"""
c = get_config()
load_subconfig({str(DEPLOY_CONFIG)!r})
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
# Jupyter servers refuse to run as root unless told; CI runs the tests as root.
c.Spawner.args = {["--allow-root"] if os.geteuid() == 0 else []!r}
# A test's own service, to ask the hub what it did.
c.JupyterHub.services.append({{"name": "test", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "test", "services": ["test"],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:services", "read:services"]}})
{extra_config}
""")
    log = root / "jupyterhub.log"
    hub_env = {**env, "SERWIDGETS_TEST_HUB": str(root)}
    with log.open("w") as out:
        hub = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", "jupyterhub_config.py"],
                               cwd=root, env=hub_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, hub, log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # the proxy listens before the hub's route is in it
            try:
                api(url, token, "GET", "/hub/api/")
                break
            except OSError:
                if time.monotonic() > deadline or hub.poll() is not None:
                    pytest.fail(f"the hub did not answer:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url, token, log
    finally:
        hub.send_signal(signal.SIGTERM)  # the hub stops the servers, services and proxy it started
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
        _end(_our_processes(marker) + _our_processes(f"127.0.0.1:{hub_port}/hub/api"))


def api(url: str, token: str, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(url + path, method=method, headers={"Authorization": f"token {token}"},
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


#: The deploy config's culler, timed for a test and kept to named servers: it stops the idle
#: named server the ``hub`` fixture starts, never the students' (default) servers.
CULLER = [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=5", "--cull-every=3",
          "--cull-default-servers=false", "--cull-named-servers=true"]


@pytest.fixture(scope="module")
def hub(server_env, tmp_path_factory):
    """The deploy config's hub; a named server nobody uses starts at once, for the culler to stop."""
    extra = f"c.JupyterHub.services[0]['command'] = {CULLER!r}\nc.JupyterHub.allow_named_servers = True"
    with running_hub(tmp_path_factory.mktemp("hub"), server_env, extra) as (url, token, log):
        api(url, token, "POST", "/hub/api/users/idle")
        api(url, token, "POST", "/hub/api/users/idle/servers/unused")
        yield url, token, log


def log_in(browser, url: str, name: str):
    """A student's own browser context: the hub's login page, then (no wait) the login."""
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    context.grant_permissions(["microphone"], origin=url)
    page = context.new_page()
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit", no_wait_after=True)
    return context, page


def test_two_students_each_get_the_dashboard_and_a_label(hub, browser, model_labels, screenshot):
    url, token, log = hub
    students = ["ada", "grace"]
    # Both log in before either page is ready: their servers start side by side, as in a class.
    sessions = {name: log_in(browser, url, name) for name in students}
    try:
        for name, (_, page) in sessions.items():
            page.wait_for_selector(".ser-record", timeout=SPAWN_TIMEOUT_MS)
            page.wait_for_selector(".ser-panel[data-state='idle']", timeout=TIMEOUT_MS)
            # The default URL: the dashboard in Voilà, served by this student's own server.
            assert page.url.startswith(f"{url}/user/{name}/voila/render/notebooks/dashboard.ipynb"), page.url
            assert "serwidgets.EmotionDashboard(" not in page.content()  # Voilà hides the sources
        for name, (_, page) in sessions.items():
            assert record(page) > 0  # the live timeline had segments while recording
            assert_result(page, model_labels)
            screenshot(page, f"jupyterhub-{name}-result", until=".ser-dashboard")
        users = {user["name"]: user for user in api(url, token, "GET", "/hub/api/users")}
        assert all(users[name]["servers"][""]["ready"] for name in students), users
        # Two servers, one per student, each with its own dashboard kernel.
        kernels = {name: api(url, token, "GET", f"/user/{name}/api/kernels") for name in students}
        assert all(len(k) == 1 for k in kernels.values()), kernels
        assert kernels["ada"][0]["id"] != kernels["grace"][0]["id"]
    finally:
        for context, _ in sessions.values():
            context.close()


def test_the_idle_culler_stops_an_idle_server(hub):
    """The deploy config's culler service, with its own role, stops the server nobody used."""
    url, token, log = hub
    services = api(url, token, "GET", "/hub/api/services")  # by name
    assert services["idle-culler"]["command"] == CULLER
    deadline = time.monotonic() + SPAWN_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and "unused" in api(url, token, "GET", "/hub/api/users/idle")["servers"]:
        time.sleep(1)
    text = log.read_text()
    assert "unused" not in api(url, token, "GET", "/hub/api/users/idle")["servers"], text[-3000:]
    assert "User idle:unused took" in text  # it had started (and then went idle)
    assert "Culling server idle/unused" in text  # the culler stopped it, not the hub or a crash
