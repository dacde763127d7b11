"""Widgets on the kernel side (no browser): limits, messages, what the panel is given.

Audio is real (EmoDB, RAVDESS) and the model is the shipped one.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
import traitlets

from serwidgets.audio import TARGET_SR
from serwidgets.widgets import Calibrator, EmotionDashboard, EmotionPanel, Recorder, Uploader, recorder_audio
from serwidgets.widgets.limits import Limits
from serwidgets.widgets.panel import STATIC, envelope, spectrogram_image, timeline_segments, wav_bytes

REPO = Path(__file__).resolve().parents[1]
UTTERANCE = "03a05Wa.wav"  # EmoDB, speaker 03, angry, 3.4 s


@pytest.fixture(scope="module")
def model():
    import serwidgets

    return serwidgets.load_model()


@pytest.fixture(scope="module")
def speech_wav(emodb_root) -> bytes:
    return (emodb_root / "wav" / UTTERANCE).read_bytes()


def wav(y: np.ndarray, sr: int = TARGET_SR) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, y, sr, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def webm_opus(y: np.ndarray, sr: int) -> bytes:
    """Encode like a browser's MediaRecorder does: webm container, Opus at 48 kHz."""
    import av
    import soxr

    pcm = (np.clip(soxr.resample(y, sr, 48000), -1, 1) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48000, layout="mono")
        for start in range(0, len(pcm), 960):  # Opus takes 20 ms frames
            block = np.pad(pcm[start:start + 960], (0, max(0, start + 960 - len(pcm))))
            frame = av.AudioFrame.from_ndarray(block[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


# -- Limits (shared by Recorder, Uploader and Calibrator) ---------------------------------
@pytest.mark.parametrize("widget", [Recorder, Uploader])
@pytest.mark.parametrize("settings, message", [
    ({"max_seconds": 0}, "max_seconds must be in"),
    ({"max_seconds": -1.0}, "max_seconds must be in"),
    ({"min_seconds": -0.5}, "min_seconds must be at least 0"),
    ({"max_seconds": 2.0, "min_seconds": 2.0}, "must be (above|below)"),
    ({"max_bytes": 10}, "max_bytes must be at least 1024"),
])
def test_limits_reject_bad_settings(widget, settings, message):
    with pytest.raises(traitlets.TraitError, match=message):
        widget(**settings)


def test_limits_are_one_mixin_with_each_widgets_defaults_and_ceiling():
    from serwidgets.widgets.uploader import MAX_UPLOAD_BYTES

    assert all(issubclass(w, Limits) for w in (Recorder, Uploader, Calibrator))
    recorder, uploader = Recorder(), Uploader()
    assert (recorder.max_seconds, recorder.min_seconds, recorder.max_bytes) == (30.0, 0.0, 16 * 2**20)
    assert (uploader.max_seconds, uploader.min_seconds, uploader.max_bytes) == (120.0, 0.0, MAX_UPLOAD_BYTES)
    # The ceiling on max_seconds is per class: 600 s of recording, an hour of upload.
    with pytest.raises(traitlets.TraitError, match=r"\(0, 600\]"):
        Recorder(max_seconds=601)
    assert Uploader(max_seconds=3600).max_seconds == 3600
    with pytest.raises(traitlets.TraitError, match=r"\(0, 3600\]"):
        Uploader(max_seconds=3601)
    # min < max holds whichever is changed, and a rejected value leaves the old one.
    recorder.min_seconds = 1.0
    with pytest.raises(traitlets.TraitError, match="above min_seconds"):
        recorder.max_seconds = 0.5
    assert recorder.max_seconds == 30.0
    with pytest.raises(traitlets.TraitError, match="below max_seconds"):
        recorder.min_seconds = 30.0
    assert recorder.min_seconds == 1.0
    # Set together (constructor), they are checked together: this order is fine.
    assert Recorder(min_seconds=40.0, max_seconds=50.0).min_seconds == 40.0
    # Synced, so the browser applies the same limits.
    assert all(uploader.trait_metadata(name, "sync") for name in ("max_seconds", "min_seconds", "max_bytes"))


# -- Recorder ----------------------------------------------------------------------------
@pytest.mark.parametrize("trait, value", [("chunk_seconds", 0.6), ("chunk_seconds", 0.0), ("sr", 4000),
                                          ("sr", 96000)])
def test_recorder_rejects_bad_settings(trait, value):
    with pytest.raises(traitlets.TraitError, match=trait):
        Recorder(**{trait: value})


def test_recorder_sample_rate_is_synced_from_python():
    """The browser resamples to the ``sr`` trait: serwidgets.audio.TARGET_SR, not a number in the JS."""
    recorder = Recorder()
    assert recorder.sr == TARGET_SR and recorder.trait_metadata("sr", "sync")
    assert "sr" in recorder.keys  # sent to the browser with the widget's state
    js = (REPO / "serwidgets" / "widgets" / "static" / "recorder.js").read_text()
    assert "16000" not in js and 'model.get("sr")' in js
    assert "16000" not in (REPO / "serwidgets" / "widgets" / "static" / "panel.js").read_text()
    chunks = []
    recorder = Recorder(sr=8000)
    recorder.on_chunk(lambda samples, sr: chunks.append(sr))
    pcm = np.zeros(80, "<i2").tobytes()
    recorder._handle_message(recorder, {"type": "chunk", "seq": 0}, [memoryview(pcm)])  # no rate: the trait's
    recorder._handle_message(recorder, {"type": "chunk", "seq": 1, "sr": 8000}, [memoryview(pcm)])
    assert chunks == [8000, 8000]


def test_recorder_callbacks_fire_until_removed(speech_wav):
    recorder = Recorder()
    takes, chunks = [], []
    recorder.on_recording(takes.append)
    recorder.on_recording(takes.append)  # registered once
    recorder.on_chunk(chunks.append)
    recorder._handle_message(recorder, {"type": "recording"}, [memoryview(speech_wav)])
    assert takes == [speech_wav]
    recorder.on_recording(takes.append, remove=True)
    recorder.on_chunk(chunks.append, remove=True)
    recorder.on_chunk(print, remove=True)  # never registered: nothing happens
    recorder._handle_message(recorder, {"type": "recording"}, [memoryview(speech_wav)])
    recorder._handle_message(recorder, {"type": "chunk", "seq": 0}, [memoryview(b"\0\0")])
    assert takes == [speech_wav] and chunks == [] and recorder.last_recording == speech_wav


def test_recorder_refuses_recordings_under_min_seconds(speech_wav):
    recorder = Recorder(min_seconds=4.0)  # the take is 3.4 s
    takes = []
    recorder.on_recording(takes.append)
    recorder._handle_message(recorder, {"type": "recording"}, [memoryview(speech_wav)])
    assert takes == [] and recorder.status == "The recording is too short: 3.4 s (at least 4 s). Record a longer clip."
    recorder.min_seconds = 3.0
    recorder._handle_message(recorder, {"type": "recording"}, [memoryview(speech_wav)])
    assert takes == [speech_wav] and recorder.status == ""


def test_recorder_passes_chunks_and_recordings(speech_wav):
    recorder = Recorder()
    chunks, takes = [], []
    recorder.on_chunk(lambda samples, sr: chunks.append((samples, sr)))
    recorder.on_recording(takes.append)
    pcm = np.array([0, 16384, -32768, 32767], dtype="<i2")
    chunk = {"type": "chunk", "seq": 0, "sr": TARGET_SR}
    recorder._handle_message(recorder, chunk, [memoryview(pcm.tobytes())])
    recorder._handle_message(recorder, {"type": "recording", "sr": TARGET_SR}, [memoryview(speech_wav)])
    samples, sr = chunks[0]
    assert sr == TARGET_SR and samples.dtype == np.float32
    np.testing.assert_allclose(samples, pcm / 32768.0)
    assert takes == [speech_wav] and recorder.last_recording == speech_wav
    assert recorder.status == ""


def test_recorder_refuses_recordings_over_its_limit(speech_wav):
    recorder = Recorder(max_bytes=len(speech_wav) - 1)
    takes = []
    recorder.on_recording(takes.append)
    recorder._handle_message(recorder, {"type": "recording"}, [memoryview(speech_wav)])
    assert takes == [] and recorder.last_recording is None
    assert "too large" in recorder.status


# -- Uploader ----------------------------------------------------------------------------
def test_uploader_decodes_a_ravdess_flac(ravdess_root):
    path = sorted(ravdess_root.glob("Actor_01/*.flac"))[0]
    uploader = Uploader()
    received = []
    uploader.on_upload(lambda y, sr, name: received.append((y, sr, name)))
    assert uploader.accept(path.read_bytes(), path.name)
    y, sr, name = received[0]
    assert sr == soundfile.info(path).samplerate and name == path.name
    assert len(y) == soundfile.info(path).frames
    assert uploader.status == ""


def test_uploader_explains_what_it_refuses(emodb_root):
    speech = (emodb_root / "wav" / UTTERANCE).read_bytes()
    uploader = Uploader(max_bytes=len(speech) - 1)
    received = []
    uploader.on_upload(lambda *args: received.append(args))
    assert not uploader.accept(speech, "big.wav")
    assert "big.wav is too large" in uploader.status
    uploader.max_bytes, uploader.max_seconds = 20 * 2**20, 2.0
    assert not uploader.accept(speech, "long.wav")
    assert uploader.status.startswith("long.wav: audio is 3.4 s long")
    assert not uploader.accept(b"meeting notes, not audio\n" * 100, "notes.wav")
    assert uploader.status.startswith("Could not read notes.wav")
    uploader.max_seconds, uploader.min_seconds = 60.0, 5.0
    assert not uploader.accept(speech, "short.wav")
    assert uploader.status == "short.wav is too short: 3.4 s (at least 5 s). Upload a longer recording."
    assert received == []
    with pytest.raises(traitlets.TraitError, match="max_seconds"):
        uploader.max_seconds = -1


def test_uploader_callbacks_fire_until_removed(emodb_root):
    speech = (emodb_root / "wav" / UTTERANCE).read_bytes()
    uploader = Uploader()
    names, refused = [], []
    listener = lambda y, sr, name: names.append(name)  # noqa: E731 - one object to register and remove
    uploader.on_upload(listener)
    uploader.on_refused(refused.append)
    assert uploader.accept(speech, "a.wav") and not uploader.accept(b"not audio", "b.txt")
    uploader.on_upload(listener, remove=True)
    uploader.on_refused(refused.append, remove=True)
    assert uploader.accept(speech, "c.wav") and not uploader.accept(b"not audio", "d.txt")
    assert names == ["a.wav"] and len(refused) == 1 and refused[0].startswith("Could not read b.txt")


def test_uploader_answers_every_message_and_reports_refusals(emodb_root):
    """What the browser sends: an upload within the limit, or a note that it refused a file."""
    from serwidgets.widgets.uploader import MAX_UPLOAD_BYTES

    uploader = Uploader(max_bytes=100_000)
    assert Uploader().max_bytes == MAX_UPLOAD_BYTES
    assert uploader.trait_metadata("max_bytes", "sync")  # the browser checks the same limit
    sent, refused, received = [], [], []
    uploader.send = lambda content, buffers=None: sent.append(content)
    uploader.on_refused(refused.append)
    uploader.on_upload(lambda y, sr, name: received.append(name))
    # Refused in the browser (only name and size arrive): same sentence as the browser shows.
    uploader._handle_message(uploader, {"type": "refused", "name": "talk.wav", "size": 173 * 2**20}, [])
    assert uploader.status == refused[-1] == (
        "talk.wav is too large: 173.0 MiB (limit 0.1 MiB). Upload a shorter recording.")
    speech = (emodb_root / "wav" / UTTERANCE).read_bytes()
    small = Uploader()
    small.send = lambda content, buffers=None: sent.append(content)
    small.on_upload(lambda y, sr, name: received.append(name))
    small._handle_message(small, {"type": "upload", "name": "a.wav", "size": len(speech)}, [memoryview(speech)])
    assert received == ["a.wav"] and small.status == ""
    # A file over the kernel's limit that got past the browser is refused here too.
    uploader._handle_message(uploader, {"type": "upload", "name": "b.wav"}, [memoryview(speech)])
    assert "b.wav is too large" in uploader.status and len(refused) == 2
    assert sent == [{"type": "done", "ok": False}, {"type": "done", "ok": True}, {"type": "done", "ok": False}]


# -- EmotionPanel ------------------------------------------------------------------------
def test_envelope_is_min_max_per_column():
    y = np.sin(np.linspace(0, 40 * np.pi, 16000)).astype(np.float32) * 0.5
    pairs = envelope(y, columns=100).reshape(100, 2)
    columns = np.array_split(y, 100)
    # equal-width columns, scaled so the loudest peak is 1
    np.testing.assert_allclose(pairs[:, 0], [c.min() / 0.5 for c in columns], atol=1e-3)
    np.testing.assert_allclose(pairs[:, 1], [c.max() / 0.5 for c in columns], atol=1e-3)
    assert envelope(np.zeros(0)).size == 0


def test_spectrogram_image_spans_0_to_255():
    spec = np.linspace(-80, 0, 64 * 10, dtype=np.float32).reshape(64, 10)
    image = spectrogram_image(spec)
    assert image.dtype == np.uint8 and image.shape == (64, 10)
    assert image.min() == 0 and image.max() == 255
    assert np.all(np.diff(image.ravel().astype(int)) >= 0)  # order kept


def test_timeline_segments_tile_the_clip():
    timeline = SimpleNamespace(starts=np.array([0.0, 1.0, 2.0]), ends=np.array([3.0, 4.0, 5.0]),
                               probabilities=np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]]), labels=("a", "b"))
    segments = timeline_segments(timeline)
    assert [(s["start"], s["end"], s["label"]) for s in segments] == [(0, 1, "a"), (1, 2, "b"), (2, 5, "a")]
    assert segments[1]["confidence"] == pytest.approx(0.8)


def test_panel_shows_a_real_analysis(model, emodb_root):
    analysis = model.analyze(str(emodb_root / "wav" / UTTERANCE))
    panel = EmotionPanel()
    panel.show(analysis)
    assert panel.state == "result" and panel.revision == 1 and panel.duration == analysis.duration
    assert panel.labels == list(model.labels)
    assert sum(panel.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert panel.top == analysis.top == model.labels[int(np.argmax(panel.probabilities))]
    rows, cols = panel.spectrogram_shape  # Whisper's log-mel: 80 bands, 10-ms frames
    assert (rows, cols) == (80, len(analysis.waveform) // 160) and len(panel.spectrogram) == rows * cols
    assert len(panel.waveform) == 4 * 2 * min(600, len(analysis.waveform))  # float32 pairs
    played, sr = soundfile.read(io.BytesIO(panel.audio))
    assert sr == analysis.sr == panel.sr and len(played) == len(analysis.waveform)
    assert panel.trait_metadata("sr", "sync")  # the waveform's caption says the rate
    panel.show_message("no_speech", "No speech detected")
    # None, not b"": a zero-length buffer breaks the browser's state update.
    assert panel.state == "no_speech" and panel.top == "" and panel.audio is None and panel.revision == 2
    assert panel.waveform is None and panel.spectrogram is None
    with pytest.raises(traitlets.TraitError, match="'happy'"):
        panel.state = "happy"
    with pytest.raises(traitlets.TraitError):
        panel.show_message("sleeping", "not a state")
    assert isinstance(EmotionPanel.class_traits()["state"], traitlets.Enum)
    assert panel.state == "no_speech"  # unchanged by the refused values


def test_panel_says_when_it_is_not_sure_and_why(model, emodb_root):
    import dataclasses

    from serwidgets.confidence import NOT_SURE

    analysis = model.analyze(str(emodb_root / "wav" / UTTERANCE))
    panel = EmotionPanel()
    panel.show(dataclasses.replace(analysis, not_sure=NOT_SURE))
    assert panel.not_sure == NOT_SURE and panel.message == "Not sure — tune the model to your voice."
    panel.show(dataclasses.replace(analysis, not_sure=""))
    assert panel.not_sure == "" and panel.message == ""
    panel.show(dataclasses.replace(analysis, not_sure=NOT_SURE))
    panel.show_message("no_speech", "No speech detected.")
    assert panel.not_sure == ""
    assert '"not_sure"' in (STATIC / "panel.js").read_text()   # the browser draws the badge from this trait


def test_wav_bytes_writes_the_rate_it_is_given():
    y = np.zeros(TARGET_SR // 10, np.float32)
    played, sr = soundfile.read(io.BytesIO(wav_bytes(y, 8000)))
    assert sr == 8000 and len(played) == len(y)


# -- EmotionDashboard --------------------------------------------------------------------
def test_dashboard_analyses_a_recording(model, speech_wav):
    dashboard = EmotionDashboard(model=model)
    assert dashboard.panel.model_info.startswith(f"Model {model.name}")
    dashboard.recorder._handle_message(dashboard.recorder, {"type": "recording"}, [memoryview(speech_wav)])
    panel = dashboard.panel
    assert panel.state == "result" and panel.top in model.labels
    expected = model.predict_file(speech_wav)
    np.testing.assert_allclose(panel.probabilities, [expected[label] for label in model.labels], atol=1e-5)


def test_dashboard_says_no_speech_for_silence(model):
    dashboard = EmotionDashboard(model=model)
    dashboard.recorder._handle_message(dashboard.recorder, {"type": "recording"},
                                       [memoryview(wav(np.zeros(32000, np.int16)))])
    assert dashboard.panel.state == "no_speech"
    assert "no speech detected" in dashboard.panel.message.lower()


def test_dashboard_follows_a_recording_live(model, emodb_root):
    y, sr = soundfile.read(emodb_root / "wav" / UTTERANCE, dtype="int16")
    dashboard = EmotionDashboard(model=model, live_interval=1e-6)
    dashboard.recorder.recording = True  # as the browser does before streaming
    assert dashboard.panel.state == "recording" and dashboard.panel.timeline_live
    chunk = sr // 4
    for seq, start in enumerate(range(0, len(y), chunk)):
        pcm = y[start:start + chunk].astype("<i2").tobytes()
        dashboard.recorder._handle_message(dashboard.recorder, {"type": "chunk", "seq": seq, "sr": sr},
                                           [memoryview(pcm)])
    segments = dashboard.panel.timeline
    assert len(segments) >= 4
    assert len(y) / sr - 0.25 <= segments[-1]["end"] <= len(y) / sr  # updates need >= 0.25 s of new audio
    assert all(a["end"] == b["start"] for a, b in zip(segments, segments[1:]))
    assert {s["label"] for s in segments} <= set(model.labels) | {""}


def test_dashboard_without_a_model_says_so(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("models/ser-emotion6 does not exist")

    monkeypatch.setattr("serwidgets.model.load_model", missing)
    dashboard = EmotionDashboard()
    assert dashboard.model is None
    assert dashboard.panel.state == "no_model" and "No model yet" in dashboard.panel.message


# -- ipywebrtc ---------------------------------------------------------------------------
def test_ipywebrtc_recording_is_decoded(model, emodb_root):
    from ipywebrtc import AudioRecorder

    from serwidgets import audio

    y, sr = soundfile.read(emodb_root / "wav" / UTTERANCE, dtype="float32")
    mic = AudioRecorder()
    with pytest.raises(audio.EmptyAudioError):
        recorder_audio(mic)
    dashboard = EmotionDashboard(model=model, source=mic)
    assert dashboard.children[0].children[0] is mic
    mic.audio.value = webm_opus(y, sr)  # what the browser's MediaRecorder hands over
    decoded, decoded_sr = recorder_audio(mic)
    assert decoded_sr == 48000
    assert len(decoded) / decoded_sr == pytest.approx(len(y) / sr, abs=0.05)
    assert dashboard.panel.state == "result" and dashboard.panel.top in model.labels


# -- the published dashboard -------------------------------------------------------------
def test_dashboard_notebook_is_committed_without_outputs():
    notebook = json.loads((REPO / "notebooks" / "dashboard.ipynb").read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert len(code) == 1 and "serwidgets.EmotionDashboard(" in "".join(code[0]["source"])
    assert all(cell.get("outputs", []) == [] and cell.get("execution_count") is None for cell in code)


def test_voila_reads_the_repository_config(tmp_path):
    """The dashboard server, started as ``ser dashboard`` starts it, sees config/voila.json."""
    import subprocess
    import sys

    from serwidgets.cli.dashboard import voila_env

    code = (
        "import json; from serwidgets.server import DashboardVoila; app = DashboardVoila(); app.initialize([]); "
        "c = app.config; km = c.MappingKernelManager; "
        "print(json.dumps([app.tornado_settings, app.ip, app.port, app.voila_configuration.strip_sources, "
        "app.max_kernels, app.allowed_hosts, app.voila_configuration.multi_kernel_manager_class.__name__, "
        "[km.cull_idle_timeout, km.cull_interval, km.cull_connected], app.voila_configuration.default_pool_size, "
        "c.VoilaExecutor.iopub_timeout, app.template_paths[0]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=voila_env(), cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    (tornado, ip, port, strip_sources, max_kernels, hosts, manager, cull, pool, iopub,
     template) = json.loads(out.stdout.strip().splitlines()[-1])
    # Uploads up to the uploader's limit must reach the kernel (the browser refuses larger ones).
    assert tornado["websocket_max_message_size"] > Uploader().max_bytes + 2**20
    assert (ip, port, strip_sources) == ("127.0.0.1", 8866, True)
    # A class of 30 with its teacher gets no busy page (issue 20; benchmarks/bench_people.py sizes it).
    assert max_kernels >= 31 and set(hosts) == {"localhost", "127.0.0.1", "::1"}
    assert manager == "DashboardKernelManager" and pool >= 1
    # Closed pages' kernels go within a minute; open pages (connected kernels) are never culled.
    timeout, interval, connected = cull
    assert timeout + interval <= 60 and connected is False
    assert iopub >= 10  # nbclient's 4 s default lost whole dashboards under load
    assert (Path(template) / "index.html.j2").is_file()  # the page without CDN links comes first
    env = voila_env({"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[1:] == ["/elsewhere"]


def test_host_check_allows_only_local_names():
    from serwidgets.server import _host_allowed

    local = ["localhost", "127.0.0.1", "::1"]
    for host in ["127.0.0.1:8866", "localhost:8866", "LOCALHOST", "[::1]:8866", "127.0.0.2:1"]:
        assert _host_allowed(host, local), host
    for host in ["evil.example:8866", "evil.example", "192.168.1.5:8866", "", "localhost.evil.example"]:
        assert not _host_allowed(host, local), host
    assert _host_allowed("dashboard.lan:8866", ["dashboard.lan"]) and _host_allowed("any", ["*"])


def test_ser_dashboard_runs_voila_on_the_notebook(monkeypatch):
    from serwidgets import cli
    from serwidgets.cli import dashboard

    calls = []
    monkeypatch.setattr(dashboard.subprocess, "call", lambda command, env, cwd: calls.append((command, env)) or 0)
    assert cli.main(["dashboard", "--no-browser", "--port", "9999"]) == 0
    (command, env), = calls
    assert command[1:4] == ["-m", "serwidgets.server", str(dashboard.NOTEBOOK)]
    assert "--port=9999" in command and "--no-browser" in command
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(dashboard.CONFIG_DIR)
    assert cli.main(["dashboard", "--notebook", "missing.ipynb"]) == 2


@pytest.mark.parametrize("metrics, expected", [
    ({"UA": 0.612, "WA": 0.634, "protocol": "loso"}, "cross-validated UA 61.2%, WA 63.4%, loso; chance 50.0%"),
    ({"UA": {"mean": 0.6, "std": 0.05}, "protocol": "loso"}, "cross-validated UA 60.0% ± 5.0, loso; chance 50.0%"),
    ({"UA": None, "protocol": "none"}, "no cross-validated accuracy in its card"),
    ({}, "no cross-validated accuracy in its card"),
])
def test_describe_model_quotes_the_cards_accuracy(metrics, expected):
    from serwidgets.widgets.dashboard import describe_model

    model = SimpleNamespace(name="m", backend="litert", labels=("a", "b"), card=SimpleNamespace(metrics=metrics))
    assert describe_model(model) == f"Model m (litert): 2 emotions; {expected}"


def test_describe_model_reads_the_shipped_card(model):
    from serwidgets.widgets.dashboard import describe_model

    ua = model.card.metrics["UA"]
    assert describe_model(model) == (f"Model ser-emotion6 (litert): 6 emotions; cross-validated UA {100 * ua:.1f}%, "
                                     f"WA {100 * model.card.metrics['WA']:.1f}%, speaker-kfold (5 folds); chance 16.7%")


def test_dashboard_clears_the_old_result_when_an_upload_fails(model, speech_wav):
    dashboard = EmotionDashboard(model=model)
    uploader, panel = dashboard.uploader, dashboard.panel
    uploader.send = lambda content, buffers=None: None
    upload = {"type": "upload", "name": "speech.wav"}
    uploader._handle_message(uploader, upload, [memoryview(speech_wav)])
    assert panel.state == "result" and panel.top in model.labels
    for content, buffers in [({"type": "upload", "name": "notes.wav"}, [memoryview(b"notes, not audio " * 40)]),
                             ({"type": "refused", "name": "huge.wav", "size": 2**30}, [])]:
        revision = panel.revision
        uploader._handle_message(uploader, content, buffers)
        assert panel.revision > revision and panel.state == "idle" and panel.top == "" and panel.audio is None
        assert content["name"] in uploader.status
        uploader._handle_message(uploader, upload, [memoryview(speech_wav)])  # and it still works
        assert panel.state == "result" and uploader.status == ""


def test_dashboard_reports_a_broken_recording(model, speech_wav):
    dashboard = EmotionDashboard(model=model)
    dashboard.recorder._handle_message(dashboard.recorder, {"type": "recording"}, [memoryview(speech_wav[:30])])
    assert dashboard.recorder.status.startswith("Could not read the recording")
    assert dashboard.panel.state == "idle"


# -- issue 20: what a hostile page can send ------------------------------------------------
def silent_flac(seconds: float, sr: int = TARGET_SR, stated: bool = True) -> bytes:
    """Digital silence as FLAC (minutes compress to kilobytes); ``stated=False``: length unknown."""
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", sr, 1, "PCM_16", format="FLAC") as f:
        for start in range(0, int(seconds * sr), 60 * sr):
            f.write(np.zeros(min(60 * sr, int(seconds * sr) - start), np.int16))
    data = bytearray(buffer.getvalue())
    if not stated:  # STREAMINFO's 36-bit total-samples field: 0 = unknown, as streaming encoders write
        data[21] &= 0xF0
        data[22:26] = bytes(4)
    return bytes(data)


def test_recorder_refuses_a_take_past_its_max_seconds_from_the_header():
    recorder = Recorder(max_seconds=30)
    takes = []
    recorder.on_recording(takes.append)
    long_take = silent_flac(590)
    assert len(long_take) < recorder.max_bytes  # the size limit alone let it through
    recorder._handle_message(recorder, {"type": "recording"}, [memoryview(long_take)])
    assert takes == [] and recorder.last_recording is None
    assert recorder.status == "Recording too long: 590.0 s (limit 30 s). Record a shorter clip."


def test_dashboard_decodes_a_recording_only_up_to_the_recorders_limit(model):
    import tracemalloc

    dashboard = EmotionDashboard(model, max_seconds=30)
    unstated = silent_flac(590, stated=False)  # no length in the header: only decoding can tell
    tracemalloc.start()
    dashboard.recorder._handle_message(dashboard.recorder, {"type": "recording"}, [memoryview(unstated)])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert dashboard.recorder.status.startswith("Could not read the recording: ")
    assert "at most 31 s is accepted" in dashboard.recorder.status
    assert dashboard.panel.state == "idle"
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # 590 s of float32 samples alone is 36 MiB


def test_dashboard_upload_messages_name_the_file(model, emodb_root):
    dashboard = EmotionDashboard(model)
    uploader = dashboard.uploader
    uploader.send = lambda content, buffers=None: None
    voice, sr = soundfile.read(emodb_root / "wav" / UTTERANCE, dtype="float32")
    with_nan = voice.copy()
    with_nan[1000:1010] = np.nan
    blip = np.zeros(sr, np.float32)
    blip[sr // 2:sr // 2 + sr // 20] = voice[sr:sr + sr // 20]  # 50 ms of speech in a second of silence
    for name, y, expected in [("nan.wav", with_nan, "nan.wav: audio contains 10 NaN or infinite samples"),
                              ("blip.wav", blip, "blip.wav: audio is 0.")]:
        buffer = io.BytesIO()
        soundfile.write(buffer, y, sr, subtype="FLOAT", format="WAV")
        uploader._handle_message(uploader, {"type": "upload", "name": name}, [memoryview(buffer.getvalue())])
        assert uploader.status.startswith(expected), uploader.status
        assert "<array>" not in uploader.status and dashboard.panel.state == "idle"


def test_dashboard_decodes_an_ipywebrtc_take_only_up_to_its_limit(model, emodb_root):
    from ipywebrtc import AudioRecorder

    y, sr = soundfile.read(emodb_root / "wav" / UTTERANCE, dtype="float32")  # 3.4 s
    mic = AudioRecorder()
    dashboard = EmotionDashboard(model, source=mic, max_seconds=2.0)
    mic.audio.value = webm_opus(y, sr)
    assert dashboard.panel.state == "error"
    assert dashboard.panel.message.startswith("Could not read the recording: the ipywebrtc recording: audio is")
    assert "at most 3 s is accepted" in dashboard.panel.message  # max_seconds and the stop's slack
