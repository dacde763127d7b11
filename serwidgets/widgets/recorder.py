"""Recorder: record speech from the browser's microphone into the kernel.

The browser captures raw PCM with an AudioWorklet (voice processing off: echo cancellation,
noise suppression and automatic gain change the very cues emotion models rely on),
resamples it to 16 kHz mono and sends

* a ``chunk`` message every ``chunk_seconds`` while recording (for a live timeline), and
* a ``recording`` message with the whole take as a 16-bit WAV file when recording stops.

Both carry the audio as binary buffers, not JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import anywidget
import numpy as np
import traitlets

STATIC = Path(__file__).parent / "static"

#: Sample rate of everything the browser sends (Hz).
SAMPLE_RATE = 16000


class Recorder(anywidget.AnyWidget):
    """A record/stop button with elapsed time, input level and automatic stop.

    Parameters
    ----------
    max_seconds : float
        Recording stops by itself after this many seconds.
    chunk_seconds : float
        How often (seconds, at most 0.5) audio is streamed to the kernel while recording.
    max_bytes : int
        Kernel-side limit on a whole recording (WAV bytes). Larger recordings are refused with
        a message in the widget. Keep it below the server's websocket message limit.

    Examples
    --------
    >>> from serwidgets.widgets import Recorder
    >>> recorder = Recorder(max_seconds=10)
    >>> recorder.on_recording(lambda wav: print(len(wav), "bytes"))   # doctest: +SKIP
    >>> recorder                                                       # doctest: +SKIP
    """

    _esm = STATIC / "recorder.js"
    _css = STATIC / "widgets.css"

    max_seconds = traitlets.Float(30.0, help="automatic stop after this many seconds").tag(sync=True)
    chunk_seconds = traitlets.Float(0.25, help="streaming interval while recording").tag(sync=True)
    max_bytes = traitlets.Int(16 * 2**20, help="largest recording the kernel accepts (bytes)")
    recording = traitlets.Bool(False, help="set by the browser while the microphone is on").tag(sync=True)
    status = traitlets.Unicode("", help="message shown under the button (errors)").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last_recording: bytes | None = None
        self._recording_callbacks: list[Callable[[bytes], None]] = []
        self._chunk_callbacks: list[Callable[[np.ndarray, int], None]] = []
        self._streamed_bytes = 0
        self.on_msg(self._handle_message)

    @traitlets.validate("max_seconds")
    def _check_max_seconds(self, proposal):
        value = proposal["value"]
        if not 0 < value <= 600:
            raise traitlets.TraitError(f"max_seconds must be in (0, 600] seconds, got {value}")
        return value

    @traitlets.validate("chunk_seconds")
    def _check_chunk_seconds(self, proposal):
        value = proposal["value"]
        if not 0.05 <= value <= 0.5:
            raise traitlets.TraitError(f"chunk_seconds must be in [0.05, 0.5] seconds, got {value}")
        return value

    @traitlets.validate("max_bytes")
    def _check_max_bytes(self, proposal):
        value = proposal["value"]
        if value < 1024:
            raise traitlets.TraitError(f"max_bytes must be at least 1024, got {value}")
        return value

    def on_recording(self, callback: Callable[[bytes], None], remove: bool = False) -> None:
        """Call ``callback(wav_bytes)`` with every finished recording (16 kHz mono WAV)."""
        _register(self._recording_callbacks, callback, remove)

    def on_chunk(self, callback: Callable[[np.ndarray, int], None], remove: bool = False) -> None:
        """Call ``callback(samples, sample_rate)`` with each streamed piece while recording.

        ``samples`` is float32 in [-1, 1]; the first chunk of a take arrives after the
        ``recording`` trait turned True, so observers of that trait can reset their state.
        """
        _register(self._chunk_callbacks, callback, remove)

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
            for callback in self._chunk_callbacks:
                callback(samples, int(content.get("sample_rate", SAMPLE_RATE)))
        elif kind == "recording" and buffers:
            data = bytes(buffers[0])
            if len(data) > self.max_bytes:
                self.status = (
                    f"Recording too large: {len(data) / 2**20:.1f} MiB (limit {self.max_bytes / 2**20:.1f} MiB). "
                    f"Record a shorter clip."
                )
                return
            self.status = ""
            self.last_recording = data
            for callback in self._recording_callbacks:
                callback(data)


def _register(callbacks: list, callback: Callable, remove: bool) -> None:
    if remove:
        callbacks.remove(callback)
    elif callback not in callbacks:
        callbacks.append(callback)
