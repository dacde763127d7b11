"""Uploader: send an audio file from the user's computer to the kernel, with limits.

An ipywidgets ``FileUpload`` does the transfer; this widget checks size, decodes the bytes
with :func:`serwidgets.audio.decode` and checks the duration, so whoever listens gets audio
samples or nothing, and the user gets a sentence saying what was wrong.
"""

from __future__ import annotations

import io
from typing import Callable

import ipywidgets
import numpy as np
import traitlets

from .recorder import _register

#: Extensions offered in the file chooser; decoding decides what is really accepted.
ACCEPTED = (".wav", ".flac", ".ogg", ".mp3", ".webm", ".m4a")


class Uploader(ipywidgets.VBox):
    """An upload button for wav, flac, ogg, mp3, webm and m4a files.

    Parameters
    ----------
    max_bytes : int
        Largest file accepted (bytes). The server's websocket limit must be larger, or big
        files are dropped without a word: the dashboard's Voilà config sets it.
    max_seconds : float
        Longest audio accepted (seconds).

    Examples
    --------
    >>> from serwidgets.widgets import Uploader
    >>> uploader = Uploader(max_seconds=60)
    >>> uploader.on_upload(lambda y, sr, name: print(name, y.shape, sr))   # doctest: +SKIP
    >>> uploader                                                            # doctest: +SKIP
    """

    max_bytes = traitlets.Int(20 * 2**20, help="largest file accepted (bytes)")
    max_seconds = traitlets.Float(120.0, help="longest audio accepted (seconds)")
    status = traitlets.Unicode("", help="message shown under the button (errors)")

    def __init__(self, **kwargs):
        self._button = ipywidgets.FileUpload(
            accept=",".join(ACCEPTED), multiple=False, description="Upload audio", icon="upload",
            tooltip="wav, flac, ogg, mp3, webm or m4a",
        )
        self._button.add_class("ser-upload")
        self._status = ipywidgets.HTML(layout=ipywidgets.Layout(display="none"))
        self._status.add_class("ser-status")
        super().__init__(children=[self._button, self._status], **kwargs)
        self.add_class("ser-uploader")
        self.last_upload: tuple[str, bytes] | None = None
        self._callbacks: list[Callable[[np.ndarray, int, str], None]] = []
        self._button.observe(self._handle_upload, names="value")

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

    @traitlets.observe("status")
    def _show_status(self, change):
        import html

        self._status.value = html.escape(change["new"])
        self._status.layout.display = "block" if change["new"] else "none"

    def on_upload(self, callback: Callable[[np.ndarray, int, str], None], remove: bool = False) -> None:
        """Call ``callback(y, sample_rate, name)`` with each accepted file's decoded audio."""
        _register(self._callbacks, callback, remove)

    def _handle_upload(self, change):
        files = change["new"]
        if not files:
            return
        item = files[0]
        # Clear the widget's copy so the same file can be chosen again, and memory is freed.
        self._button.value = ()
        self.accept(bytes(item["content"]), item["name"])

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
            self.status = (
                f"{name} is too large: {len(data) / 2**20:.1f} MiB (limit {self.max_bytes / 2**20:.0f} MiB)."
            )
            return False
        named = io.BytesIO(data)
        named.name = name  # decode's messages then name the file
        try:
            # Stops decoding as soon as the limit is passed: a long upload costs little.
            y, sample_rate = audio.decode(named, max_seconds=self.max_seconds)
        except audio.TooLongError as error:
            self.status = f"{error}."
            return False
        except audio.AudioError as error:
            self.status = f"Could not read {error}."
            return False
        self.last_upload = (name, data)
        for callback in self._callbacks:
            callback(y, sample_rate, name)
        return True
