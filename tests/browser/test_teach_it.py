""""Teach it your own feelings" in a real browser: Voilà (the served dashboard), JupyterLab 4 and Notebook 7.

The fake microphone speaks with one voice: EmoDB speaker 03, angry and sad sentences. Chromium
reads its fake-microphone file again each time the page opens the microphone (the recorder opens
it for every take), so the test writes the sentence it wants heard into that file before each take
(:func:`say`): every take is a different real sentence of the class being taught, and "Try it"
hears sentences the lesson never heard. The module has its own Chromium for that file (the
session's plays one fixed sentence).

Each test names two classes "angry" and "sad" in the dashboard's "Teach it" tab, records (Voilà)
or uploads (JupyterLab, Notebook 7) :data:`TAKES` takes of each, trains, sees the leave-one-take-out figure and its confusion matrix,
and sees a held-out sentence recognised in "Try it". In Voilà one sad take is uploaded instead,
a silent take and an unreadable upload are refused with a message, a held-out sentence of each
class is recognised, and the model is saved as a download and loaded back. Screenshots go to
artifacts/screenshots/<frontend>-teach-*.png.
"""

from __future__ import annotations

import os
import time

import pytest
from conftest import CHROMIUM, chromium_args, jupyterlab, notebook7, notebook_folder, page_opener
from test_dashboard import TIMEOUT_MS, run_dashboard_cell

from serwidgets.personal import MIN_TAKES

pytestmark = pytest.mark.browser

#: Speaker 03's sentences (about 3 s each): what each class is taught with, then held-out ones.
LESSON = {"angry": ("03a05Wb.wav", "03b09Wa.wav", "03b01Wc.wav"), "sad": ("03a05Tc.wav", "03b09Tc.wav", "03b01Td.wav")}
HELD_OUT = {"angry": "03b02Wb.wav", "sad": "03b02Tb.wav"}
TAKES = MIN_TAKES
TAKE_SECONDS = 3.0
#: Silence after the sentence in the microphone's file: a take a little longer than the sentence
#: hears quiet (trimmed away), not the sentence again from its start.
PAD_SECONDS = 2.0
T = ".ser-teacher"
CELL = 'import serwidgets\nserwidgets.EmotionDashboard(tabs={"Teach it": serwidgets.Teacher})'


@pytest.fixture(scope="module")
def microphone(tmp_path_factory, emodb_root):
    """``say(name)``: the fake microphone plays EmoDB's ``name`` from the next take on (``None``: silence)."""
    import numpy as np
    import soundfile

    path = tmp_path_factory.mktemp("teach-mic") / "mic.wav"

    def say(name: str | None) -> None:
        if name is None:
            y, sr = np.zeros(3 * 16000, np.int16), 16000
        else:
            y, sr = soundfile.read(emodb_root / "wav" / name, dtype="int16")
        padded = np.concatenate([y, np.zeros(int(PAD_SECONDS * sr), np.int16)])
        part = path.with_suffix(".part.wav")
        soundfile.write(part, padded, sr, subtype="PCM_16")
        os.replace(part, path)  # whole, never half-written, when Chromium opens it

    say(LESSON["angry"][0])
    say.path = path
    return say


@pytest.fixture(scope="module")
def open_page(browser, microphone):
    """Pages of the module's own Chromium, whose fake microphone plays what :func:`microphone` says."""
    own = browser.browser_type.launch(executable_path=CHROMIUM, args=chromium_args(microphone.path))
    with page_opener(own, height=1200) as open_url:
        yield open_url
    own.close()


def open_teach_tab(page) -> None:
    page.click(".ser-dashboard .lm-TabBar-tab:has-text('Teach it')")
    page.wait_for_selector(f"{T} .ser-teacher-class .ser-record", timeout=TIMEOUT_MS)


def name_class(page, index: int, name: str) -> None:
    box = page.locator(f"{T} .ser-teacher-class").nth(index).locator(".ser-teacher-name input")
    box.fill(name)
    box.press("Enter")  # the name goes to the kernel on Enter (or when the box loses focus)
    page.wait_for_selector(f"{T} .ser-teacher-chip[data-class='{name}']", timeout=TIMEOUT_MS)


def take(page, scope: str, seconds: float = TAKE_SECONDS) -> None:
    """Record one take with the Record button inside ``scope``."""
    button = page.locator(f"{scope} .ser-record").first
    button.click()
    page.wait_for_selector(f"{scope} .ser-record[data-state='recording']", timeout=TIMEOUT_MS)
    time.sleep(seconds)
    if page.locator(f"{scope} .ser-timeline").count():  # "Try it": its timeline follows the take live
        assert page.get_attribute(f"{scope} .ser-timeline", "data-live") == "true"
        assert int(page.get_attribute(f"{scope} .ser-timeline", "data-segments")) > 0
    button.click()
    page.wait_for_selector(f"{scope} .ser-record[data-state='idle']:not([disabled])", timeout=TIMEOUT_MS)


def teach(page, microphone, say_takes: dict[str, tuple]) -> None:
    """Record each class's takes (a different sentence each) and wait until each is counted."""
    for index, (label, names) in enumerate(say_takes.items()):
        row = f"{T} .ser-teacher-class:nth-child({index + 1})"
        for n, name in enumerate(names, start=1):
            microphone(name)
            take(page, row)
            page.wait_for_selector(f"{T} .ser-teacher-chip[data-class='{label}'][data-takes='{n}']",
                                   timeout=TIMEOUT_MS)


def train(page) -> tuple[int, int]:
    """Press Train; the leave-one-take-out figure shown: (recognised, takes)."""
    page.click(f"{T} .ser-teacher-train")
    score = page.wait_for_selector(f"{T} .ser-teacher-score", timeout=TIMEOUT_MS)
    page.wait_for_selector(f"{T} .ser-teacher-status [data-state='trained']", timeout=TIMEOUT_MS)
    cells = page.eval_on_selector_all(f"{T} .ser-teacher-confusion td",
                                      "cells => cells.map(c => [c.dataset.true, c.dataset.predicted, +c.dataset.n])")
    correct, n = int(score.get_attribute("data-correct")), int(score.get_attribute("data-n"))
    assert n == 2 * TAKES and sum(k for _, _, k in cells) == n and len(cells) == 4
    assert sum(k for true, said, k in cells if true == said) == correct
    return correct, n


def try_it(page, microphone, name: str) -> str:
    """Say a sentence in "Try it"; the label shown."""
    scope = f"{T} .ser-teacher-try"
    microphone(name)
    before = int(page.get_attribute(f"{scope} .ser-panel", "data-revision") or 0)
    take(page, scope, seconds=TAKE_SECONDS + 0.5)
    page.wait_for_function(
        "([scope, before]) => Number(document.querySelector(scope + ' .ser-panel').dataset.revision) > before",
        arg=[scope, before], timeout=TIMEOUT_MS)
    assert page.get_attribute(f"{scope} .ser-panel", "data-state") == "result"
    page.wait_for_selector(f"{scope} .ser-timeline[data-live='false']", state="attached", timeout=TIMEOUT_MS)
    return page.text_content(f"{scope} .ser-top-label")


def test_teach_two_feelings_in_voila(voila_url, open_page, microphone, screenshot, emodb_root, tmp_path):
    page = open_page(voila_url)
    page.wait_for_selector(".ser-panel[data-state='idle']", timeout=TIMEOUT_MS)
    assert page.query_selector(T) is None  # built when its tab is first opened
    open_teach_tab(page)
    name_class(page, 0, "angry")
    name_class(page, 1, "sad")
    assert page.is_disabled(f"{T} .ser-teacher-train")
    assert "at least 3 takes of each class: angry has 0, sad has 0" in page.text_content(f"{T} .ser-teacher-status")
    screenshot(page, "voila-teach-1-classes", until=T)

    # Refusals, said under the button that sent the take.
    microphone(None)
    take(page, f"{T} .ser-teacher-class:nth-child(1)", seconds=1.5)
    first = f"{T} .ser-teacher-class:nth-child(1)"
    page.wait_for_selector(f"{first} .ser-recorder .ser-status:has-text('No speech detected')", timeout=TIMEOUT_MS)
    notes = tmp_path / "notes.wav"
    notes.write_text("these are meeting notes, not audio\n" * 50)
    second = f"{T} .ser-teacher-class:nth-child(2)"
    with page.expect_file_chooser() as chooser:
        page.click(f"{second} .ser-upload")
    chooser.value.set_files(str(notes))
    page.wait_for_selector(f"{second} .ser-uploader .ser-status:has-text('Could not read notes.wav')",
                           timeout=TIMEOUT_MS)
    screenshot(page, "voila-teach-2-refused", until=T)

    # Angry by the microphone; sad by the microphone, and its last take as an upload.
    teach(page, microphone, {"angry": LESSON["angry"], "sad": LESSON["sad"][:-1]})
    with page.expect_file_chooser() as chooser:
        page.click(f"{second} .ser-upload")
    chooser.value.set_files(str(emodb_root / "wav" / LESSON["sad"][-1]))
    page.wait_for_selector(f"{T} .ser-teacher-chip[data-class='sad'][data-takes='{TAKES}']", timeout=TIMEOUT_MS)
    assert page.is_hidden(f"{second} .ser-uploader .ser-status")  # the refusal is gone with a good take
    correct, n = train(page)
    screenshot(page, "voila-teach-3-trained", until=T)

    for label, name in HELD_OUT.items():
        assert try_it(page, microphone, name) == label, name
    labels = page.eval_on_selector_all(f"{T} .ser-teacher-try .ser-bar", "bars => bars.map(b => b.dataset.label)")
    assert sorted(labels) == ["angry", "sad"]
    screenshot(page, "voila-teach-4-tried", until=T)

    # Save as a download, and load it back.
    page.click(f"{T} .ser-teacher-save")
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click(f"{T} .ser-teacher-link")
    assert download.value.suggested_filename == "my-classes.zip"
    saved = tmp_path / "my-classes.zip"
    download.value.save_as(saved)
    with page.expect_file_chooser() as chooser:
        page.click(f"{T} .ser-teacher-load")
    chooser.value.set_files(str(saved))
    page.wait_for_selector(f"{T} .ser-teacher-load-status [data-loaded='my-classes.zip']", timeout=TIMEOUT_MS)
    status = page.text_content(f"{T} .ser-teacher-status")
    assert status == f"Loaded from my-classes.zip: taught from {n} takes of 2 classes."
    assert page.get_attribute(f"{T} .ser-teacher-score", "data-correct") == str(correct)
    screenshot(page, "voila-teach-5-loaded", until=T)

    # The emotion flow is still the first tab, as it was.
    page.click(".ser-dashboard .lm-TabBar-tab:has-text('Emotions')")
    page.wait_for_selector(".ser-inputs .ser-record", state="visible", timeout=TIMEOUT_MS)


def upload_takes(page, emodb_root, files: dict[str, tuple]) -> None:
    """Upload each class's takes through its file chooser and wait until each is counted."""
    for index, (label, names) in enumerate(files.items()):
        row = f"{T} .ser-teacher-class:nth-child({index + 1})"
        for n, name in enumerate(names, start=1):
            with page.expect_file_chooser() as chooser:
                page.click(f"{row} .ser-upload")
            chooser.value.set_files(str(emodb_root / "wav" / name))
            page.wait_for_selector(f"{T} .ser-teacher-chip[data-class='{label}'][data-takes='{n}']",
                                   timeout=TIMEOUT_MS)


def teach_in_notebook(page, microphone, screenshot, emodb_root, app: str, cells: str, keys: str) -> None:
    """The lesson's takes uploaded (Voilà's test records them: recording costs 3 s a take, and the
    recorder is the same widget in every frontend), trained, and a held-out sentence said in "Try it"."""
    page.wait_for_selector(cells, timeout=TIMEOUT_MS)
    run_dashboard_cell(page, cells, keys, screenshot, app)
    open_teach_tab(page)
    name_class(page, 0, "angry")
    name_class(page, 1, "sad")
    upload_takes(page, emodb_root, LESSON)
    train(page)
    assert try_it(page, microphone, HELD_OUT["sad"]) == "sad"
    page.locator(f"{T} .ser-teacher-try .ser-top-label").scroll_into_view_if_needed()
    screenshot(page, f"{app}-teach-tried")


def test_teach_two_feelings_in_jupyterlab(server_env, tmp_path_factory, open_page, microphone, screenshot, emodb_root):
    root = notebook_folder(tmp_path_factory, "lab-teach", [CELL])
    with jupyterlab(root, server_env) as url:
        page = open_page(url)
        page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=TIMEOUT_MS)
        teach_in_notebook(page, microphone, screenshot, emodb_root, "jupyterlab", ".jp-Notebook .jp-Cell .cm-content",
                          "Control+Enter")


def test_teach_two_feelings_in_notebook7(server_env, tmp_path_factory, open_page, microphone, screenshot, emodb_root):
    root = notebook_folder(tmp_path_factory, "notebook7-teach", [CELL])
    with notebook7(root, server_env) as url:
        page = open_page(url)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=TIMEOUT_MS)
        teach_in_notebook(page, microphone, screenshot, emodb_root, "notebook7", ".jp-Notebook .jp-Cell .cm-content",
                          "Shift+Enter")
