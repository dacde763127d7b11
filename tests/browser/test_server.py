"""The dashboard server under pressure: upload limits in the browser, failures that clear the
old result, no request beyond the server, Host-header refusal, the busy page beyond the kernel
cap, and kernels of closed pages culled.

One server with small limits (upload limit 300 KiB, two kernels, a 6-s idle cull) serves a
temporary copy of the dashboard notebook; uploads are real EmoDB and RAVDESS files.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from conftest import free_port, notebook_folder, serving
from test_dashboard import TIMEOUT_MS, assert_result, revision, upload, wait_for_next

from serwidgets.cli.dashboard import voila_command

pytestmark = pytest.mark.browser

SMALL_LIMIT = 300 * 1024  # not a rounding tie at one decimal of MiB (JS and Python round ties apart)
MAX_KERNELS = 2
CULL_SECONDS = 6


@pytest.fixture(scope="module")
def small_server(server_env, tmp_path_factory):
    root = notebook_folder(tmp_path_factory, "small-server", [
        f"import serwidgets\nserwidgets.EmotionDashboard(max_upload_bytes={SMALL_LIMIT})"])
    port = free_port()
    command = voila_command(root / "dashboard.ipynb", port, open_browser=False) + [
        f"--DashboardVoila.max_kernels={MAX_KERNELS}", "--VoilaConfiguration.default_pool_size=1",
        f"--MappingKernelManager.cull_idle_timeout={CULL_SECONDS}", "--MappingKernelManager.cull_interval=2",
    ]
    with serving(command, port, root, server_env, root / "voila.log"):
        yield f"http://127.0.0.1:{port}"


def server_status(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/serwidgets/status", timeout=10) as response:
        return json.loads(response.read())


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"not within {timeout} s: {what}")


def open_dashboard(browser, url: str, requests: list | None = None, errors: list | None = None):
    """A fresh context and page on ``url``, optionally recording requests and console errors."""
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    context.grant_permissions(["microphone"], origin=url)
    page = context.new_page()
    if requests is not None:
        page.on("request", lambda request: requests.append(request.url))
    if errors is not None:
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector(".ser-panel[data-state='idle'] .ser-model:not(:empty)", timeout=TIMEOUT_MS)
    return context, page


def kernel_id(page) -> str:
    return page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


def kernel_exists(url: str, kernel: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/api/kernels/{kernel}", timeout=10).close()
        return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def test_failures_clear_the_result_and_nothing_leaves_the_server(small_server, browser, emodb_root, tmp_path,
                                                                  model_labels, screenshot):
    requests, errors = [], []
    context, page = open_dashboard(browser, small_server, requests, errors)
    try:
        status = ".ser-uploader .ser-status"
        assert page.text_content(".ser-upload") == "Upload audio"  # no "(0)" file count
        good = emodb_root / "wav" / "03a05Wa.wav"
        notes = tmp_path / "notes.wav"
        notes.write_text("these are meeting notes, not audio\n" * 50)
        big = tmp_path / "long.wav"
        big.write_bytes(good.read_bytes()[:44] + b"\0" * (SMALL_LIMIT + 1 - 44))  # one byte over

        def upload_and_wait(path):
            before = revision(page)
            upload(page, path)
            wait_for_next(page, before)
            page.wait_for_selector(".ser-uploader[data-busy='false']", timeout=TIMEOUT_MS)

        upload_and_wait(good)
        assert_result(page, model_labels)
        # A file that is not audio: a message, and the old label is gone.
        upload_and_wait(notes)
        assert page.text_content(".ser-top-label") == ""
        assert "Could not read notes.wav" in page.text_content(status)
        assert page.get_attribute(".ser-panel", "data-state") == "idle" and page.is_hidden(".ser-views")
        upload_and_wait(good)
        assert_result(page, model_labels)
        assert page.is_hidden(status)
        # One byte over the limit: refused in the browser, before sending; the old label goes.
        upload_and_wait(big)
        assert page.text_content(".ser-top-label") == ""
        assert page.text_content(status) == (
            f"long.wav is too large: {(SMALL_LIMIT + 1) / 2**20:.1f} MiB (limit {SMALL_LIMIT / 2**20:.1f} MiB). "
            "Upload a shorter recording.")
        screenshot(page, "voila-upload-too-large", until=".ser-dashboard")
        upload_and_wait(good)  # the page is still usable
        assert_result(page, model_labels)
    finally:
        context.close()
    origin = urlsplit(small_server).netloc
    outside = [url for url in requests
               if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != origin]
    assert outside == [], "the page loaded something from outside the server"
    assert len(requests) > 10  # the recording worked
    assert errors == [], "the page logged JavaScript errors"


def test_foreign_host_header_is_refused(small_server):
    parts = urlsplit(small_server)
    # The previous test's closed page may still hold a kernel that the culler frees any moment:
    # wait for a still count, so "started no kernel" compares like with like.
    wait_until(lambda: server_status(small_server)["in_use"] == 0, 90, "earlier pages' kernels culled")
    before = server_status(small_server)["in_use"]
    for path in ["/", "/serwidgets/status", "/voila/static/voila.js", "/api/kernels/x"]:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        connection.request("GET", path, headers={"Host": f"evil.example:{parts.port}"})
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        assert response.status == 403, path
        assert "evil.example" in body
    for host in [f"localhost:{parts.port}", f"127.0.0.1:{parts.port}"]:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        connection.request("GET", "/serwidgets/status", headers={"Host": host})
        assert connection.getresponse().status == 200
        connection.close()
    assert server_status(small_server)["in_use"] == before  # a refused page started no kernel


def test_busy_page_beyond_the_cap_and_closed_pages_are_culled(small_server, browser, screenshot):
    # Kernels of the previous tests' pages go first (culled a few seconds after closing).
    wait_until(lambda: server_status(small_server)["in_use"] == 0, 90, "earlier pages' kernels culled")
    contexts, kernels = [], []
    try:
        for _ in range(MAX_KERNELS):
            context, page = open_dashboard(browser, small_server)
            contexts.append(context)
            kernels.append(kernel_id(page))
        assert server_status(small_server)["in_use"] == MAX_KERNELS
        # One more person: a clear busy page, no kernel, a hint when to come back.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(small_server + "/", timeout=30)
        assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "60"
        assert "busy: try again in a minute" in refused.value.read().decode()
        busy_context = browser.new_context(viewport={"width": 900, "height": 400})
        busy = busy_context.new_page()
        busy.goto(small_server)
        assert "try again in a minute" in busy.text_content("h1")
        screenshot(busy, "voila-busy")
        busy_context.close()
        assert server_status(small_server)["in_use"] == MAX_KERNELS
        # Open pages keep their kernels past the idle timeout (they are connected).
        time.sleep(CULL_SECONDS + 3)
        assert all(kernel_exists(small_server, kernel) for kernel in kernels)
    finally:
        for context in contexts:
            context.close()
    # Closed pages: their kernels are shut down within the idle timeout plus a cull interval or two.
    started = time.monotonic()
    wait_until(lambda: not any(kernel_exists(small_server, kernel) for kernel in kernels), 60,
               "closed pages' kernels culled")
    culled_after = time.monotonic() - started
    assert culled_after < CULL_SECONDS + 20
    assert server_status(small_server)["in_use"] == 0
    # And the next visitor gets a working dashboard.
    context, page = open_dashboard(browser, small_server)
    assert kernel_id(page) not in kernels
    context.close()
