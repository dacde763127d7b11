"""Uploader: send an audio file from the user's computer to the kernel, with limits.

Our own small widget (``static/uploader.js``), not ipywidgets' ``FileUpload``, because the
size limit must be checked *in the browser, before sending*: the Jupyter server drops a
websocket message over its size limit without a word (the page then gets no answer to
anything), so a file over :data:`MAX_UPLOAD_BYTES` is refused in the browser with a message,
and only files within the limit travel, as one binary buffer. The kernel checks the size
again, decodes the bytes with :func:`serwidgets.audio.decode` and checks the duration, so
whoever listens gets audio samples or nothing, and the user gets a sentence saying what was
wrong. Every upload is answered (``{"type": "done"}``), so the button never stays busy.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import anywidget
import numpy as np
import traitlets

from .recorder import _register

STATIC = Path(__file__).parent / "static"

#: Extensions offered in the file chooser; decoding decides what is really accepted.
ACCEPTED = (".wav", ".flac", ".ogg", ".mp3", ".webm", ".m4a")

#: Largest upload (bytes), checked in the browser before sending and again in the kernel.
#: The server's websocket message limit (``config/voila.json``) must stay above it.
MAX_UPLOAD_BYTES = 20 * 2**20


def too_large_message(name: str, size: int, max_bytes: int) -> str:
    """What the user reads for a file over the limit (``static/uploader.js`` says the same)."""
    return (f"{name} is too large: {size / 2**20:.1f} MiB (limit {max_bytes / 2**20:.1f} MiB). "
            f"Upload a shorter recording.")


class Uploader(anywidget.AnyWidget):
    """An upload button for wav, flac, ogg, mp3, webm and m4a files.

    Parameters
    ----------
    max_bytes : int
        Largest file accepted (bytes); the browser refuses larger files before sending them.
        The server's websocket message limit must be larger: the dashboard's config sets it.
    max_seconds : float
        Longest audio accepted (seconds).

    Examples
    --------
    >>> from serwidgets.widgets import Uploader
    >>> uploader = Uploader(max_seconds=60)
    >>> uploader.on_upload(lambda y, sr, name: print(name, y.shape, sr))   # doctest: +SKIP
    >>> uploader                                                            # doctest: +SKIP
    """

    _esm = STATIC / "uploader.js"
    _css = STATIC / "widgets.css"

    max_bytes = traitlets.Int(MAX_UPLOAD_BYTES, help="largest file accepted (bytes)").tag(sync=True)
    max_seconds = traitlets.Float(120.0, help="longest audio accepted (seconds)").tag(sync=True)
    accept_types = traitlets.Unicode(",".join(ACCEPTED), help="file chooser filter").tag(sync=True)
    status = traitlets.Unicode("", help="message shown under the button (errors)").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last_upload: tuple[str, bytes] | None = None
        self._callbacks: list[Callable[[np.ndarray, int, str], None]] = []
        self._refused_callbacks: list[Callable[[str], None]] = []
        self.on_msg(self._handle_message)

    @traitlets.validate("max_bytes")
    def _check_max_bytes(self, proposal):
        value = proposal["value"]
        if value < 1024:
            raise traitlets.TraitError(f"max_bytes must be at least 1024, got {value}")
        return value

    @traitlets.validate("max_seconds")
    def _check_max_seconds(self, proposal):
        value = proposal["value"]
        if not 0 < value <= 3600:
            raise traitlets.TraitError(f"max_seconds must be in (0, 3600] seconds, got {value}")
        return value

    def on_upload(self, callback: Callable[[np.ndarray, int, str], None], remove: bool = False) -> None:
        """Call ``callback(y, sample_rate, name)`` with each accepted file's decoded audio."""
        _register(self._callbacks, callback, remove)

    def on_refused(self, callback: Callable[[str], None], remove: bool = False) -> None:
        """Call ``callback(message)`` for each file refused (too large, too long, not audio)."""
        _register(self._refused_callbacks, callback, remove)

    def _handle_message(self, _widget, content, buffers):
        kind = content.get("type")
        name = str(content.get("name") or "the file")
        ok = False
        try:
            if kind == "upload" and buffers:
                ok = self.accept(bytes(buffers[0]), name)
            elif kind == "upload":
                self._refuse(f"Could not read {name}: nothing arrived.")
            elif kind == "refused":  # the browser refused it before sending (too large)
                self._refuse(too_large_message(name, int(content.get("size") or 0), self.max_bytes))
        finally:
            if kind in ("upload", "refused"):
                self.send({"type": "done", "ok": ok})  # the button is usable again

    def _refuse(self, message: str) -> bool:
        self.status = message
        for callback in self._refused_callbacks:
            callback(message)
        return False

    def accept(self, data: bytes, name: str) -> bool:
        """Check and decode ``data`` as if it had been uploaded; True if listeners got it.

        Examples
        --------
        >>> Uploader().accept(b"not audio", "notes.txt")
        False
        """
        from serwidgets import audio

        self.status = ""
        if len(data) > self.max_bytes:
            return self._refuse(too_large_message(name, len(data), self.max_bytes))
        named = io.BytesIO(data)
        named.name = name  # decode's messages then name the file
        try:
            # Stops decoding as soon as the limit is passed: a long upload costs little.
            y, sample_rate = audio.decode(named, max_seconds=self.max_seconds)
        except audio.TooLongError as error:
            return self._refuse(f"{error}.")
        except audio.AudioError as error:
            return self._refuse(f"Could not read {error}.")
        self.last_upload = (name, data)
        for callback in self._callbacks:
            callback(y, sample_rate, name)
        return True
