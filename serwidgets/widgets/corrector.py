"""Corrector: "That's wrong — it was …" under a calibrated result.

One click opens a choice of the model's other feelings; the choice makes the result's recording a
labelled take of the session's calibration (:meth:`serwidgets.widgets.Calibrator.correct`: its
features as the model already encoded them; relabelled, not counted twice, when "keep learning"
had added it). The page says so, with an Undo (:meth:`serwidgets.widgets.Calibrator.undo`). The
correction lives in the session like the calibration: Reset forgets it, and nothing is written
unless the user saves the calibration.

Offered only for the user's own recordings once calibrated (an upload may be someone else's
voice), and only for the result on screen: a new result or message withdraws it.
"""

from __future__ import annotations

import html

import ipywidgets
import traitlets

from .calibrator import _button

#: :attr:`Corrector.state`: nothing offered, the button, the choice of feelings, a correction made.
STATES = ("hidden", "offered", "choosing", "corrected")
WRONG = "That's wrong — it was…"


class Corrector(ipywidgets.VBox):
    """The "that's wrong — it was …" correction of the result on screen.

    Parameters
    ----------
    calibrator : serwidgets.widgets.Calibrator
        Whose calibration learns from corrections.

    Attributes
    ----------
    state : {"hidden", "offered", "choosing", "corrected"}
    message : str
        What the page says about the last correction ("" when none).

    Examples
    --------
    >>> import serwidgets
    >>> from serwidgets.widgets import Calibrator, Corrector
    >>> corrector = Corrector(Calibrator(serwidgets.load_model()))
    >>> corrector.state, [b.description for b in corrector.choices.children][:2]
    ('hidden', ['angry', 'disgust'])
    >>> corrector.offer(model.analyze("me-later.wav", calibration=me))   # doctest: +SKIP
    >>> corrector.choose("sad")                                          # doctest: +SKIP
    """

    state = traitlets.Enum(STATES, "hidden", help="nothing offered, offered, choosing a feeling, corrected")

    def __init__(self, calibrator, **kwargs):
        self.calibrator = calibrator
        self.analysis = None
        self.learned = False
        self.message = ""
        self.wrong_button = _button(WRONG, "ser-correct", "Tell the model which feeling this recording really had")
        self.choices = ipywidgets.HBox([_button(label, "ser-correct-choice", f"It was {label}")
                                        for label in calibrator.model.labels])
        self.choices.add_class("ser-correct-choices")
        for button in self.choices.children:
            button.add_class(f"ser-correct-{button.description}")  # stable, for tests and styles
            button.on_click(lambda b: self.choose(b.description))
        self.undo_button = _button("Undo", "ser-correct-undo", "Take this correction back")
        self.note = ipywidgets.HTML()
        self.note.add_class("ser-correct-message")
        self.wrong_button.on_click(lambda _button: setattr(self, "state", "choosing"))
        self.undo_button.on_click(lambda _button: self.undo())
        super().__init__(**kwargs)
        self.add_class("ser-corrector")
        calibrator.on_change(lambda calibration: calibration is None and self.withdraw())
        self.observe(lambda _change: self._draw(), names="state")
        self._draw()

    def offer(self, analysis, learned: bool = False) -> None:
        """Offer the correction of ``analysis`` (on screen now); ``learned``: "keep learning" added it."""
        if self.calibrator.calibration is None or analysis is None or analysis.features is None:
            self.withdraw()
            return
        self.analysis, self.learned, self.message = analysis, learned, ""
        self.state = "offered"
        self._draw()

    def withdraw(self) -> None:
        """No correction on screen (a new result, a message, or a reset)."""
        self.analysis, self.message = None, ""
        self.state = "hidden"
        self._draw()

    def choose(self, label: str) -> None:
        """The result was ``label``: teach the calibration, say so."""
        if self.analysis is None or self.state == "corrected":
            return
        # Said on screen first: the calibrator refits its scorecard (one fit per take) after the update.
        n = self.calibrator.calibration.n_labelled + 1
        self.message = (f"Noted: it was {label}. This recording is now one of your calibration's takes "
                        f"({n} with a feeling); later results use it. It stays in this session only.")
        self.state = "corrected"
        self._draw()
        try:
            self.calibrator.correct(self.analysis, label, learned=self.learned)
        except Exception:
            self.message, self.state = "", "offered"
            self._draw()
            raise

    def undo(self) -> None:
        """Take the correction back."""
        if self.state != "corrected":
            return
        self.message = "Correction undone."
        self.state = "offered"
        self._draw()
        self.calibrator.undo()

    def _draw(self) -> None:
        top = None if self.analysis is None else self.analysis.top
        for button in self.choices.children:
            button.layout.display = "none" if button.description == top else None
        self.note.value = (f'<span data-state="{self.state}">{html.escape(self.message)}</span>'
                           if self.message else "")
        parts = {"hidden": [], "offered": [self.wrong_button], "choosing": [self.wrong_button, self.choices],
                 "corrected": [self.undo_button]}[self.state]
        self.children = parts + ([self.note] if self.message else [])
        self.wrong_button.disabled = self.state == "choosing"
