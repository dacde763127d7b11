""""Calibrate to my voice" on the kernel side: the Calibrator widget and the dashboard around it.

Takes are real EmoDB clips of one speaker (16) said with different feelings. The model is the
shipped encoder model (EmoDB and RAVDESS were its training data: here they are only the
user's voice; the figures tested are the calibration's, not the model's accuracy).
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from serwidgets.audio import TARGET_SR
from serwidgets.calibration import MIN_CALIBRATION_CLIPS, MIN_CLIP_SECONDS, Calibration, CalibrationError
from serwidgets.model import load_model
from serwidgets.widgets import Calibrator, EmotionDashboard
from serwidgets.widgets.calibrator import PROMPTS, TAKE_SECONDS

VOICE = "16"  # the EmoDB speaker who reads the prompts


@pytest.fixture(scope="module")
def model():
    return load_model("ser-emotion6", num_threads=1)


@pytest.fixture(scope="module")
def network():
    """A model that cannot be calibrated: the shipped CNN."""
    return load_model("zhao2019-emotion6", num_threads=1)


@pytest.fixture(scope="module")
def takes(emodb_root):
    """Speaker 16 said with different feelings: (samples, sample rate, path) of 12 clips."""
    paths = sorted((emodb_root / "wav").glob(f"{VOICE}*.wav"))
    feelings = {}
    for path in paths:  # one clip per emotion letter first, so the takes are varied
        feelings.setdefault(path.stem[5], path)
    chosen = list(feelings.values()) + [p for p in paths if p not in feelings.values()]
    return [(*soundfile.read(path, dtype="float32"), path) for path in chosen[:12]]


def wav(y, sr=TARGET_SR) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, y, sr, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def record(recorder, y, sr=TARGET_SR) -> None:
    """What the browser sends when a take stops."""
    recorder._handle_message(recorder, {"type": "recording"}, [memoryview(wav(y, sr))])


def test_prompts_are_one_sentence_said_with_varied_feelings():
    assert 6 <= len(PROMPTS) <= 10
    assert {p.emotion for p in PROMPTS} == {"neutral", "happy", "angry", "sad", "fear", "disgust"}
    assert len({p.sentence for p in PROMPTS}) <= 2 and len(set(PROMPTS)) == len(PROMPTS)


def test_refuses_silence_short_and_broken_takes_with_a_message(model, takes):
    calibrator = Calibrator(model)
    first = calibrator.prompt
    assert calibrator.opened and calibrator.body in calibrator.children

    record(calibrator.recorder, np.zeros(32000))
    assert "no speech detected" in calibrator.message.lower()
    assert calibrator.recorder.status == calibrator.message  # shown under the take's Record button

    y, sr, _ = takes[0]
    speech = y[int(0.8 * sr):int(1.3 * sr)]  # 0.5 s from the middle of a sentence
    assert not calibrator.add_take(speech, sr)
    assert f"each needs at least {MIN_CLIP_SECONDS:g} s" in calibrator.message
    assert "0.5 s of speech" in calibrator.message

    calibrator._take_recorded(b"RIFF not a take at all" * 3)
    assert calibrator.message.startswith("Could not read that take")

    assert calibrator.n_clips == 0 and calibrator.prompt == first and calibrator.calibration is None
    assert 'data-clips="0"' in calibrator.progress.value


def test_progress_then_calibrated_from_three_takes(model, takes):
    calibrator = Calibrator(model)
    changes = []
    calibrator.on_change(changes.append)
    seconds = []
    for i, (y, sr, _) in enumerate(takes[:MIN_CALIBRATION_CLIPS]):
        assert calibrator.prompt == PROMPTS[i]
        assert f"Prompt {i + 1} of {len(PROMPTS)}" in calibrator.prompt_box.value
        record(calibrator.recorder, y, sr)
        assert calibrator.message == "" and calibrator.n_clips == i + 1
        seconds.append(calibrator.seconds)
        assert f"{i + 1} of {len(PROMPTS)} clips · {calibrator.seconds:.1f} s of speech" in calibrator.progress.value
        if i + 1 < MIN_CALIBRATION_CLIPS:
            assert calibrator.calibration is None and "Not calibrated yet" in calibrator.status_line.value
    cal = calibrator.calibration
    assert isinstance(cal, Calibration) and cal.n_clips == MIN_CALIBRATION_CLIPS
    assert cal.seconds == pytest.approx(seconds[-1]) and 0 < seconds[0] < seconds[1] < seconds[2]
    status = calibrator.status_line.value
    assert f"Calibrated to your voice ({MIN_CALIBRATION_CLIPS} clips, {cal.seconds:.1f} s)" in status
    assert 'data-calibrated="true"' in calibrator.status_line.value
    assert changes[-1] is cal and changes[:MIN_CALIBRATION_CLIPS - 1] == [None] * (MIN_CALIBRATION_CLIPS - 1)
    # Encoded once on arrival, labelled with the prompts' feelings, and the same as calibrating
    # from the clips afterwards.
    assert {"prepare", "encode", "update", "leave_one_out"} <= set(calibrator.timings)
    assert cal.labels == [p.emotion for p in PROMPTS[:MIN_CALIBRATION_CLIPS]]
    direct = model.calibrate([path for _, _, path in takes[:MIN_CALIBRATION_CLIPS]],
                             labels=[p.emotion for p in PROMPTS[:MIN_CALIBRATION_CLIPS]])
    np.testing.assert_allclose(cal.mean, direct.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cal.std, direct.std, rtol=1e-4, atol=1e-6)
    assert cal.encoder_sha256 == model.encoder.sha256
    probe = takes[5][2]
    np.testing.assert_allclose(model.predict_file(probe, calibration=cal)["angry"],
                               model.predict_file(probe, calibration=direct)["angry"], atol=1e-4)
    # The scorecard: each of the three takes judged by the calibration of the other two.
    loo = calibrator.scorecard.leave_one_out
    assert calibrator.scorecard.shown and calibrator.scorecard in calibrator.children
    assert loo.n == 3 and loo.labels == cal.labels
    assert f'data-correct="{loo.correct}" data-n="3"' in calibrator.scorecard.value
    # A fourth take updates the same calibration.
    y, sr, _ = takes[3]
    assert calibrator.add_take(y, sr) and calibrator.calibration is cal and cal.n_clips == 4
    assert cal.labels[-1] == PROMPTS[3].emotion and calibrator.scorecard.leave_one_out.n == 4


def test_skip_comes_back_to_skipped_prompts_and_finishes(model, takes):
    calibrator = Calibrator(model, prompts=PROMPTS[:4])
    calibrator.skip_button.click()
    assert calibrator.current == 1 and calibrator.skipped == {0}
    for y, sr, _ in takes[:3]:
        assert calibrator.add_take(y, sr)
    assert calibrator.current == 0 and "(skipped before)" in calibrator.prompt_box.value  # wrapped around
    y, sr, _ = takes[3]
    assert calibrator.add_take(y, sr)
    assert calibrator.prompt is None and "All 4 prompts recorded" in calibrator.prompt_box.value
    assert calibrator.recorder.layout.display == "none" and calibrator.skip_button.disabled
    assert not calibrator.add_take(y, sr) and "Press Reset" in calibrator.message


def test_reset_forgets_everything(model, takes):
    calibrator = Calibrator(model)
    for y, sr, _ in takes[:3]:
        calibrator.add_take(y, sr)
    assert calibrator.calibration is not None
    calibrator.reset_button.click()
    assert calibrator.calibration is None and calibrator.n_clips == 0 and calibrator.seconds == 0
    assert calibrator.prompt == PROMPTS[0] and 'data-calibrated="false"' in calibrator.status_line.value
    assert calibrator.open_button.description == "Calibrate to my voice"


def test_calibrator_needs_a_calibratable_model(network):
    assert not network.calibratable
    with pytest.raises(CalibrationError, match="zhao2019-emotion6 cannot be calibrated"):
        Calibrator(network)


def test_save_only_on_request(model, takes, tmp_path):
    import base64
    import json
    import re

    calibrator = Calibrator(model)
    assert calibrator.save_button.disabled
    with pytest.raises(ValueError, match="not calibrated"):
        calibrator.save(tmp_path / "me.json")
    for y, sr, _ in takes[:3]:
        calibrator.add_take(y, sr)
    saved = Calibration.load(calibrator.save(tmp_path / "me.json"))
    np.testing.assert_allclose(saved.mean, calibrator.calibration.mean)
    # "Save my calibration": a download link in the page, holding the same JSON.
    assert not calibrator.save_button.disabled and calibrator.download.value == ""
    calibrator.save_button.click()
    data = re.search(r'href="data:application/json;base64,([^"]+)"', calibrator.download.value).group(1)
    downloaded = Calibration.from_dict(json.loads(base64.b64decode(data)))
    assert downloaded.n_clips == 3
    np.testing.assert_allclose(downloaded.std, calibrator.calibration.std)
    calibrator.add_take(*takes[3][:2])
    assert calibrator.download.value == ""  # no link to an older calibration


# -- in the dashboard -------------------------------------------------------------------------
def test_dashboard_calibrates_marks_results_learns_and_resets(model, takes, emodb_root):
    dashboard = EmotionDashboard(model=model)
    calibrator, panel = dashboard.calibrator, dashboard.panel
    assert dashboard.children == (dashboard.inputs, calibrator, panel, dashboard.corrector)
    assert not calibrator.opened and calibrator.body not in calibrator.children  # only the button
    assert dashboard.calibration is None

    calibrator.open_button.click()
    assert calibrator.body in calibrator.children and dashboard.inputs.layout.display == "none"
    for y, sr, _ in takes[:3]:
        record(calibrator.recorder, y, sr)
    assert dashboard.calibration is calibrator.calibration is not None
    assert calibrator.close_button.description == "Done"
    calibrator.close_button.click()
    assert dashboard.inputs.layout.display is None and calibrator.body not in calibrator.children
    assert calibrator.open_button.description == "Change my calibration"

    y, sr, _ = takes[5]
    record(dashboard.recorder, y, sr)
    assert panel.state == "result" and panel.calibrated
    assert panel.calibration_info == "Calibrated to your voice from 3 clips" \
                                     f" ({calibrator.calibration.seconds:.1f} s of speech)"
    expected = model.analyze(y, sr, calibration=calibrator.calibration)
    np.testing.assert_allclose(panel.probabilities, expected.probabilities, atol=1e-6)
    assert calibrator.calibration.n_clips == 3  # keep-learning is off by default

    calibrator.keep_box.value = True  # the checkbox
    assert calibrator.keep_learning and "learning from your recordings" in calibrator.status_line.value
    record(dashboard.recorder, y, sr)
    assert calibrator.calibration.n_clips == 4 and calibrator.learned == 1 and panel.calibrated
    # Uploads are not the user's voice for sure: they are not learned.
    dashboard.uploader.send = lambda content, buffers=None: None
    dashboard.uploader._handle_message(dashboard.uploader, {"type": "upload", "name": "x.wav"},
                                       [memoryview(wav(y, sr))])
    assert panel.calibrated and calibrator.calibration.n_clips == 4

    panel.show_message("idle", "")
    assert not panel.calibrated and panel.calibration_info == ""
    calibrator.reset()
    record(dashboard.recorder, y, sr)
    assert panel.state == "result" and not panel.calibrated and dashboard.calibration is None


def test_live_timeline_uses_the_calibration(model, takes):
    dashboard = EmotionDashboard(model=model, live_interval=1e-6)
    for y, sr, _ in takes[:3]:
        dashboard.calibrator.add_take(y, sr)
    y, sr, _ = takes[4]
    calls = []
    predict = model.predict
    dashboard.model = SimpleNamespace(predict=lambda *a, **k: calls.append(k) or predict(*a, **k))
    dashboard.recorder.recording = True
    pcm = (np.clip(y, -1, 1) * 32767).astype("<i2")
    dashboard.recorder._handle_message(dashboard.recorder, {"type": "chunk", "seq": 0, "sr": sr},
                                       [memoryview(pcm.tobytes())])
    assert calls and calls[0]["calibration"] is dashboard.calibration
    assert dashboard.panel.timeline[-1]["label"] in model.labels


def test_dashboard_without_a_calibratable_model_has_no_calibration_step(network):
    dashboard = EmotionDashboard(model=network)
    assert dashboard.calibrator is None and dashboard.calibration is None and dashboard.corrector is None
    assert dashboard.children == (dashboard.inputs, dashboard.panel)


def test_state_follows_the_takes_and_rejects_unknown_values(model, takes):
    import traitlets

    calibrator = Calibrator(model)
    states = []
    calibrator.observe(lambda change: states.append(change["new"]), names="state")
    assert calibrator.state == "empty" and 'data-state="empty"' in calibrator.status_line.value
    for y, sr, _ in takes[:MIN_CALIBRATION_CLIPS]:
        calibrator.add_take(y, sr)
    assert states == ["collecting", "calibrated"] and 'data-state="calibrated"' in calibrator.status_line.value
    calibrator.reset()
    assert calibrator.state == "empty"
    with pytest.raises(traitlets.TraitError, match="'done'"):
        calibrator.state = "done"


def test_on_change_callbacks_fire_until_removed(model, takes):
    calibrator = Calibrator(model)
    seen = []
    calibrator.on_change(seen.append)
    calibrator.add_take(*takes[0][:2])
    calibrator.on_change(seen.append, remove=True)
    calibrator.add_take(*takes[1][:2])
    calibrator.reset()
    assert seen == [None]  # one take, not calibrated yet; nothing after the removal


def test_limits_default_to_a_take_and_reach_the_takes_recorder(model, takes):
    import traitlets

    calibrator = Calibrator(model)
    assert (calibrator.max_seconds, calibrator.min_seconds) == (TAKE_SECONDS, MIN_CLIP_SECONDS)
    assert calibrator.recorder.max_seconds == TAKE_SECONDS
    calibrator.max_seconds, calibrator.max_bytes = 4.0, 2**20
    assert (calibrator.recorder.max_seconds, calibrator.recorder.max_bytes) == (4.0, 2**20)
    with pytest.raises(traitlets.TraitError, match="below max_seconds"):
        calibrator.min_seconds = 4.0
    # min_seconds is the least speech per take: raising it refuses a take that was fine.
    y, sr, _ = takes[0]
    calibrator.min_seconds = 3.9
    assert not calibrator.add_take(y, sr) and "each needs at least 3.9 s" in calibrator.message
    shorter = Calibrator(model, max_seconds=5.0)
    assert shorter.max_seconds == shorter.recorder.max_seconds == 5.0


# -- corrections ------------------------------------------------------------------------------
def calibrated_dashboard(model, takes, n=MIN_CALIBRATION_CLIPS):
    dashboard = EmotionDashboard(model=model)
    for y, sr, _ in takes[:n]:
        assert dashboard.calibrator.add_take(y, sr)
    return dashboard


def test_a_correction_becomes_a_labelled_take_and_undo_takes_it_back(model, takes):
    dashboard = calibrated_dashboard(model, takes, n=4)
    calibrator, corrector, cal = dashboard.calibrator, dashboard.corrector, dashboard.calibration
    assert corrector.state == "hidden" and corrector.children == ()
    y, sr, _ = takes[6]
    record(dashboard.recorder, y, sr)
    assert corrector.state == "offered" and corrector.children == (corrector.wrong_button,)
    top = dashboard.panel.top
    later = takes[7][2]
    before = model.predict_file(later, calibration=cal)

    corrector.wrong_button.click()
    assert corrector.state == "choosing" and corrector.choices in corrector.children
    shown = [b.description for b in corrector.choices.children if b.layout.display != "none"]
    assert top not in shown and len(shown) == len(model.labels) - 1
    label = next(label for label in model.labels if label != top)
    next(b for b in corrector.choices.children if b.description == label).click()

    # The result's own features (not encoded again) are now a labelled take: statistics and label.
    analysis = corrector.analysis
    assert corrector.state == "corrected" and calibrator.corrections == [(label, False)]
    assert cal.n_clips == 5 and cal.n_labelled == 5 and cal.labels[-1] == label
    np.testing.assert_allclose(cal._takes[-1], analysis.features.reshape(-1))
    assert f"Noted: it was {label}" in corrector.note.value and "this session only" in corrector.note.value
    assert corrector.children == (corrector.undo_button, corrector.note)
    assert calibrator.scorecard.leave_one_out.n == 5 and "correction" in calibrator.timings
    assert model.predict_file(later, calibration=cal) != before          # later results use it

    corrector.undo_button.click()
    assert corrector.state == "offered" and "Correction undone" in corrector.note.value
    assert cal.n_clips == 4 and cal.n_labelled == 4 and calibrator.corrections == []
    assert calibrator.scorecard.leave_one_out.n == 4
    np.testing.assert_allclose(list(model.predict_file(later, calibration=cal).values()), list(before.values()),
                               atol=1e-9)

    # The next result withdraws the offer about this one; an upload is not offered at all.
    dashboard.uploader.send = lambda content, buffers=None: None
    dashboard.uploader._handle_message(dashboard.uploader, {"type": "upload", "name": "x.wav"},
                                       [memoryview(wav(y, sr))])
    assert dashboard.panel.state == "result" and corrector.state == "hidden"


def test_a_learned_recording_is_relabelled_not_counted_twice(model, takes):
    dashboard = calibrated_dashboard(model, takes)
    calibrator, corrector, cal = dashboard.calibrator, dashboard.corrector, dashboard.calibration
    calibrator.keep_learning = True
    y, sr, _ = takes[6]
    record(dashboard.recorder, y, sr)
    assert cal.n_clips == 4 and cal.n_labelled == 3 and corrector.learned
    mean = cal.mean.copy()
    corrector.choose("sad")
    assert cal.n_clips == 4 and cal.n_labelled == 4 and cal.labels[-1] == "sad"
    np.testing.assert_array_equal(cal.mean, mean)
    assert calibrator.corrections == [("sad", True)]
    corrector.undo()
    assert cal.n_clips == 4 and cal.n_labelled == 3  # still learned, as keep-learning had it


def test_reset_forgets_corrections_and_no_correction_before_calibrating(model, takes):
    dashboard = calibrated_dashboard(model, takes)
    calibrator, corrector = dashboard.calibrator, dashboard.corrector
    y, sr, _ = takes[6]
    record(dashboard.recorder, y, sr)
    corrector.choose("fear")
    assert calibrator.corrections == [("fear", False)]
    calibrator.reset()
    assert calibrator.corrections == [] and corrector.state == "hidden" and not calibrator.scorecard.shown
    assert calibrator.scorecard.layout.display == "none"
    record(dashboard.recorder, y, sr)  # not calibrated: nothing to teach
    assert dashboard.panel.state == "result" and corrector.state == "hidden"
    with pytest.raises(ValueError, match="not calibrated"):
        calibrator.correct(SimpleNamespace(features=np.zeros((4, 1024)), duration=2.0), "sad")


def test_a_correction_must_name_one_of_the_models_feelings(model, takes):
    dashboard = calibrated_dashboard(model, takes)
    y, sr, _ = takes[6]
    record(dashboard.recorder, y, sr)
    with pytest.raises(ValueError, match="not among"):
        dashboard.calibrator.correct(dashboard.corrector.analysis, "bored")
    assert dashboard.calibration.n_clips == MIN_CALIBRATION_CLIPS


def test_a_saved_calibration_keeps_takes_and_corrections(model, takes, tmp_path):
    dashboard = calibrated_dashboard(model, takes)
    y, sr, _ = takes[6]
    record(dashboard.recorder, y, sr)
    dashboard.corrector.choose("sad")
    saved = Calibration.load(dashboard.calibrator.save(tmp_path / "me.json"), encoder_sha256=model.encoder.sha256)
    assert saved.labels == [p.emotion for p in PROMPTS[:3]] + ["sad"]
    later = takes[7][2]
    np.testing.assert_allclose(list(model.predict_file(later, calibration=saved).values()),
                               list(model.predict_file(later, calibration=dashboard.calibration).values()), atol=1e-4)


def test_the_correction_is_said_before_the_calibration_refits(model, takes):
    # The scorecard refits once per take after the update: the page says "Noted" before that starts.
    dashboard = calibrated_dashboard(model, takes)
    calibrator, corrector = dashboard.calibrator, dashboard.corrector
    y, sr, _ = takes[6]
    record(dashboard.recorder, y, sr)
    seen = []
    correct = calibrator.correct
    calibrator.correct = lambda *a, **k: seen.append(corrector.note.value) or correct(*a, **k)
    corrector.choose("sad")
    assert "Noted: it was sad" in seen[0] and f"({MIN_CALIBRATION_CLIPS + 1} with a feeling)" in seen[0]
    assert dashboard.calibration.n_labelled == MIN_CALIBRATION_CLIPS + 1
    calibrator.correct = lambda *a, **k: (_ for _ in ()).throw(ValueError("broken"))
    corrector.undo()
    with pytest.raises(ValueError, match="broken"):
        corrector.choose("fear")
    assert corrector.state == "offered" and corrector.note.value == ""  # nothing claimed that did not happen
