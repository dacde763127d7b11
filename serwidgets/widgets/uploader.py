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
import ipywidgets
import numpy as np
import traitlets

from .limits import Limits

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


class Uploader(Limits, anywidget.AnyWidget):
    """An upload button for wav, flac, ogg, mp3, webm and m4a files.

    Parameters
    ----------
    max_bytes : int
        Largest file accepted (bytes); the browser refuses larger files before sending them.
        The server's websocket message limit must be larger: the dashboard's config sets it.
    max_seconds : float
        Longest audio accepted (seconds, at most 3600).
    min_seconds : float
        Shortest audio accepted (seconds; default 0: no minimum).

    Examples
    --------
    >>> from serwidgets.widgets import Uploader
    >>> uploader = Uploader(max_seconds=60)
    >>> uploader.on_upload(lambda y, sr, name: print(name, y.shape, sr))
    >>> uploader                                                            # doctest: +SKIP
    """

    _esm = STATIC / "uploader.js"
    _css = STATIC / "widgets.css"

    max_seconds_limit = 3600.0

    accept_types = traitlets.Unicode(",".join(ACCEPTED), help="file chooser filter").tag(sync=True)
    status = traitlets.Unicode("", help="message shown under the button (errors)").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last_upload: tuple[str, bytes] | None = None
        self._upload_callbacks = ipywidgets.CallbackDispatcher()
        self._refused_callbacks = ipywidgets.CallbackDispatcher()
        self.on_msg(self._handle_message)

    @traitlets.default("max_seconds")
    def _default_max_seconds(self):
        return 120.0

    @traitlets.default("max_bytes")
    def _default_max_bytes(self):
        return MAX_UPLOAD_BYTES

    def on_upload(self, callback: Callable[[np.ndarray, int, str], None], remove: bool = False) -> None:
        """Call ``callback(y, sr, name)`` with each accepted file's decoded audio (at its own rate ``sr``).

        ``remove=True`` unregisters ``callback``.
        """
        self._upload_callbacks.register_callback(callback, remove=remove)

    def on_refused(self, callback: Callable[[str], None], remove: bool = False) -> None:
        """Call ``callback(message)`` for each file refused (too large, too long or short, not audio).

        ``remove=True`` unregisters ``callback``.
        """
        self._refused_callbacks.register_callback(callback, remove=remove)

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
        self._refused_callbacks(message)
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
            y, sr = audio.decode(named, max_seconds=self.max_seconds)
        except audio.TooLongError as error:
            return self._refuse(f"{error}.")
        except audio.AudioError as error:
            return self._refuse(f"Could not read {error}.")
        if len(y) < self.min_seconds * sr:
            return self._refuse(self.too_short_message(name, len(y) / sr) + " Upload a longer recording.")
        self.last_upload = (name, data)
        self._upload_callbacks(y, sr, name)
        return True
