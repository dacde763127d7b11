"""Labelled calibration in Voilà: one real speaker's voice, the scorecard, a correction and its undo.

Chromium's fake microphone plays clips of ONE EmoDB speaker (03) said with several feelings,
one after the other (its own Chromium: the session's plays a single sentence). Chromium starts
the file again whenever the page opens the microphone, which the recorder does for every take,
so each 3-s take hears the file's first clips (neutral, then happy) whatever its prompt asked
for: the scorecard's figure is low, as it should be for takes that do not sound like their
labels. The test checks what the page shows and that it follows the calibration, not accuracy
(tests/test_calibrator.py does that with distinct takes). It calibrates with four takes (each
labelled with its prompt's feeling), sees "on your 4 takes: M of 4 recognised" with its strip of
feelings, records as usual, corrects the result ("that's wrong — it was …"), sees the
calibration grow by that take, undoes it and sees it back. Screenshots go to
artifacts/screenshots/voila-corrections-*.png.
"""

from __future__ import annotations

import pytest
from test_calibrator_page import CAL, record_and_wait_for_result, take
from test_dashboard import TIMEOUT_MS

pytestmark = pytest.mark.browser

#: Speaker 03 of EmoDB: one clip per feeling, in the prompts' order (neutral, happy, angry, sad, fear, disgust).
VOICE = ("03a01Nc.wav", "03a01Fa.wav", "03a01Wa.wav", "03a02Ta.wav", "03a04Ad.wav", "03b10Ec.wav")
TAKES = 4
SCORECARD = f"{CAL} .ser-scorecard-summary"


@pytest.fixture(scope="module")
def voice_wav(tmp_path_factory, emodb_root):
    """The speaker's clips, concatenated into the fake microphone's file (Chromium loops it)."""
    import numpy as np
    import soundfile

    parts = [soundfile.read(emodb_root / "wav" / name, dtype="int16") for name in VOICE]
    assert len({sr for _, sr in parts}) == 1
    path = tmp_path_factory.mktemp("voice") / "voice.wav"
    soundfile.write(path, np.concatenate([y for y, _ in parts]), parts[0][1], subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def page(browser, voice_wav, voila_url):
    from urllib.parse import urlsplit

    from conftest import CHROMIUM

    own = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={voice_wav}", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update"])
    context = own.new_context(viewport={"width": 900, "height": 1100})
    parts = urlsplit(voila_url)
    context.grant_permissions(["microphone"], origin=f"{parts.scheme}://{parts.netloc}")
    page = context.new_page()
    page.goto(voila_url)
    page.wait_for_selector(f"{CAL} .ser-calibrate", timeout=TIMEOUT_MS)
    page.wait_for_selector(".ser-panel[data-state='idle']", timeout=TIMEOUT_MS)
    yield page
    context.close()
    own.close()


def scorecard(page) -> tuple[int, int]:
    """(recognised, takes) of the scorecard on screen."""
    summary = page.wait_for_selector(SCORECARD, timeout=TIMEOUT_MS)
    return int(summary.get_attribute("data-correct")), int(summary.get_attribute("data-n"))


def test_scorecard_then_a_correction_and_its_undo(page, screenshot):
    page.click(f"{CAL} .ser-calibrate")
    page.wait_for_selector(f"{CAL} .ser-calibration-prompt .ser-prompt-sentence", timeout=TIMEOUT_MS)
    assert page.query_selector(SCORECARD) is None  # nothing to show before the takes
    for n in range(1, TAKES + 1):
        take(page, 3.0)
        page.wait_for_selector(f"{CAL} .ser-progress-text[data-clips='{n}']", timeout=TIMEOUT_MS)
    page.wait_for_selector(f"{SCORECARD}[data-n='{TAKES}']", timeout=TIMEOUT_MS)
    correct, n = scorecard(page)
    text = page.text_content(SCORECARD)
    assert text == f"On your {TAKES} takes: {correct} of {TAKES} recognised." and 0 <= correct <= TAKES
    cells = page.eval_on_selector_all(f"{CAL} .ser-scorecard-cell",
                                      "cells => cells.map(c => [c.dataset.label, +c.dataset.correct, +c.dataset.n])")
    assert [label for label, _, _ in cells] == ["angry", "happy", "neutral", "sad"]  # the prompts' feelings
    assert sum(c for _, c, _ in cells) == correct and sum(k for _, _, k in cells) == TAKES
    assert "cautious figure" in page.text_content(f"{CAL} .ser-scorecard-note")
    screenshot(page, "voila-corrections-1-scorecard", until=".ser-dashboard")

    page.click(f"{CAL} .ser-calibration-close")
    page.wait_for_selector(".ser-inputs .ser-record", state="visible", timeout=TIMEOUT_MS)
    assert scorecard(page) == (correct, TAKES)  # it stays on screen with the prompts closed
    record_and_wait_for_result(page)
    page.wait_for_selector(".ser-panel[data-calibrated='true']", timeout=TIMEOUT_MS)
    top = page.text_content(".ser-top-label")
    page.click(".ser-corrector .ser-correct")
    choices = page.locator(".ser-corrector .ser-correct-choice:visible")
    page.wait_for_selector(".ser-corrector .ser-correct-choice", state="visible", timeout=TIMEOUT_MS)
    offered = choices.all_text_contents()
    assert top not in offered and len(offered) == 5
    said = offered[0]
    choices.first.click()
    message = page.wait_for_selector(".ser-correct-message [data-state='corrected']", timeout=TIMEOUT_MS)
    assert message.text_content().startswith(f"Noted: it was {said}.")
    page.wait_for_selector(f"{SCORECARD}[data-n='{TAKES + 1}']", timeout=TIMEOUT_MS)
    assert page.locator(f"{CAL} .ser-scorecard-cell[data-label='{said}']").count() == 1
    screenshot(page, "voila-corrections-2-corrected", until=".ser-dashboard")

    page.click(".ser-corrector .ser-correct-undo")
    page.wait_for_selector(".ser-correct-message:has-text('Correction undone')", timeout=TIMEOUT_MS)
    page.wait_for_selector(f"{SCORECARD}[data-n='{TAKES}']", timeout=TIMEOUT_MS)
    assert scorecard(page) == (correct, TAKES)  # the same takes: the same figure
    page.wait_for_selector(".ser-corrector .ser-correct", state="visible", timeout=TIMEOUT_MS)
    screenshot(page, "voila-corrections-3-undone", until=".ser-dashboard")
