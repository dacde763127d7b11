"""Recorder: record speech from the browser's microphone into the kernel.

The browser captures raw PCM with an AudioWorklet (voice processing off: echo cancellation,
noise suppression and automatic gain change the very cues emotion models rely on),
resamples it to :attr:`Recorder.sr` Hz mono (:data:`serwidgets.audio.TARGET_SR`, synced to
the browser) and sends

* a ``chunk`` message every ``chunk_seconds`` while recording (for a live timeline), and
* a ``recording`` message with the whole take as a 16-bit WAV file when recording stops.

Both carry the audio as binary buffers, not JSON. The kernel checks a finished take against
the limits again (a page can send anything): its size, the length its header states, and
while decoding (:meth:`Recorder.decode`), so a long take is refused before it is decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import anywidget
import ipywidgets
import numpy as np
import traitlets

from serwidgets.audio import TARGET_SR

from .limits import Limits

STATIC = Path(__file__).parent / "static"

#: Seconds a take may run past ``max_seconds``: the browser stops at the first audio block past
#: the limit and then sends what it still held (``static/recorder.js``), a fraction of a second.
STOP_SLACK_SECONDS = 1.0


class Recorder(Limits, anywidget.AnyWidget):
    """A record/stop button with elapsed time, input level and automatic stop.

    Parameters
    ----------
    max_seconds : float
        Recording stops by itself after this many seconds (at most 600). The kernel refuses a
        longer take (``STOP_SLACK_SECONDS`` of slack) from its header, before decoding it.
    min_seconds : float
        Shorter recordings are refused with a message (default 0: none are).
    max_bytes : int
        Kernel-side limit on a whole recording (WAV bytes). Larger recordings are refused with
        a message in the widget. Keep it below the server's websocket message limit.
    chunk_seconds : float
        How often (seconds, at most 0.5) audio is streamed to the kernel while recording.
    sr : int
        Sample rate (Hz) the browser resamples to; default :data:`serwidgets.audio.TARGET_SR`.

    Examples
    --------
    >>> from serwidgets.widgets import Recorder
    >>> recorder = Recorder(max_seconds=10)
    >>> recorder.on_recording(lambda wav: print(len(wav), "bytes"))
    >>> recorder                                                       # doctest: +SKIP
    """

    _esm = STATIC / "recorder.js"
    _css = STATIC / "widgets.css"

    chunk_seconds = traitlets.Float(0.25, help="streaming interval while recording").tag(sync=True)
    sr = traitlets.Int(TARGET_SR, help="sample rate (Hz) of everything the browser sends").tag(sync=True)
    recording = traitlets.Bool(False, help="set by the browser while the microphone is on").tag(sync=True)
    status = traitlets.Unicode("", help="message shown under the button (errors)").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last_recording: bytes | None = None
        self._recording_callbacks = ipywidgets.CallbackDispatcher()
        self._chunk_callbacks = ipywidgets.CallbackDispatcher()
        self._streamed_bytes = 0
        self.on_msg(self._handle_message)

    @traitlets.validate("chunk_seconds")
    def _check_chunk_seconds(self, proposal):
        value = proposal["value"]
        if not 0.05 <= value <= 0.5:
            raise traitlets.TraitError(f"chunk_seconds must be in [0.05, 0.5] seconds, got {value}")
        return value

    @traitlets.validate("sr")
    def _check_sr(self, proposal):
        value = proposal["value"]
        if not 8000 <= value <= 48000:  # speech detection needs 8 kHz; browsers capture at most 48 kHz
            raise traitlets.TraitError(f"sr must be in [8000, 48000] Hz, got {value}")
        return value

    def on_recording(self, callback: Callable[[bytes], None], remove: bool = False) -> None:
        """Call ``callback(wav_bytes)`` with every finished recording (mono WAV at :attr:`sr` Hz).

        ``remove=True`` unregisters ``callback``.
        """
        self._recording_callbacks.register_callback(callback, remove=remove)

    def on_chunk(self, callback: Callable[[np.ndarray, int], None], remove: bool = False) -> None:
        """Call ``callback(samples, sr)`` with each streamed piece while recording.

        ``samples`` is float32 in [-1, 1]; the first chunk of a take arrives after the
        ``recording`` trait turned True, so observers of that trait can reset their state.
        ``remove=True`` unregisters ``callback``.
        """
        self._chunk_callbacks.register_callback(callback, remove=remove)

    def _handle_message(self, _widget, content, buffers):
        kind = content.get("type")
        if kind == "chunk" and buffers:
            data = bytes(buffers[0])
            if content.get("seq") == 0:
                self._streamed_bytes = 0
            self._streamed_bytes += len(data)
            if self._streamed_bytes > self.max_bytes:
                return  # the final recording will be refused with a message
            samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
            self._chunk_callbacks(samples, int(content.get("sr", self.sr)))
        elif kind == "recording" and buffers:
            data = bytes(buffers[0])
            refusal = self._refusal(data)
            if refusal:
                self.status = refusal
                return
            self.status = ""
            self.last_recording = data
            self._recording_callbacks(data)


    def _refusal(self, data: bytes) -> str:
        """Why a finished take is refused before anything decodes it ("" if it is not)."""
        if len(data) > self.max_bytes:
            return (f"Recording too large: {len(data) / 2**20:.1f} MiB (limit {self.max_bytes / 2**20:.1f} MiB). "
                    f"Record a shorter clip.")
        seconds = _wav_seconds(data)
        if seconds is not None and seconds > self.max_seconds + STOP_SLACK_SECONDS:
            return f"Recording too long: {seconds:.1f} s (limit {self.max_seconds:g} s). Record a shorter clip."
        if seconds is not None and seconds < self.min_seconds:
            return self.too_short_message("The recording", seconds) + " Record a longer clip."
        return ""

    def decode(self, data: bytes) -> tuple[np.ndarray, int]:
        """Samples and rate of a take, decoded no further than ``max_seconds`` (plus the stop's slack).

        A take whose header states no length (or lies) is stopped at the limit with a
        :class:`~serwidgets.audio.TooLongError`; any other problem is an
        :class:`~serwidgets.audio.AudioError` too.
        """
        from serwidgets import audio

        return audio.decode(data, max_seconds=self.max_seconds + STOP_SLACK_SECONDS)


def _wav_seconds(data: bytes) -> float | None:
    """Duration a recording's header states (None if the header cannot be read, or states none)."""
    import io

    import soundfile

    try:
        info = soundfile.info(io.BytesIO(data))
        # libsndfile's frame count for a stream that does not state its length (FLAC "total samples 0").
        return None if info.frames >= 2**62 or info.samplerate <= 0 else info.frames / info.samplerate
    except Exception:  # noqa: BLE001 - whoever decodes the recording reports what is wrong with it
        return None

