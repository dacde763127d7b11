"""EmotionDashboard: record or upload speech, see its emotion — in a notebook or in Voilà.

Composes :class:`Recorder` (or an ipywebrtc ``AudioRecorder``), :class:`Uploader` and
:class:`EmotionPanel` around one model (:mod:`serwidgets.model`). While recording, the panel's timeline follows the
last window of audio; when recording stops, the whole take is analysed.

With a model that can be calibrated (an encoder model), a :class:`Calibrator` step sits between
the inputs and the result: once calibrated, every analysis uses the calibration and the panel
says so; with "keep learning" on, later recordings update it; under a recording's result, a
:class:`Corrector` offers "that's wrong — it was …", which teaches the calibration.
"""

from __future__ import annotations

import ctypes
import functools
import io
import logging
import os
import time

import ipywidgets
import numpy as np

from serwidgets.audio import TARGET_SR

from .calibrator import Calibrator
from .corrector import Corrector
from .panel import EmotionPanel, no_speech_message
from .recorder import STOP_SLACK_SECONDS, Recorder
from .uploader import MAX_UPLOAD_BYTES, Uploader

log = logging.getLogger(__name__)

#: Title of the emotion flow's tab (when the dashboard has more tabs).
FLOW_TITLE = "Emotions"

IDLE_HINT = "Press Record and say a sentence (about 3 seconds), then Stop — or upload a recording."


class EmotionDashboard(ipywidgets.VBox):
    """The record-and-predict dashboard.

    Parameters
    ----------
    model : serwidgets.model.Model, optional
        What answers. Default: :func:`serwidgets.load_model` (the shipped bundle), loaded when
        the dashboard is created. Without a bundle the dashboard says so instead of failing.
    source : ipywebrtc.AudioRecorder, optional
        Record with ipywebrtc instead of the built-in :class:`Recorder`; each finished
        recording (webm/opus) is decoded with :func:`serwidgets.audio.decode` and analysed.
    max_seconds : float
        Longest recording, in seconds (recording stops by itself).
    max_upload_seconds : float
        Longest upload, in seconds.
    max_upload_bytes : int
        Largest upload (bytes): the browser refuses larger files before sending them, with a
        message. Keep it below the server's websocket message limit (``config/voila.json``).
    live_interval : float
        Seconds between two live timeline updates while recording.
    num_threads : int, optional
        Threads of the default model's runtime. Default: ``$SER_NUM_THREADS`` if set (the
        dashboard server sets 1: many kernels share the cores), else the model's default.
    tabs : dict, optional
        More tabs beside the emotion flow (which stays the first tab, shown first): title ->
        ``factory(model)`` returning the tab's widget, called when the tab is first opened. The
        served dashboard adds ``{"Teach it": serwidgets.Teacher}``.

    Examples
    --------
    >>> import serwidgets
    >>> serwidgets.EmotionDashboard()                               # doctest: +SKIP

    With ipywebrtc as the microphone:

    >>> from ipywebrtc import AudioRecorder, CameraStream
    >>> mic = AudioRecorder(stream=CameraStream(constraints={"audio": True, "video": False}))
    >>> serwidgets.EmotionDashboard(source=mic)                     # doctest: +SKIP
    """

    def __init__(self, model=None, source=None, max_seconds: float = 30.0, max_upload_seconds: float = 120.0,
                 max_upload_bytes: int = MAX_UPLOAD_BYTES, live_interval: float = 0.5,
                 num_threads: int | None = None, tabs: dict | None = None, **kwargs):
        if live_interval <= 0:
            raise ValueError(f"live_interval must be positive, got {live_interval}")
        self.live_interval = live_interval
        self.panel = EmotionPanel()
        self.recorder = Recorder(max_seconds=max_seconds)
        self.uploader = Uploader(max_seconds=max_upload_seconds, max_bytes=max_upload_bytes)
        self.source = source
        if source is None:
            microphone = self.recorder
            self.recorder.on_recording(self._analyze_recording)
            self.recorder.on_chunk(self._follow_chunk)
            self.recorder.observe(self._recording_changed, names="recording")
        else:
            microphone = source
            source.audio.observe(self._analyze_webrtc, names="value")
        # The dashboard is a column of steps: inputs, then the result. Add a step (e.g. a
        # calibration) by inserting a widget into ``children``.
        self.inputs = ipywidgets.HBox([microphone, self.uploader])
        self.inputs.add_class("ser-inputs")
        super().__init__(children=[self.inputs, self.panel], **kwargs)
        self.add_class("ser-dashboard")
        self.uploader.on_upload(self._analyze_upload)
        self.uploader.on_refused(lambda _message: self.clear_result())
        self.recorder.observe(self._input_refused, names="status")
        self._live = _LiveBuffer()
        if num_threads is None and os.environ.get("SER_NUM_THREADS", "").isdigit():
            num_threads = int(os.environ["SER_NUM_THREADS"]) or None
        self.num_threads = num_threads
        self.model = model if model is not None else self._load_default()
        self.calibrator = self.corrector = None
        if self.model is not None:
            self.panel.labels = list(self.model.labels)
            self.panel.model_info = describe_model(self.model)
            self.panel.window = float(self.model.window)
            self.panel.message = IDLE_HINT
            self._warm_up()
            if self.model.calibratable:
                self._add_calibrator()
        self.tabs = None
        if tabs and self.model is not None:
            self._add_tabs(dict(tabs))

    def _add_calibrator(self) -> None:
        # Its own Recorder shows only while its prompts are open; the main inputs hide meanwhile,
        # so there is one Record button on the screen, and it records what the prompt asks for.
        self.calibrator = Calibrator(self.model, opened=False)
        self.calibrator.observe(self._calibrator_opened, names="opened")
        self.corrector = Corrector(self.calibrator)
        # Whatever the panel shows next, the correction on screen was about the result before it.
        self.panel.observe(lambda _change: self.corrector.withdraw(), names="revision")
        self.children = [self.inputs, self.calibrator, self.panel, self.corrector]

    def _add_tabs(self, tabs: dict) -> None:
        # The emotion flow moves, as it is, into the first tab; another tab's widget is built when
        # the tab is first opened, so a page that never opens it pays nothing for it.
        self.flow = ipywidgets.VBox(self.children)
        self.flow.add_class("ser-flow")
        self.tabs = ipywidgets.Tab([self.flow] + [ipywidgets.VBox() for _ in tabs], titles=[FLOW_TITLE, *tabs],
                                   selected_index=0)
        self.tab_factories, self.opened_tabs = tabs, {}
        self.tabs.observe(self._tab_selected, names="selected_index")
        self.children = [self.tabs]

    def _tab_selected(self, change) -> None:
        if not change["new"]:
            return
        title = self.tabs.titles[change["new"]]
        if title in self.opened_tabs:
            return
        try:
            self.opened_tabs[title] = widget = self.tab_factories[title](self.model)
        except Exception as error:  # shown in the tab: in Voilà the kernel log is invisible
            log.exception("building the %r tab failed", title)
            self.opened_tabs[title] = widget = ipywidgets.Label(f"{title} is not available: {error}")
        self.tabs.children[change["new"]].children = [widget]

    def _calibrator_opened(self, change) -> None:
        self.inputs.layout.display = "none" if change["new"] else None

    @property
    def calibration(self):
        """The :class:`~serwidgets.calibration.Calibration` analyses use now (None: not calibrated)."""
        return None if self.calibrator is None else self.calibrator.calibration

    def _load_default(self):
        import serwidgets

        try:
            if self.num_threads is None:
                return serwidgets.load_model()
            return serwidgets.load_model(num_threads=self.num_threads)
        except FileNotFoundError as error:
            self.panel.show_message("no_model", f"No model yet: {error}. Train and export one (see the README).")
        except Exception as error:  # a broken bundle must not take the page down with it
            log.exception("loading the default model failed")
            self.panel.show_message("no_model", f"Could not load the model: {type(error).__name__}: {error}")
        return None

    def _warm_up(self) -> None:
        # The first prediction pays for imports (scipy.fft) and the runtime's first run: ~0.8 s.
        # Pay it now, not on the first stop click (Voilà's preheated kernel hides it entirely).
        # A voice-like buzz (harmonics of a pitch gliding around 150 Hz, syllable-rate envelope)
        # passes the speech detector, which refuses a steady pitch.
        from serwidgets import audio

        sr = self.model.sr
        t = np.arange(int(1.5 * sr)) / sr
        phase = 2 * np.pi * np.cumsum(150 * (1 + 0.1 * np.sin(6 * np.pi * t))) / sr
        buzz = sum(np.sin(k * phase) / k for k in range(1, 12))
        y = (0.1 * buzz * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
        try:
            self.model.predict(y, sr)
        except audio.AudioError:
            log.info("warm-up clip refused by the audio checks; the first prediction will be slower")

    # -- whole clips ---------------------------------------------------------------------
    def analyze(self, y: np.ndarray, sr: int, status_widget=None):
        """Analyse audio ``y`` at ``sr`` Hz and show the result; problems go to ``status_widget.status``.

        Uses the calibration when there is one. Returns the :class:`~serwidgets.model.Analysis`
        shown, or None.
        """
        from serwidgets import audio

        if self.model is None:
            return None  # the panel already explains that there is no model
        calibration = self.calibration
        try:
            analysis = self.model.analyze(y, sr, calibration=calibration)
        except audio.NoSpeechError as error:
            self.panel.show_message("no_speech", no_speech_message(error))
            return None
        except audio.AudioError as error:  # whatever the error says, shown where it came from
            if status_widget is None:
                self.panel.show_message("error", str(error))
            else:
                self.clear_result()
                status_widget.status = str(error)
            return None
        self.recorder.status = self.uploader.status = ""
        self.panel.show(analysis, calibration_info=describe_calibration(calibration))
        give_back_memory()
        return analysis

    def _analyze_and_learn(self, y: np.ndarray, sr: int, status_widget=None) -> None:
        """A recording of the user's voice: analyse it, then let the calibration learn from it."""
        analysis = self.analyze(y, sr, status_widget=status_widget)
        if analysis is None or self.calibrator is None:
            return
        learned = False
        try:  # the result is shown already: learning must not replace it with an error
            learned = self.calibrator.learn(analysis)
            if learned:
                log.info("calibration updated from a recording: %d clips", self.calibration.n_clips)
        except Exception:
            log.exception("updating the calibration from a recording failed")
        self.corrector.offer(analysis, learned=learned)

    def clear_result(self) -> None:
        """Take the last result off the screen: a failed input was about another clip."""
        if self.panel.state != "no_model":
            self.panel.show_message("idle", IDLE_HINT)

    def _input_refused(self, change) -> None:
        if change["new"]:
            self.clear_result()

    def _analyze_recording(self, wav: bytes) -> None:
        from serwidgets import audio

        try:
            y, sr = self.recorder.decode(wav)
        except audio.AudioError as error:  # the browser sent something broken, or too long
            self.recorder.status = f"Could not read the recording: {error}"
            return
        self._guard(lambda: self._analyze_and_learn(y, sr, status_widget=self.recorder))

    def _analyze_upload(self, _y: np.ndarray, _sr: int, name: str) -> None:
        # The model reads the uploaded file itself (the uploader has checked its size and
        # length), so what its checks say names the file: samples alone are "<array>".
        upload = io.BytesIO(self.uploader.last_upload[1])
        upload.name = name
        self._guard(lambda: self.analyze(upload, None, status_widget=self.uploader))

    def _analyze_webrtc(self, change) -> None:
        from serwidgets import audio

        from .webrtc import recorder_audio

        if not change["new"]:
            return
        try:
            y, sr = recorder_audio(self.source, max_seconds=self.recorder.max_seconds + STOP_SLACK_SECONDS)
        except audio.AudioError as error:
            self.panel.show_message("error", f"Could not read the recording: {error}")
            return
        self._guard(lambda: self._analyze_and_learn(y, sr))

    def _guard(self, action) -> None:
        # Widget callbacks run inside comm handlers: an exception would only reach the kernel
        # log (invisible in Voilà), so it is shown in the panel as well.
        try:
            action()
        except Exception as error:
            log.exception("analysis failed")
            self.panel.show_message("error", f"Analysis failed: {type(error).__name__}: {error}")

    # -- live timeline while recording ---------------------------------------------------
    def _recording_changed(self, change) -> None:
        if change["new"]:
            self._live = _LiveBuffer()
            if self.model is not None:
                self.panel.start_live()

    def _follow_chunk(self, samples: np.ndarray, sr: int) -> None:
        live = self._live
        live.append(samples, sr)
        if self.model is None:
            return
        now = time.monotonic()
        if now - live.updated < self.live_interval or live.seconds - live.shown < 0.25:
            return
        live.updated = now
        self._guard(lambda: self._add_live_segment(live))

    def _add_live_segment(self, live: "_LiveBuffer") -> None:
        from serwidgets import audio

        try:
            y = live.last(self.panel.window)
            probabilities = self.model.predict(y, live.sr, calibration=self.calibration)
        except audio.AudioError:  # silence or too little speech so far
            probabilities = None
        else:
            probabilities = [probabilities[label] for label in self.panel.labels]
        self.panel.add_segment(live.shown, live.seconds, probabilities)
        live.shown = live.seconds


class _LiveBuffer:
    """The take being recorded: its length, and its last ``keep_seconds`` of audio."""

    def __init__(self, keep_seconds: float = 10.0):
        self.keep_seconds = keep_seconds
        self.parts: list[np.ndarray] = []
        self.kept = 0
        self.seconds = 0.0  # total length of the take so far
        self.shown = 0.0  # end of the last timeline segment
        self.updated = 0.0  # monotonic time of the last timeline update
        self.sr = TARGET_SR

    def append(self, samples: np.ndarray, sr: int) -> None:
        self.sr = sr
        self.parts.append(samples)
        self.kept += len(samples)
        self.seconds += len(samples) / sr
        while self.parts and self.kept - len(self.parts[0]) >= self.keep_seconds * sr:
            self.kept -= len(self.parts.pop(0))

    def last(self, seconds: float) -> np.ndarray:
        y = np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)
        return y[-int(seconds * self.sr):]


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc's; the process has it loaded already
    except (OSError, AttributeError):  # another C library (macOS, musl): nothing to do
        return None


def give_back_memory() -> bool:
    """Return the heap pages the last analysis freed to the system; False where that cannot be done.

    glibc keeps freed heap memory for the process's next allocations, so a kernel would hold
    the peak of every analysis for as long as its page is open: about 10 MiB more per person
    (``benchmarks/bench_memory.py``, issue 20). Called once per result, not per live update.

    Examples
    --------
    >>> give_back_memory() in (True, False)
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def describe_calibration(calibration) -> str:
    """The panel's words for a calibration (its badge's tooltip); "" for None.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> describe_calibration(SimpleNamespace(n_clips=4, seconds=11.04))
    'Calibrated to your voice from 4 clips (11.0 s of speech)'
    >>> describe_calibration(None)
    ''
    """
    if calibration is None:
        return ""
    return f"Calibrated to your voice from {calibration.n_clips} clips ({calibration.seconds:.1f} s of speech)"


def describe_model(model) -> str:
    """One line naming the model and its honest (cross-validated) accuracy from its card.

    The card (:class:`~serwidgets.card.ModelCard`) holds UA/WA in ``metrics``; a value may be
    a number or ``{"mean", "std"}``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> metrics = {"UA": 0.612, "WA": 0.634, "protocol": "loso"}
    >>> describe_model(SimpleNamespace(name="demo", backend="numpy", labels=("a", "b"),
    ...                                card=SimpleNamespace(metrics=metrics)))
    'Model demo (numpy): 2 emotions; cross-validated UA 61.2%, WA 63.4%, loso; chance 50.0%'
    """
    head = f"Model {model.name} ({model.backend})"
    metrics = model.card.metrics
    scores = []
    for key in ("UA", "WA"):
        value = metrics.get(key)
        if isinstance(value, dict) and value.get("mean") is not None:
            std = f" ± {100 * value['std']:.1f}" if value.get("std") is not None else ""
            scores.append(f"{key} {100 * value['mean']:.1f}%{std}")
        elif isinstance(value, (int, float)):
            scores.append(f"{key} {100 * value:.1f}%")
    protocol = metrics.get("protocol")
    if scores:
        accuracy = "cross-validated " + ", ".join(scores + ([protocol] if protocol else []))
        accuracy += f"; chance {100 / len(model.labels):.1f}%"
    else:
        accuracy = "no cross-validated accuracy in its card"
    return f"{head}: {len(model.labels)} emotions; {accuracy}"
