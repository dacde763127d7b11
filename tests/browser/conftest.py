"""Browser fixtures: Debian's Chromium with a fake microphone, and servers to point it at.

The fake microphone plays a real EmoDB utterance (written to a temporary WAV; Chromium
loops it). Servers run as subprocesses on free ports and are killed at teardown.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from serwidgets.cli.dashboard import NOTEBOOK, voila_command, voila_env

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
#: An angry EmoDB sentence (speaker 03, text a05, "W" = Ärger), 3.4 s: the fake microphone.
MIC_UTTERANCE = "03a05Wa.wav"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    # A TCP connect, not an HTTP request: GET / on Voilà would start a kernel.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"server did not listen on {port} within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(command: list[str], port: int, cwd: Path, env: dict, log: Path):
    """Run a server, its output in ``log``; wait until it listens on ``port``; stop it afterwards."""
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield
    finally:
        stop(process)


def notebook_folder(tmp_path_factory, name: str, cells: list[str]) -> Path:
    """A temporary folder holding ``dashboard.ipynb`` made of these code cells (python3 kernel)."""
    import nbformat

    root = tmp_path_factory.mktemp(name)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "dashboard.ipynb")
    return root


@pytest.fixture(scope="session")
def shipped_model():
    """The model the dashboard loads (``serwidgets.load_model()``)."""
    import serwidgets

    return serwidgets.load_model()


@pytest.fixture(scope="session")
def model_labels(shipped_model) -> tuple[str, ...]:
    return tuple(shipped_model.labels)


@pytest.fixture(scope="session")
def mic_wav(tmp_path_factory, emodb_root) -> Path:
    import soundfile

    y, sr = soundfile.read(emodb_root / "wav" / MIC_UTTERANCE, dtype="int16")
    path = tmp_path_factory.mktemp("mic") / "mic.wav"
    soundfile.write(path, y, sr, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def server_env(shared_data, tmp_path_factory) -> dict:
    env = voila_env()
    env["SER_DATA"] = str(shared_data)
    # Keep servers off the user's Jupyter state (workspaces, settings, runtime files).
    home = tmp_path_factory.mktemp("jupyter-home")
    env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "workspaces")
    # No "get Jupyter news?" pop-up over the notebook in JupyterLab screenshots.
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')
    return env


@pytest.fixture(scope="module")
def voila_url(server_env, tmp_path_factory):
    """The dashboard server on notebooks/dashboard.ipynb with config/voila.json, as ``ser dashboard`` runs it."""
    port = free_port()
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    # One preheated kernel instead of the config's pool: the tests open one page at a time, and
    # a full pool would cost the shared CPU several kernel starts.
    command = voila_command(NOTEBOOK, port, open_browser=False) + ["--VoilaConfiguration.default_pool_size=1"]
    with serving(command, port, NOTEBOOK.parent, server_env, log):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def lab_url(server_env, tmp_path_factory):
    """JupyterLab 4 on a temporary folder holding ``dashboard.ipynb`` (dashboard, then a Recorder)."""
    root = notebook_folder(tmp_path_factory, "lab", [
        "import serwidgets\nserwidgets.EmotionDashboard()",
        # A Recorder on its own, with a short automatic stop; the label reports what arrived.
        "import ipywidgets\n"
        "recorder = serwidgets.Recorder(max_seconds=1.5)\n"
        "received = ipywidgets.Label('nothing yet')\n"
        "recorder.on_recording(lambda wav: setattr(received, 'value', f'received {len(wav)} bytes'))\n"
        "received.add_class('received')\n"
        "ipywidgets.VBox([recorder, received])",
    ])
    with jupyterlab(root, server_env) as url:
        yield url


@contextmanager
def jupyterlab(root: Path, env: dict):
    """JupyterLab 4 on ``root`` (a :func:`notebook_folder`); yields the URL of its dashboard.ipynb."""
    port, token = free_port(), "serwidgets-test"
    log = root / "lab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--allow-root", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with serving(command, port, root, env, log):
        yield f"http://127.0.0.1:{port}/lab/tree/dashboard.ipynb?token={token}"


@pytest.fixture(scope="module")
def notebook7_url(server_env, tmp_path_factory):
    """Jupyter Notebook 7 on a temporary folder holding ``dashboard.ipynb`` (one cell: the dashboard)."""
    root = notebook_folder(tmp_path_factory, "notebook7", ["import serwidgets\nserwidgets.EmotionDashboard()"])
    with notebook7(root, server_env) as url:
        yield url


@contextmanager
def notebook7(root: Path, env: dict):
    """Jupyter Notebook 7 on ``root`` (a :func:`notebook_folder`); yields the URL of its dashboard.ipynb."""
    port, token = free_port(), "serwidgets-test"
    log = root / "notebook.log"
    command = [sys.executable, "-m", "jupyter", "notebook", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    with serving(command, port, root, env, log):
        yield f"http://127.0.0.1:{port}/notebooks/dashboard.ipynb?token={token}"


@pytest.fixture(scope="session")
def browser(mic_wav):
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: run scripts/setup-env --browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_args(mic_wav))
        yield browser
        browser.close()


def chromium_args(mic_wav) -> list[str]:
    """Chromium's flags: a fake microphone playing ``mic_wav`` (read again each time a page opens it)."""
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic_wav}", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update"]


@contextmanager
def page_opener(browser, height: int = 1000):
    """``open_page(url)``: ``url`` in a fresh context of ``browser`` that may use the microphone on its origin."""
    contexts = []

    def open_page(url: str):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        context = browser.new_context(viewport={"width": 900, "height": height})
        context.grant_permissions(["microphone"], origin=f"{parts.scheme}://{parts.netloc}")
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()


@pytest.fixture(scope="session")
def new_page(browser):
    """Open ``url`` in a fresh context that may use the microphone on ``url``'s origin."""
    with page_opener(browser) as open_page:
        yield open_page


@pytest.fixture(scope="session")
def screenshot():
    """Save a screenshot as artifacts/screenshots/<name>.png (look at them).

    With ``until``, the picture ends below that element (Voilà pages scroll inside a
    container, so a "full page" screenshot would be cut or padded).
    """

    def save(page, name: str, until: str | None = None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        clip = None
        if until is not None:
            box = page.locator(until).bounding_box()
            viewport = page.viewport_size
            clip = {"x": 0, "y": 0, "width": viewport["width"],
                    "height": min(viewport["height"], box["y"] + box["height"] + 16)}
        page.screenshot(path=path, clip=clip)
        return path

    return save
