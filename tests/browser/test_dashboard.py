"""The dashboard in a real browser: Voilà (as ``ser dashboard`` serves it) and JupyterLab 4.

Chromium's fake microphone plays a real EmoDB sentence; uploads are real RAVDESS files.
Screenshots of each state go to artifacts/screenshots/.
"""

from __future__ import annotations

import time

import pytest

from serwidgets.audio import TARGET_SR

pytestmark = pytest.mark.browser

RECORD_SECONDS = 3.0
TIMEOUT_MS = 60_000


def revision(page) -> int:
    return int(page.get_attribute(".ser-panel", "data-revision") or 0)


def wait_for_next(page, before: int) -> None:
    """Wait until the panel shows a result or message newer than revision ``before``."""
    page.wait_for_function(
        "before => Number(document.querySelector('.ser-panel').dataset.revision) > before",
        arg=before, timeout=TIMEOUT_MS,
    )


def probabilities(page) -> dict[str, float]:
    bars = page.eval_on_selector_all(".ser-bar", "bars => bars.map(b => [b.dataset.label, b.dataset.probability])")
    return {label: float(p) for label, p in bars}


def record(page, screenshot=None, name: str = "") -> int:
    """Record for RECORD_SECONDS; returns the live timeline's segment count before stopping."""
    before = revision(page)
    page.click(".ser-record")
    page.wait_for_selector(".ser-record[data-state='recording']", timeout=TIMEOUT_MS)
    time.sleep(RECORD_SECONDS)
    segments = int(page.get_attribute(".ser-timeline", "data-segments"))
    live = page.get_attribute(".ser-timeline", "data-live")
    if screenshot:
        screenshot(page, name, until=".ser-dashboard")
    page.click(".ser-record")
    wait_for_next(page, before)
    assert live == "true"
    return segments


def assert_result(page, labels) -> str:
    top = page.text_content(".ser-top-label")
    assert top in labels
    p = probabilities(page)
    assert set(p) == set(labels)
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-3)
    assert max(p, key=p.get) == top
    return top


def upload(page, path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click(".ser-upload")
    chooser.value.set_files(str(path))


@pytest.fixture(scope="module")
def dashboard(voila_url, new_page):
    page = new_page(voila_url)
    page.wait_for_selector(".ser-record", timeout=TIMEOUT_MS)
    page.wait_for_selector(".ser-panel[data-state='idle']", timeout=TIMEOUT_MS)
    return page


def test_record_shows_live_timeline_then_label(dashboard, shipped_model, model_labels, screenshot):
    from serwidgets.widgets.dashboard import describe_model

    page = dashboard
    assert "serwidgets.EmotionDashboard(" not in page.content()  # Voilà hides the sources
    assert page.text_content(".ser-model") == describe_model(shipped_model)  # name + card accuracy
    screenshot(page, "voila-idle", until=".ser-dashboard")
    segments = record(page, screenshot, "voila-recording")
    assert segments > 0
    assert_result(page, model_labels)
    # The timeline, pictures and sound come in a second update, after the label.
    page.wait_for_selector(".ser-timeline[data-live='false']", state="attached", timeout=TIMEOUT_MS)
    page.wait_for_function("document.querySelector('.ser-audio').src.startsWith('blob:')", timeout=TIMEOUT_MS)
    screenshot(page, "voila-result", until=".ser-dashboard")


def test_uploads_and_error_messages(dashboard, model_labels, screenshot, ravdess_root, tmp_path):
    page = dashboard
    upload_status = ".ser-uploader .ser-status"

    before = revision(page)
    upload(page, sorted(ravdess_root.glob("Actor_01/*.flac"))[30])
    wait_for_next(page, before)
    assert_result(page, model_labels)
    screenshot(page, "voila-upload-result", until=".ser-dashboard")

    import numpy as np
    import soundfile

    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(32000, np.int16), 16000, subtype="PCM_16")
    before = revision(page)
    upload(page, silence)
    wait_for_next(page, before)
    assert "no speech detected" in page.text_content(".ser-panel .ser-status").lower()
    assert page.text_content(".ser-top-label") == ""
    screenshot(page, "voila-no-speech", until=".ser-dashboard")

    notes = tmp_path / "notes.wav"
    notes.write_text("these are meeting notes, not audio\n" * 50)
    upload(page, notes)
    page.wait_for_selector(f"{upload_status}:has-text('Could not read notes.wav')", timeout=TIMEOUT_MS)
    screenshot(page, "voila-error", until=".ser-dashboard")

    # Over the uploader's 20 MiB limit: refused in the browser before sending (the server would
    # drop a message over its websocket limit without a word), with a message.
    big = tmp_path / "long.wav"
    big.write_bytes(b"\0" * (21 * 2**20))
    upload(page, big)
    page.wait_for_selector(f"{upload_status}:has-text('long.wav is too large: 21.0 MiB')", timeout=TIMEOUT_MS)
    assert page.text_content(".ser-top-label") == ""

    # Microphone problems are explained in the widget, not only in the console.
    mic_status = ".ser-recorder .ser-status"
    page.evaluate("""() => { navigator.mediaDevices.getUserMedia =
        () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); }""")
    page.click(".ser-record")
    page.wait_for_selector(f"{mic_status}:has-text('Microphone permission denied')", timeout=TIMEOUT_MS)
    # What an insecure origin (plain http on another host) looks like to the page.
    page.evaluate("""() => { delete navigator.mediaDevices.getUserMedia;
        Object.defineProperty(navigator, 'mediaDevices', { value: undefined, configurable: true });
        Object.defineProperty(window, 'isSecureContext', { value: false, configurable: true }); }""")
    page.click(".ser-record")
    page.wait_for_selector(f"{mic_status}:has-text('needs a secure page')", timeout=TIMEOUT_MS)
    screenshot(page, "voila-microphone-error", until=".ser-dashboard")
    # Back to the truth: 127.0.0.1 is a secure origin, and the real navigator.mediaDevices.
    page.evaluate("""() => { delete navigator.mediaDevices;
        Object.defineProperty(window, 'isSecureContext', { value: true, configurable: true }); }""")

    # The page still works afterwards, and a good result clears the errors.
    record(page)
    assert_result(page, model_labels)
    assert page.is_hidden(upload_status) and page.is_hidden(mic_status)


def run_dashboard_cell(page, cells: str, keys: str, screenshot, app: str) -> None:
    """Run the notebook's first cell with ``keys`` until the dashboard renders.

    A run sent while the kernel connection is still settling can be dropped by JupyterLab
    and Notebook 7, hence up to three tries.
    """
    for attempt in range(3):
        page.locator(cells).first.click()
        page.keyboard.press(keys)
        try:
            page.wait_for_selector(".jp-OutputArea .ser-dashboard .ser-record", timeout=TIMEOUT_MS // 3)
            return
        except Exception:
            screenshot(page, f"{app}-run-attempt-{attempt}")
    pytest.fail(f"the dashboard cell did not render in {app} (see artifacts/screenshots)")


def test_dashboard_in_jupyterlab(lab_url, new_page, model_labels, screenshot):
    page = new_page(lab_url)
    cells = ".jp-Notebook .jp-Cell .cm-content"
    page.wait_for_selector(cells, timeout=TIMEOUT_MS)
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=TIMEOUT_MS)
    # Run the first cell in place (Ctrl+Enter).
    run_dashboard_cell(page, cells, "Control+Enter", screenshot, "jupyterlab")
    page.wait_for_selector(".ser-panel[data-state='idle']", timeout=TIMEOUT_MS)
    assert record(page) > 0
    assert_result(page, model_labels)
    screenshot(page, "jupyterlab-result")

    # The second cell: a Recorder alone stops by itself after max_seconds = 1.5 s, and the
    # kernel receives a 16-bit WAV of that length at the Recorder's sr (audio.TARGET_SR).
    page.locator(cells).nth(1).click()
    page.keyboard.press("Control+Enter")
    button = page.locator(".ser-recorder").nth(1).locator(".ser-record")
    button.click()
    page.wait_for_selector(".received:has-text('received')", timeout=TIMEOUT_MS)
    assert button.get_attribute("data-state") == "idle"
    n_bytes = int(page.text_content(".received").split()[1])
    seconds = (n_bytes - 44) / (2 * TARGET_SR)
    assert 1.5 <= seconds < 1.6
