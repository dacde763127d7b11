"""Limits: the longest, shortest and largest audio a widget accepts, as validated traits.

:class:`Recorder`, :class:`Uploader`, :class:`Calibrator` and :class:`Teacher` mix in :class:`Limits`, so the
three limits have one name, one meaning and one check each (a validator per rule):

``max_seconds``
    longest audio (seconds): in (0, :attr:`Limits.max_seconds_limit`] and above ``min_seconds``
``min_seconds``
    shortest audio (seconds): at least 0 and below ``max_seconds`` (0: no minimum)
``max_bytes``
    largest audio (bytes): at least 1024

The traits are synced: the browser stops a recording at ``max_seconds`` and refuses a file
over ``max_bytes`` before sending it; the kernel checks again.

Examples
--------
>>> import traitlets
>>> from serwidgets.widgets.limits import Limits
>>> class Clip(Limits):
...     max_seconds_limit = 60.0
>>> clip = Clip(max_seconds=10.0, min_seconds=1.0)
>>> clip.max_bytes
16777216
>>> try:
...     clip.min_seconds = 20.0
... except traitlets.TraitError as error:
...     print(error)
min_seconds must be below max_seconds (10 s), got 20.0
"""

from __future__ import annotations

from typing import ClassVar

import traitlets

#: Default ``max_bytes``: 16 MiB (about 8 minutes of 16-bit mono audio at 16 kHz).
MAX_BYTES = 16 * 2**20

#: Smallest ``max_bytes`` accepted: a WAV header and a little audio.
MIN_MAX_BYTES = 1024


class Limits(traitlets.HasTraits):
    """``max_seconds``, ``min_seconds`` and ``max_bytes`` with their validators.

    A widget class sets its own defaults with ``@traitlets.default(...)`` and its ceiling on
    ``max_seconds`` with the class attribute :attr:`max_seconds_limit`.
    """

    #: Highest ``max_seconds`` a widget of this class accepts.
    max_seconds_limit: ClassVar[float] = 600.0

    max_seconds = traitlets.Float(30.0, help="longest audio accepted (seconds)").tag(sync=True)
    min_seconds = traitlets.Float(0.0, help="shortest audio accepted (seconds; 0: no minimum)").tag(sync=True)
    max_bytes = traitlets.Int(MAX_BYTES, help="largest audio accepted (bytes)").tag(sync=True)

    @traitlets.validate("max_seconds")
    def _check_max_seconds(self, proposal):
        value = proposal["value"]
        if not 0 < value <= self.max_seconds_limit:
            raise traitlets.TraitError(f"max_seconds must be in (0, {self.max_seconds_limit:g}] seconds, got {value}")
        if value <= self.min_seconds:
            raise traitlets.TraitError(f"max_seconds must be above min_seconds ({self.min_seconds:g} s), got {value}")
        return value

    @traitlets.validate("min_seconds")
    def _check_min_seconds(self, proposal):
        value = proposal["value"]
        if value < 0:
            raise traitlets.TraitError(f"min_seconds must be at least 0, got {value}")
        if value >= self.max_seconds:
            raise traitlets.TraitError(f"min_seconds must be below max_seconds ({self.max_seconds:g} s), got {value}")
        return value

    @traitlets.validate("max_bytes")
    def _check_max_bytes(self, proposal):
        value = proposal["value"]
        if value < MIN_MAX_BYTES:
            raise traitlets.TraitError(f"max_bytes must be at least {MIN_MAX_BYTES}, got {value}")
        return value

    def too_short_message(self, what: str, seconds: float) -> str:
        """What the user reads for audio under ``min_seconds``.

        Examples
        --------
        >>> Limits(min_seconds=1.0).too_short_message("The recording", 0.42)
        'The recording is too short: 0.4 s (at least 1 s).'
        """
        return f"{what} is too short: {seconds:.1f} s (at least {self.min_seconds:g} s)."
