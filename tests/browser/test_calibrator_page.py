""""Calibrate to my voice" in Voilà, through Chromium's fake microphone (a real EmoDB sentence).

The dashboard runs on the shipped model, which can be calibrated. The test
opens the calibration step, has a too-short take refused, records three prompts, turns on
"keep learning", downloads the calibration, closes the step, records as usual and sees the result marked "calibrated to
your voice". Screenshots of each step go to artifacts/screenshots/voila-calibration-*.png.
"""

from __future__ import annotations

import time

import pytest
from test_dashboard import TIMEOUT_MS, revision, wait_for_next

from serwidgets.calibration import MIN_CALIBRATION_CLIPS, Calibration

pytestmark = pytest.mark.browser

TAKE_SECONDS = 3.0
CAL = ".ser-calibrator"


@pytest.fixture(scope="module")
def page(voila_url, new_page):
    page = new_page(voila_url)
    page.wait_for_selector(f"{CAL} .ser-calibrate", timeout=TIMEOUT_MS)
    page.wait_for_selector(".ser-panel[data-state='idle']", timeout=TIMEOUT_MS)
    return page


def clips(page) -> int:
    return int(page.get_attribute(f"{CAL} .ser-progress-text", "data-clips"))


def take(page, seconds: float) -> None:
    """Record one take with the calibrator's Record button."""
    button = f"{CAL} .ser-record"
    page.click(button)
    page.wait_for_selector(f"{button}[data-state='recording']", timeout=TIMEOUT_MS)
    time.sleep(seconds)
    page.click(button)
    page.wait_for_selector(f"{button}[data-state='idle']:not([disabled])", timeout=TIMEOUT_MS)


def record_and_wait_for_result(page) -> None:
    """Record one take with the dashboard's own Record button and wait for its result."""
    before = revision(page)
    page.click(".ser-inputs .ser-record")
    page.wait_for_selector(".ser-inputs .ser-record[data-state='recording']", timeout=TIMEOUT_MS)
    time.sleep(TAKE_SECONDS)
    page.click(".ser-inputs .ser-record")
    wait_for_next(page, before)


def test_calibrate_then_record_a_calibrated_result(page, screenshot):
    status = f"{CAL} .ser-calibration-status"
    assert page.text_content(status).startswith("Not calibrated")
    assert page.query_selector(f"{CAL} .ser-record") is None  # the prompts' recorder is not on the page yet
    screenshot(page, "voila-calibration-0-closed", until=".ser-dashboard")

    page.click(f"{CAL} .ser-calibrate")
    page.wait_for_selector(f"{CAL} .ser-calibration-prompt .ser-prompt-sentence", timeout=TIMEOUT_MS)
    assert page.is_hidden(".ser-inputs")  # one Record button on screen: the prompt's
    assert "Prompt 1 of" in page.text_content(f"{CAL} .ser-prompt-step")
    assert clips(page) == 0
    screenshot(page, "voila-calibration-1-prompt", until=".ser-dashboard")

    # A take stopped at once is refused with a message, and the prompt stays.
    take(page, 0.3)
    refusal = f"{CAL} .ser-recorder .ser-status"
    page.wait_for_selector(f"{refusal}:not([hidden])", timeout=TIMEOUT_MS)
    message = page.text_content(refusal)
    assert "each needs at least 1 s" in message or "No speech detected" in message, message
    assert clips(page) == 0 and "Prompt 1 of" in page.text_content(f"{CAL} .ser-prompt-step")
    screenshot(page, "voila-calibration-2-refused", until=".ser-dashboard")

    for n in range(1, MIN_CALIBRATION_CLIPS + 1):
        take(page, TAKE_SECONDS)
        page.wait_for_selector(f"{CAL} .ser-progress-text[data-clips='{n}']", timeout=TIMEOUT_MS)
        assert f"Prompt {n + 1} of" in page.text_content(f"{CAL} .ser-prompt-step")
        assert page.is_hidden(refusal)
        if n == 1:
            screenshot(page, "voila-calibration-3-progress", until=".ser-dashboard")
    page.wait_for_selector(f"{status} [data-calibrated='true']", timeout=TIMEOUT_MS)
    assert page.text_content(status).startswith(f"Calibrated to your voice ({MIN_CALIBRATION_CLIPS} clips, ")

    page.check(f"{CAL} .ser-calibration-keep input[type='checkbox']")
    page.wait_for_selector(f"{status}:has-text('learning from your recordings')", timeout=TIMEOUT_MS)
    # "Save my calibration": a download of the calibration as JSON, only when asked.
    page.click(f"{CAL} .ser-calibration-save")
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click(f"{CAL} .ser-calibration-link")
    assert download.value.suggested_filename == "my-voice-calibration.json"
    assert Calibration.load(download.value.path()).n_clips == MIN_CALIBRATION_CLIPS
    screenshot(page, "voila-calibration-4-calibrated", until=".ser-dashboard")

    page.click(f"{CAL} .ser-calibration-close")
    page.wait_for_selector(".ser-inputs .ser-record", state="visible", timeout=TIMEOUT_MS)
    assert page.query_selector(f"{CAL} .ser-record") is None

    # Recording as usual: the result is marked calibrated, and the recording is learned.
    record_and_wait_for_result(page)
    assert page.get_attribute(".ser-panel", "data-state") == "result"
    assert page.text_content(".ser-top-label")
    badge = page.wait_for_selector(".ser-panel[data-calibrated='true'] .ser-calibrated-badge", timeout=TIMEOUT_MS)
    assert badge.text_content() == "calibrated to your voice"
    assert badge.get_attribute("title").startswith(f"Calibrated to your voice from {MIN_CALIBRATION_CLIPS} clips")
    page.wait_for_selector(f"{status} [data-clips='{MIN_CALIBRATION_CLIPS + 1}']", timeout=TIMEOUT_MS)
    page.wait_for_selector(".ser-timeline[data-live='false']", state="attached", timeout=TIMEOUT_MS)
    screenshot(page, "voila-calibration-5-result", until=".ser-dashboard")

    # Reset: back to uncalibrated, and the next result carries no mark.
    page.click(f"{CAL} .ser-calibrate")
    page.click(f"{CAL} .ser-calibration-reset")
    page.wait_for_selector(f"{status} [data-calibrated='false']", timeout=TIMEOUT_MS)
    assert clips(page) == 0 and "Prompt 1 of" in page.text_content(f"{CAL} .ser-prompt-step")
    page.click(f"{CAL} .ser-calibration-close")
    record_and_wait_for_result(page)
    assert page.get_attribute(".ser-panel", "data-calibrated") == "false"
    assert page.query_selector(".ser-calibrated-badge") is None
