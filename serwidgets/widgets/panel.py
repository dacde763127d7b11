"""EmotionPanel: show one analysis — top emotion, all probabilities, what the model heard.

The kernel sends numbers and small byte arrays; the browser draws (bars, waveform envelope,
spectrogram, timeline strip) in ``static/panel.js``. That keeps matplotlib off the
dashboard's path and lets the label appear before the pictures.
"""

from __future__ import annotations

import io
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from serwidgets.audio import TARGET_SR

STATIC = Path(__file__).parent / "static"

#: A colour per emotion (canonical names, see ``serwidgets.labels``); others are grey.
EMOTION_COLORS = {
    "angry": "#d32f2f",
    "disgust": "#689f38",
    "fear": "#7b1fa2",
    "happy": "#f9a825",
    "neutral": "#757575",
    "sad": "#1976d2",
    "boredom": "#8d6e63",
    "calm": "#00897b",
    "surprise": "#ec407a",
    "excited": "#ff7043",
    "frustrated": "#5d4037",
}

#: What the panel shows: nothing yet, no model, a live recording, a result, or a message.
STATES = ("idle", "no_model", "recording", "result", "no_speech", "error")

#: Columns of the waveform envelope sent to the browser (one (min, max) pair each).
ENVELOPE_COLUMNS = 600


class EmotionPanel(anywidget.AnyWidget):
    """Display an :class:`~serwidgets.model.Analysis` and the model it came from.

    Examples
    --------
    >>> import serwidgets
    >>> from serwidgets.widgets import EmotionPanel
    >>> panel = EmotionPanel(labels=["angry", "happy", "sad"])
    >>> panel.show_message("no_speech", "No speech detected.")
    >>> panel.state, panel.revision
    ('no_speech', 1)
    >>> model = serwidgets.load_model()                     # doctest: +SKIP
    >>> panel.labels = list(model.labels)                   # doctest: +SKIP
    >>> panel.show(model.analyze("speech.wav"))             # doctest: +SKIP
    >>> panel                                               # doctest: +SKIP
    """

    _esm = STATIC / "panel.js"
    _css = STATIC / "widgets.css"

    state = traitlets.Enum(STATES, "idle", help="what is shown: one of " + ", ".join(STATES)).tag(sync=True)
    message = traitlets.Unicode("", help="status sentence (no speech, not sure, errors)").tag(sync=True)
    model_info = traitlets.Unicode("", help="which model answers, and how good it is").tag(sync=True)
    labels = traitlets.List(traitlets.Unicode(), help="the model's emotions, in output order").tag(sync=True)
    probabilities = traitlets.List(traitlets.Float(), help="one per label").tag(sync=True)
    top = traitlets.Unicode("").tag(sync=True)
    confidence = traitlets.Float(0.0).tag(sync=True)
    not_sure = traitlets.Unicode("", help="why the label should not be trusted; \"\" when sure").tag(sync=True)
    duration = traitlets.Float(0.0, help="seconds of speech analysed (after trimming)").tag(sync=True)
    calibrated = traitlets.Bool(False, help="the result used a calibration to the speaker's voice").tag(sync=True)
    calibration_info = traitlets.Unicode("", help="which calibration (the badge's tooltip)").tag(sync=True)
    colors = traitlets.Dict(EMOTION_COLORS).tag(sync=True)
    timeline = traitlets.List(traitlets.Dict(), help="segments: start, end, label, confidence").tag(sync=True)
    timeline_live = traitlets.Bool(False, help="True while the timeline follows a recording").tag(sync=True)
    window = traitlets.Float(3.0, help="seconds of audio behind each live timeline step").tag(sync=True)
    # Pictures and sound are None when there is nothing to show, never b"": a zero-length binary
    # buffer breaks the browser's state update ("Cannot read properties of undefined (reading
    # 'map')" in the widget manager, and the change is lost).
    waveform = traitlets.Bytes(None, allow_none=True, help="float32 (min, max) envelope pairs").tag(sync=True)
    spectrogram = traitlets.Bytes(None, allow_none=True, help="uint8 log-mel image, row-major").tag(sync=True)
    spectrogram_shape = traitlets.List(traitlets.Int(), [0, 0], minlen=2, maxlen=2).tag(sync=True)
    audio = traitlets.Bytes(None, allow_none=True, help="WAV for playback").tag(sync=True)
    sr = traitlets.Int(TARGET_SR, help="sample rate (Hz) of the waveform shown and played").tag(sync=True)
    revision = traitlets.Int(0, help="results and messages shown so far (tests wait on it)").tag(sync=True)

    @traitlets.validate("probabilities")
    def _check_probabilities(self, proposal):
        value = proposal["value"]
        if value and len(value) != len(self.labels):
            raise traitlets.TraitError(f"{len(value)} probabilities for {len(self.labels)} labels")
        return value

    def show(self, analysis, calibration_info: str = "") -> None:
        """Show an analysis: label and bars first, then the timeline, pictures and playback.

        The spectrogram drawn is Whisper's log-mel of the prepared clip, whatever the model
        (a picture of what was heard, computed after the label is on its way).

        A calibrated analysis (``analysis.calibrated``) is marked "calibrated to your voice";
        ``calibration_info`` says from what (the mark's tooltip). An analysis that is not sure
        (``analysis.not_sure``) is marked "not sure", and says why (e.g. "Not sure — tune the model
        to your voice.").
        """
        from serwidgets.features import whisper_log_mel

        labels = list(analysis.labels)
        with self.hold_sync():
            self.probabilities = []
            self.labels = labels
            self.probabilities = [float(p) for p in analysis.probabilities]
            self.top = analysis.top
            self.confidence = float(analysis.confidence)
            self.not_sure = analysis.not_sure
            self.duration = float(analysis.duration)
            self.calibrated = bool(getattr(analysis, "calibrated", False))
            self.calibration_info = calibration_info if self.calibrated else ""
            self.message = sentence(analysis.not_sure)
            self.state = "result"
            self.revision += 1
        with self.hold_sync():
            self.timeline_live = False
            self.timeline = timeline_segments(analysis.timeline) if analysis.timeline is not None else []
            self.waveform = envelope(analysis.waveform).tobytes() or None
            image = spectrogram_image(whisper_log_mel(analysis.waveform))
            self.spectrogram_shape = list(image.shape)
            self.spectrogram = image.tobytes() or None
            self.sr = int(analysis.sr)
            self.audio = wav_bytes(analysis.waveform, self.sr)

    def show_message(self, state: str, message: str) -> None:
        """Replace the result by a message: ``state`` is "no_speech", "error", "no_model" or "idle"."""
        with self.hold_sync():
            self.state = state
            self.message = message
            self.top = ""
            self.probabilities = []
            self.not_sure = ""
            self.calibrated = False
            self.calibration_info = ""
            self.timeline = []
            self.timeline_live = False
            self.waveform = None
            self.spectrogram = None
            self.audio = None
            self.revision += 1

    def start_live(self) -> None:
        """Empty the timeline and mark it as following a recording."""
        with self.hold_sync():
            self.state = "recording"
            self.message = "Recording…"
            self.timeline = []
            self.timeline_live = True

    def add_segment(self, start: float, end: float, probabilities=None) -> None:
        """Append one timeline segment; ``probabilities=None`` marks it as no speech."""
        if probabilities is None:
            label, confidence = "", 0.0
        else:
            p = np.asarray(probabilities, dtype=float)
            label, confidence = self.labels[int(p.argmax())], float(p.max())
        self.timeline = [*self.timeline,
                         {"start": float(start), "end": float(end), "label": label, "confidence": confidence}]


def timeline_segments(timeline) -> list[dict]:
    """Turn a model's :class:`~serwidgets.model.Timeline` into non-overlapping segments for the strip.

    Windows overlap (hop < window), so each segment runs from its window's start to the next
    window's start and carries that window's top emotion.
    """
    probabilities = np.asarray(timeline.probabilities, dtype=float)
    starts = np.asarray(timeline.starts, dtype=float)
    ends = np.asarray(timeline.ends, dtype=float)
    stops = np.append(starts[1:], ends[-1]) if len(starts) else ends
    return [
        {"start": float(s), "end": float(e), "label": timeline.labels[int(p.argmax())],
         "confidence": float(p.max())}
        for s, e, p in zip(starts, stops, probabilities)
    ]


def envelope(y: np.ndarray, columns: int = ENVELOPE_COLUMNS) -> np.ndarray:
    """(min, max) per column of ``y``, scaled so the loudest peak reaches 1; float32 (2*columns,)."""
    y = np.asarray(y, dtype=np.float32)
    if y.size == 0:
        return np.zeros(0, np.float32)
    columns = min(columns, y.size)
    edges = np.linspace(0, y.size, columns + 1).astype(int)
    lows = np.minimum.reduceat(y, edges[:-1])
    highs = np.maximum.reduceat(y, edges[:-1])
    scale = max(float(np.abs(y).max()), 1e-6)
    return (np.stack([lows, highs], axis=1) / scale).astype(np.float32).ravel()


def spectrogram_image(log_mel: np.ndarray) -> np.ndarray:
    """Log-mel (n_mels, frames) to uint8 with its own range mapped to 0..255."""
    spec = np.asarray(log_mel, dtype=np.float32)
    low, high = float(spec.min()), float(spec.max())
    scaled = (spec - low) / max(high - low, 1e-6)
    return np.ascontiguousarray(np.round(scaled * 255).astype(np.uint8))


def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    """Encode ``y`` (at ``sr`` Hz) as 16-bit PCM WAV (what the browser plays back).

    Examples
    --------
    >>> wav_bytes(np.zeros(TARGET_SR, np.float32), TARGET_SR)[:4]
    b'RIFF'
    """
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(y, -1, 1), sr, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def sentence(text: str) -> str:
    """``text`` as a sentence for the panel (capital first, full stop); "" stays "".

    Examples
    --------
    >>> sentence("not sure — tune the model to your voice")
    'Not sure — tune the model to your voice.'
    """
    text = text.strip().rstrip(".")
    return f"{text[0].upper()}{text[1:]}." if text else ""


def no_speech_message(error: Exception) -> str:
    """The panel's sentence for a ``NoSpeechError``: what the error says, as a sentence.

    Examples
    --------
    >>> no_speech_message(ValueError("no speech detected in <array>: noise-like, no voiced sound"))
    'No speech detected: noise-like, no voiced sound.'
    """
    text = str(error).replace(" in <array>", "").strip().rstrip(".") or "no speech detected"
    if not text.lower().startswith("no speech detected"):
        text = f"no speech detected: {text}"
    return text[0].upper() + text[1:] + "."
