"""Scorecard: how well a calibration knows its speaker, on their own labelled takes.

"On your 10 takes: 8 of 10 recognised", and a strip of the feelings it mixes up for them. Each
take is judged by the calibration made from the *other* takes
(:meth:`serwidgets.calibration.Calibration.leave_one_out`), so no take judges itself. With one or
two takes per feeling that is a pessimistic floor: leaving a take out removes half (or all) of its
feeling's evidence. Measured over 129 held-out speakers of seven corpora, the figure averaged 0.64
on 10 takes where the same calibrations recognised 0.79 of the speakers' other clips (0.80 and
0.86 on 20 takes; issue 17's research report), so the card says it is a cautious figure.

It also says whether the takes' feelings were used: a calibration uses its labels only when they
demonstrably relate to the takes (:func:`serwidgets.calibration.label_evidence`).
"""

from __future__ import annotations

import html

import ipywidgets

from .panel import EMOTION_COLORS

#: What the figure means, under it.
FLOOR_NOTE = ("Each take was judged by a calibration made from your other takes only. With one or two takes of a "
              "feeling that is a cautious figure: your new recordings are usually recognised more often.")
USED = "Your takes taught it how you sound in each feeling."
NOT_USED = ("Your takes' feelings do not stand out from each other clearly enough yet, so it uses only your "
            "voice's average; more takes, said distinctly, help.")
SINGLE = "A feeling with one take is judged with none of its own: {feelings}."


class Scorecard(ipywidgets.HTML):
    """How many of the speaker's labelled takes a calibration recognises, and what it mixes up.

    Shown from :data:`~serwidgets.calibration.MIN_CALIBRATION_CLIPS` labelled takes on (hidden
    otherwise: :attr:`shown`).

    Attributes
    ----------
    leave_one_out : serwidgets.calibration.LeaveOneOut or None
        The figures shown.

    Examples
    --------
    >>> import numpy as np
    >>> from serwidgets.calibration import Calibration, SpeakerHead
    >>> head = SpeakerHead.random(("angry", "sad"), n_features=4, rng=0)
    >>> X = np.random.default_rng(0).normal(size=(6, 4))
    >>> card = Scorecard()
    >>> card.show(Calibration.from_features(X, None, labels=["angry", "sad"] * 3), head)
    >>> card.shown, card.leave_one_out.summary()
    (True, 'on your 6 takes: 5 of 6 recognised')
    >>> card.show(None, head)
    >>> card.shown, card.value
    (False, '')
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_class("ser-scorecard")
        self.leave_one_out = None

    @property
    def shown(self) -> bool:
        return self.leave_one_out is not None

    def show(self, calibration, head) -> None:
        """Recompute and draw for ``calibration`` scored by ``head`` (None: nothing to show)."""
        from serwidgets.calibration import MIN_CALIBRATION_CLIPS

        if calibration is None or calibration.n_labelled < MIN_CALIBRATION_CLIPS:
            self.leave_one_out, self.value = None, ""
            return
        self.leave_one_out = calibration.leave_one_out(head)
        self.value = render(self.leave_one_out, calibration.labels_used(head))


def render(loo, labels_used: bool) -> str:
    """The scorecard's HTML for a :class:`~serwidgets.calibration.LeaveOneOut` (stable classes and data attributes).

    Examples
    --------
    >>> from serwidgets.calibration import LeaveOneOut
    >>> page = render(LeaveOneOut(("angry", "sad"), ["angry", "sad", "sad"], ["angry", "angry", "sad"]), True)
    >>> 'data-correct="2" data-n="3"' in page, 'data-label="sad" data-correct="1" data-n="2"' in page
    (True, True)
    """
    summary = loo.summary()
    cells = []
    for label in loo.classes:
        n = sum(1 for take in loo.labels if take == label)
        if not n:
            continue
        correct = sum(1 for take, said in zip(loo.labels, loo.predicted) if take == label == said)
        taken_for = sorted({said for take, said in zip(loo.labels, loo.predicted) if take == label != said})
        title = f"{label}: {correct} of {n} recognised" + (f"; taken for {', '.join(taken_for)}" if taken_for else "")
        cells.append(
            f'<span class="ser-scorecard-cell" data-label="{html.escape(label)}" data-correct="{correct}" data-n="{n}" '
            f'title="{html.escape(title)}" style="border-color:{EMOTION_COLORS.get(label, "#9e9e9e")}">'
            f'{html.escape(label)} {correct}/{n}</span>')
    single = [label for label in loo.classes if loo.labels.count(label) == 1]
    mix_ups = loo.mix_ups()
    mixed = ("; ".join(f'<span class="ser-scorecard-mixup" data-label="{html.escape(a)}" data-taken-for="{html.escape(b)}">'
                       f'{html.escape(a)} taken for {html.escape(b)}{f" ×{n}" if n > 1 else ""}</span>'
                       for a, b, n in mix_ups)
             if mix_ups else "no feeling mixed up")
    return (
        f'<div class="ser-scorecard-title">How well it knows you</div>'
        f'<div class="ser-scorecard-summary" data-correct="{loo.correct}" data-n="{loo.n}" '
        f'data-labels-used="{str(labels_used).lower()}">{html.escape(summary[0].upper() + summary[1:])}.</div>'
        f'<div class="ser-scorecard-strip">{"".join(cells)}</div>'
        f'<div class="ser-scorecard-mixups">Mixed up: {mixed}.</div>'
        f'<div class="ser-scorecard-note">{html.escape(USED if labels_used else NOT_USED)} {html.escape(FLOOR_NOTE)}'
        + (f' {html.escape(SINGLE.format(feelings=", ".join(single)))}' if single else "") + '</div>'
    )
