""""Teach it your own feelings" on the kernel side: the Teacher widget and the dashboard's "Teach it" tab.

Takes are real EmoDB clips of one speaker (03): three angry and three sad sentences teach the
classes, and two sentences of hers the lesson never heard (one angry, one sad) must be
recognised. Takes arrive as the browser sends them (a recording's WAV message, an upload's
bytes), so the widget's state machine is tested without a browser.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile

import numpy as np
import pytest
import soundfile

from test_calibrator import record, wav

from serwidgets.model import load_model
from serwidgets.personal import MAX_CLASSES, MIN_CLASSES, MIN_TAKES
from serwidgets.widgets import EmotionDashboard, Teacher
from serwidgets.widgets.teacher import DEFAULT_CLASSES, DOWNLOAD_NAME, MAX_NAME_LENGTH

#: Speaker 03 of EmoDB: what each class is taught with (different sentences), and held-out sentences.
LESSON = {"angry": ("03a01Wa.wav", "03a02Wb.wav", "03a04Wc.wav"), "sad": ("03a02Ta.wav", "03a04Ta.wav", "03a05Tc.wav")}
HELD_OUT = {"angry": "03b01Wa.wav", "sad": "03b01Td.wav"}


@pytest.fixture(scope="module")
def model():
    return load_model("ser-emotion6", num_threads=1)


@pytest.fixture(scope="module")
def clip(emodb_root):
    def read(name):
        return soundfile.read(emodb_root / "wav" / name, dtype="float32")

    return read


def upload(uploader, data: bytes, name: str) -> None:
    """What the browser sends for a chosen file."""
    uploader._handle_message(uploader, {"type": "upload", "name": name}, [memoryview(data)])


def row(teacher, index):
    return teacher._rows[index]


@pytest.fixture(scope="module")
def taught(model, clip, emodb_root):
    """A Teacher taught angry (recorded takes) and sad (uploaded files), trained."""
    teacher = Teacher(model)
    teacher.rename_class(0, "angry")
    row(teacher, 1).name_box.value = " sad "  # as the page renames it
    for name in LESSON["angry"]:
        record(row(teacher, 0).recorder, *clip(name))
    for name in LESSON["sad"]:
        upload(row(teacher, 1).uploader, (emodb_root / "wav" / name).read_bytes(), name)
    assert teacher.message == ""
    assert teacher.train()
    return teacher


def test_starts_with_two_classes_and_says_what_is_missing(model):
    teacher = Teacher(model)
    assert teacher.classes == list(DEFAULT_CLASSES) and teacher.state == "collecting"
    assert teacher.train_button.disabled and teacher.save_button.disabled and teacher.personal_model is None
    expected = f"Record or upload at least {MIN_TAKES} takes of each class: calm has 0, excited has 0."
    assert teacher.missing() == expected and expected in teacher.status_line.value
    assert not teacher.train() and teacher.message == expected
    assert 'data-takes="0"' in row(teacher, 0).count.value and f"({MIN_TAKES} more needed)" in row(teacher, 0).count.value
    assert teacher.try_box.layout.display == "none" and teacher.results.layout.display == "none"
    with pytest.raises(ValueError, match="no frozen encoder"):
        Teacher(load_model("zhao2019-emotion6", num_threads=1))
    with pytest.raises(ValueError, match="different class names"):
        Teacher(model, classes=["same", "same"])


def test_add_rename_and_remove_classes_within_their_limits(model):
    teacher = Teacher(model)
    assert row(teacher, 0).remove_button.disabled  # at the fewest classes
    assert not teacher.drop_class(0) and f"At least {MIN_CLASSES} classes" in teacher.message
    while len(teacher.classes) < MAX_CLASSES:
        assert teacher.new_class()
    assert teacher.classes[2:4] == ["class 3", "class 4"] and teacher.add_button.disabled
    assert not teacher.new_class("one more") and f"At most {MAX_CLASSES} classes" in teacher.message
    assert len(teacher.class_box.children) == MAX_CLASSES

    # Any words name a class; a repeated, empty or too long name is refused and the box shows the old name.
    assert teacher.rename_class(2, "  my   teacher voice ") and teacher.classes[2] == "my teacher voice"
    assert row(teacher, 2).name_box.value == "my teacher voice"
    row(teacher, 3).name_box.value = "calm"
    assert teacher.classes[3] == "class 4" and row(teacher, 3).name_box.value == "class 4"
    assert "already a class called “calm”" in teacher.message
    assert not teacher.rename_class(3, "   ") and teacher.message == "A class needs a name."
    assert not teacher.rename_class(3, "x" * (MAX_NAME_LENGTH + 1)) and "at most" in teacher.message
    assert teacher.rename_class(0, "calm")  # its own name again: nothing changes

    removed = row(teacher, 2)
    assert teacher.drop_class(2) and "my teacher voice" not in teacher.classes
    assert removed.box.comm is None and removed.recorder.comm is None  # its widgets are closed
    assert not teacher.add_button.disabled and len(teacher.class_box.children) == MAX_CLASSES - 1
    row(teacher, 2).remove_button.click()  # the page's button removes its own row
    assert len(teacher.classes) == MAX_CLASSES - 2 and "class 4" not in teacher.classes


def test_refuses_silence_short_and_unreadable_takes_where_they_came_from(model, clip, tmp_path):
    teacher = Teacher(model)
    recorder, uploader = row(teacher, 0).recorder, row(teacher, 0).uploader
    record(recorder, np.zeros(32000, np.float32))
    assert "no speech detected" in teacher.message.lower() and recorder.status == teacher.message

    y, sr = clip(LESSON["angry"][0])
    assert not teacher.add_take(0, y[int(0.8 * sr):int(1.3 * sr)], sr)  # half a second of a sentence
    assert "each needs at least 1 s" in teacher.message and "0.5 s of speech" in teacher.message

    teacher._recorded(row(teacher, 0), b"RIFF not a take at all" * 3)
    assert teacher.message.startswith("Could not read that take")

    upload(uploader, b"meeting notes, not audio\n" * 40, "notes.wav")
    assert uploader.status.startswith("Could not read notes.wav") and teacher.message == uploader.status
    upload(uploader, wav(np.zeros(32000, np.float32)), "quiet.wav")
    assert "no speech detected" in uploader.status.lower() and recorder.status != uploader.status
    assert teacher.counts == {"calm": 0, "excited": 0} and teacher.state == "collecting"


def test_takes_are_encoded_when_they_arrive_and_counted(model, clip):
    from serwidgets import audio

    teacher = Teacher(model)
    y, sr = clip(LESSON["angry"][0])
    record(row(teacher, 0).recorder, y, sr)
    assert teacher.counts == {"calm": 1, "excited": 0} and {"decode", "prepare", "encode"} <= set(teacher.timings)
    waveform = audio.prepare(y, sr, model.audio_options)
    np.testing.assert_allclose(row(teacher, 0).features[0], model.features([waveform])[0], rtol=1e-5, atol=1e-6)
    count = row(teacher, 0).count.value
    assert 'data-takes="1"' in count and f"1 take · {len(waveform) / model.sr:.1f} s" in count
    assert not row(teacher, 0).drop_button.disabled
    row(teacher, 0).drop_button.click()
    assert teacher.counts["calm"] == 0 and row(teacher, 0).drop_button.disabled and not teacher.drop_take(0)


def test_trains_on_two_real_emotions_and_recognises_sentences_it_never_heard(taught, model, clip):
    teacher = taught
    assert teacher.classes == ["angry", "sad"] and teacher.counts == {"angry": 3, "sad": 3}
    assert teacher.state == "trained" and teacher.train_button.disabled and not teacher.save_button.disabled
    personal = teacher.personal_model
    assert tuple(personal.labels) == ("angry", "sad") and personal.takes == {"angry": 3, "sad": 3}
    assert {"train", "leave_one_out"} <= set(teacher.timings)
    assert re.search(r"Taught from 6 takes of 2 classes in \d+ ms\.", teacher.status_line.value)

    loo = teacher.leave_one_out
    assert loo.n == 6 and int(loo.confusion.sum()) == 6 and loo.classes == ("angry", "sad")
    results = teacher.results.value
    assert f'data-correct="{loo.correct}" data-n="6"' in results and "chance 50%" in results
    for (true, said), n in np.ndenumerate(loo.confusion):
        assert f'data-true="{loo.classes[true]}" data-predicted="{loo.classes[said]}" data-n="{n}"' in results

    # "Try it" is the emotion flow on the taught model: its classes, its colours, no calibration step.
    trial = teacher.trial
    assert trial.model is personal and trial.calibrator is None and teacher.try_box.layout.display is None
    assert trial.panel.labels == ["angry", "sad"] and trial.panel.colors["sad"] == "#1976d2"
    assert trial.panel.model_info.startswith("Your model: angry, sad; taught from 6 takes, leave-one-take-out")
    for label, name in HELD_OUT.items():
        record(trial.recorder, *clip(name))
        assert trial.panel.state == "result" and trial.panel.top == label, (name, trial.panel.probabilities)


def test_the_trial_follows_a_recording_live_with_the_taught_classes(taught, clip):
    trial = taught.trial
    trial.live_interval = 1e-6
    y, sr = clip(HELD_OUT["angry"])
    pcm = (y * 32767).astype("<i2")
    trial.recorder.recording = True  # as the browser does before streaming
    chunk = sr // 4
    for seq, start in enumerate(range(0, len(pcm), chunk)):
        trial.recorder._handle_message(trial.recorder, {"type": "chunk", "seq": seq, "sr": sr},
                                       [memoryview(pcm[start:start + chunk].tobytes())])
    trial.recorder.recording = False
    segments = trial.panel.timeline
    assert len(segments) >= 3 and {s["label"] for s in segments} <= {"angry", "sad", ""}
    assert "angry" in {s["label"] for s in segments}


def test_a_change_after_training_asks_for_training_again(model, clip):
    teacher = Teacher(model, classes=["angry", "sad"])
    for i, label in enumerate(LESSON):
        for name in LESSON[label]:
            assert teacher.add_take(i, *clip(name))
    assert teacher.state == "ready" and not teacher.train_button.disabled
    assert "Ready: press Train." in teacher.status_line.value
    trained = []
    teacher.on_train(trained.append)
    teacher.train_button.click()
    first = teacher.personal_model
    assert teacher.state == "trained" and trained == [first] and 'data-stale="false"' in teacher.try_note.value

    assert teacher.add_take(1, *clip(HELD_OUT["sad"]))
    assert teacher.state == "ready" and teacher.trial.model is first  # still the model taught before
    assert 'data-stale="true"' in teacher.try_note.value and "press Train to teach it again" in teacher.status_line.value
    assert teacher.new_class("bored") and teacher.state == "collecting"
    assert teacher.drop_class(2) and teacher.state == "ready"
    assert teacher.train() and teacher.state == "trained"
    second = teacher.personal_model
    assert second is not first and second.takes == {"angry": 3, "sad": 4} and teacher.trial.model is second
    assert teacher.trial.panel.state == "idle"  # the old model's result is gone


def test_save_as_a_download_and_load_it_back(taught, model, clip, tmp_path):
    teacher = taught
    teacher.save_button.click()
    link = teacher.download.value
    assert f'download="{DOWNLOAD_NAME}"' in link and "2 classes, 6 takes" in link
    data = base64.b64decode(re.search(r'base64,([^"]+)"', link).group(1))
    assert data == teacher.bundle_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "my-classes/card.json" in names and all(n.startswith("my-classes/") for n in names)
    # Unzipped, it is a bundle serwidgets.load_model reads.
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    direct = load_model(tmp_path / "my-classes")
    y, sr = clip(HELD_OUT["sad"])
    expected = teacher.personal_model.predict(y, sr)
    assert direct.predict(y, sr) == pytest.approx(expected, abs=1e-6)

    other = Teacher(model, classes=["x", "y"])
    other.load_button.set_state({"value": [{"name": DOWNLOAD_NAME, "type": "application/zip", "size": len(data),
                                            "content": memoryview(data), "last_modified": 0}]})  # as the page sends it
    assert other.message == "" and other.classes == ["angry", "sad"] and other.counts == {"angry": 0, "sad": 0}
    assert other.state == "trained" and other.load_button.value == ()
    assert f"Loaded from {DOWNLOAD_NAME}: taught from 6 takes of 2 classes." in other.status_line.value
    assert other.personal_model.predict(y, sr) == pytest.approx(expected, abs=1e-6)
    assert other.trial.model is other.personal_model
    assert other.add_take(0, *clip(LESSON["angry"][0])) and other.state == "collecting"  # a new lesson


def test_load_refuses_what_is_not_a_taught_model(taught, model, tmp_path):
    from serwidgets import bundle

    teacher = Teacher(model)

    def zipped(files: dict) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in files.items():
                archive.writestr(name, content)
        return buffer.getvalue()

    assert not teacher.load(b"PK not really a zip", "notes.zip")
    assert teacher.message == "Could not read notes.zip: it is not a model saved with “Save my model” (a .zip file)."
    assert "ser-teacher-refused" in teacher.load_status.value
    assert not teacher.load(zipped({"readme.txt": "hello"}), "other.zip") and "not a model saved" in teacher.message
    assert not teacher.load(zipped({"../card.json": "{}"}), "sneaky.zip") and "not a model saved" in teacher.message
    assert not teacher.load(b"\0" * (5 * 2**20), "big.zip") and "too large for a taught model" in teacher.message
    assert not teacher.load(zipped({"m/card.json": "{not json"}), "broken.zip")
    assert teacher.message.startswith("Could not load broken.zip:")
    shipped = bundle.resolve("ser-emotion6")
    assert not teacher.load(zipped({f"m/{p.name}": p.read_bytes() for p in shipped.iterdir() if p.is_file()}),
                            "shipped.zip")
    assert teacher.message == "shipped.zip holds the model 'ser-emotion6', not one taught here."
    assert teacher.personal_model is None and teacher.classes == list(DEFAULT_CLASSES)


def test_the_dashboard_builds_its_teach_tab_when_first_opened(model):
    plain = EmotionDashboard(model=model)
    assert plain.tabs is None and plain.children[0] is plain.inputs  # unchanged without tabs

    dashboard = EmotionDashboard(model=model, tabs={"Teach it": Teacher})
    assert dashboard.children == (dashboard.tabs,) and dashboard.tabs.titles == ("Emotions", "Teach it")
    assert dashboard.tabs.selected_index == 0 and dashboard.tabs.children[0] is dashboard.flow
    assert dashboard.flow.children == (dashboard.inputs, dashboard.calibrator, dashboard.panel, dashboard.corrector)
    assert dashboard.opened_tabs == {} and dashboard.tabs.children[1].children == ()
    dashboard.tabs.selected_index = 1  # the user opens "Teach it"
    teacher = dashboard.opened_tabs["Teach it"]
    assert isinstance(teacher, Teacher) and teacher.model is dashboard.model
    assert dashboard.tabs.children[1].children == (teacher,)
    dashboard.tabs.selected_index = 0
    dashboard.tabs.selected_index = 1
    assert dashboard.opened_tabs["Teach it"] is teacher  # built once

    network = EmotionDashboard(model=load_model("zhao2019-emotion6", num_threads=1), tabs={"Teach it": Teacher})
    network.tabs.selected_index = 1
    assert "Teach it is not available" in network.tabs.children[1].children[0].value
