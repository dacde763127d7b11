"""Calibrator: "Calibrate to my voice" — a few prompts read with different feelings.

The user reads one short sentence with each feeling of :data:`PROMPTS`, recording each take
with a :class:`~serwidgets.widgets.Recorder`. Each take is checked and encoded *when it
arrives* (:meth:`serwidgets.model.Model.features`: ~0.1 s for a 3-s take), and labelled with
the feeling its prompt asked for. Once it is in, only the calibration's update remains
(:meth:`serwidgets.calibration.Calibration.update`, then the fit of what the labelled takes
teach the model: tens of milliseconds, ``benchmarks/bench_calibration.py``). From
:data:`~serwidgets.calibration.MIN_CALIBRATION_CLIPS` takes on, :attr:`Calibrator.calibration` is a
:class:`~serwidgets.calibration.Calibration` that the model uses (``calibration=``); from
:data:`~serwidgets.calibration.GOOD_CALIBRATION_CLIPS` on it is called good. Varied takes are what
make it work: neutral-only clips do not. Under the prompts, a :class:`~serwidgets.widgets.Scorecard`
says how many of the user's own takes the calibration recognises (each judged by a calibration
of the others), after each change.

Later results of the session can be corrected ("that's wrong -- it was ...",
:class:`~serwidgets.widgets.Corrector`): :meth:`Calibrator.correct` makes the result's features
a labelled take (relabelling it if "keep learning" had added it unlabelled), and
:meth:`Calibrator.undo` takes the last correction back.

A take is refused with a message (and the prompt stays) when it cannot be read, holds no
speech, or holds less than :data:`~serwidgets.calibration.MIN_CLIP_SECONDS` of speech after
trimming. With "keep learning" on, the dashboard adds each later recording of the session
(:meth:`Calibrator.learn`), unlabelled. The calibration lives in the kernel only: nothing is
written to disk unless :meth:`Calibrator.save` is called; Reset forgets takes and corrections.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from typing import Callable

import ipywidgets
import numpy as np
import traitlets

from .limits import Limits
from .recorder import Recorder
from .scorecard import Scorecard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prompt:
    """One calibration take: say ``sentence`` ``feeling``; the take is labelled ``emotion``."""

    sentence: str
    feeling: str  # how to say it, as the user reads it: "cheerfully, as if ..."
    emotion: str  # the emotion the feeling stands for: the take's label (when the model has it)


_CLOTH = "The cloth is lying on the fridge."
_TONIGHT = "We are going to see them tonight."

#: The prompts, in order: one neutral sentence with six feelings, then another with four
#: (10 takes of about 3 s: ~30 s of speech; leave-one-corpus-out, 10 varied clips raised mean UA
#: from 0.483 to 0.530, and to 0.756 labelled with their feelings as the prompts label them —
#: README). Varied feelings matter: the statistics must span the user's range (10 neutral-only
#: clips gave 0.449), and repeated feelings let the labels pass the evidence gate.
PROMPTS = (
    Prompt(_CLOTH, "calmly, in your everyday voice", "neutral"),
    Prompt(_CLOTH, "cheerfully, as if it were great news", "happy"),
    Prompt(_CLOTH, "angrily, as if you were furious about it", "angry"),
    Prompt(_CLOTH, "sadly, as if it made you want to cry", "sad"),
    Prompt(_CLOTH, "fearfully, as if it frightened you", "fear"),
    Prompt(_CLOTH, "with disgust, as if it smelled awful", "disgust"),
    Prompt(_TONIGHT, "calmly, in your everyday voice", "neutral"),
    Prompt(_TONIGHT, "cheerfully, as if you could not wait", "happy"),
    Prompt(_TONIGHT, "angrily, as if you did not want to go", "angry"),
    Prompt(_TONIGHT, "sadly, as if it were the last time", "sad"),
)

#: File name of the "Save my calibration" download.
DOWNLOAD_NAME = "my-voice-calibration.json"

#: Longest take (seconds): a prompt takes 2-4 s to read; the recorder stops by itself after this.
TAKE_SECONDS = 6.0

#: :attr:`Calibrator.state`: no take yet, some takes but not calibrated yet, calibrated.
STATES = ("empty", "collecting", "calibrated")

INTRO = (
    "Read each sentence aloud with the feeling shown, then press Stop. About 3 s per take; "
    "from {min_clips} takes on, results are calibrated to your voice, and {good} takes (about {seconds} s) "
    "work best. Different feelings matter: calm takes alone do not help. Your takes stay in this "
    "session only: nothing is written to disk."
)

KEEP_LEARNING = "Keep learning from my later recordings in this session"
KEEP_LEARNING_NOTE = (
    "When on, each recording you make on this page after calibrating is added to your calibration "
    "(uploads are not). Turn it off if someone else records here. Reset forgets everything."
)


class Calibrator(Limits, ipywidgets.VBox):
    """The "Calibrate to my voice" step: prompts, takes, progress, refusals, reset.

    Parameters
    ----------
    model : serwidgets.model.Model
        The model to calibrate (one whose ``calibratable`` is true: an encoder model).
    prompts : sequence of Prompt
        What to read (default :data:`PROMPTS`).
    opened : bool
        Show the prompts now (True), or only the "Calibrate to my voice" button and the status.
    max_seconds : float
        Longest take (default :data:`TAKE_SECONDS`); recording stops by itself. Passed on to
        the take's :class:`Recorder` (so is ``max_bytes``).
    min_seconds : float
        Least speech in a take after trimming (default
        :data:`~serwidgets.calibration.MIN_CLIP_SECONDS`); shorter takes are refused.

    Attributes
    ----------
    state : {"empty", "collecting", "calibrated"}
        No take yet; some takes, not calibrated yet; calibrated (:data:`STATES`).
    calibration : Calibration or None
        None until :data:`~serwidgets.calibration.MIN_CALIBRATION_CLIPS` takes are in.
    message : str
        Why the last take was refused ("" when it was accepted).
    timings : dict
        Milliseconds spent on the last take: ``decode``/``prepare``/``encode`` (when it
        arrived) and ``update`` (the calibration's statistics and the fit of its labelled takes);
        after a correction, ``correction``; ``leave_one_out`` (the scorecard, after the update
        is shown).
    corrections : list of (str, bool)
        The session's corrections not undone: each result's label, and whether "keep
        learning" had already added it.

    Examples
    --------
    >>> import serwidgets
    >>> from serwidgets.widgets import Calibrator
    >>> model = serwidgets.load_model()
    >>> calibrator = Calibrator(model)
    >>> calibrator.state, calibrator.prompt.feeling
    ('empty', 'calmly, in your everyday voice')
    >>> calibrator.status_text()
    "Not calibrated: results use the model's general idea of voices."
    >>> calibrator                                      # doctest: +SKIP
    >>> model.analyze("me.wav", calibration=calibrator.calibration)   # doctest: +SKIP
    """

    opened = traitlets.Bool(False, help="the prompts are shown")
    keep_learning = traitlets.Bool(False, help="later recordings of the session update the calibration")
    state = traitlets.Enum(STATES, "empty", help="no take yet, collecting takes, or calibrated")

    def __init__(self, model, prompts=PROMPTS, opened: bool = True, **kwargs):
        from serwidgets.calibration import GOOD_CALIBRATION_CLIPS, MIN_CALIBRATION_CLIPS, CalibrationError

        if not model.calibratable:
            raise CalibrationError(f"{model.name} cannot be calibrated to a speaker: it has no speaker-normalised head")
        if len(prompts) < MIN_CALIBRATION_CLIPS:
            raise ValueError(f"at least {MIN_CALIBRATION_CLIPS} prompts are needed, got {len(prompts)}")
        self.model = model
        self.prompts = tuple(prompts)
        self.calibration = None
        self.timings: dict[str, float] = {}
        self._change_callbacks = ipywidgets.CallbackDispatcher()
        self._reset_state()

        self.recorder = Recorder()
        self.recorder.on_recording(self._take_recorded)
        self.open_button = _button("Calibrate to my voice", "ser-calibrate",
                                   "Read a few sentences with different feelings so the model learns your voice")
        self.status_line = _html("ser-calibration-status")
        self.intro = _html("ser-calibration-intro")
        self.prompt_box = _html("ser-calibration-prompt")
        self.progress = _html("ser-calibration-progress")
        self.skip_button = _button("Skip prompt", "ser-calibration-skip",
                                   "Go to the next prompt without recording this one")
        self.reset_button = _button("Reset", "ser-calibration-reset",
                                    "Forget all takes: results are no longer calibrated")
        self.close_button = _button("Close", "ser-calibration-close", "Hide the prompts (the calibration stays)")
        self.keep_box = ipywidgets.Checkbox(value=False, description=KEEP_LEARNING, indent=False,
                                            layout=ipywidgets.Layout(width="auto"))
        self.keep_box.add_class("ser-calibration-keep")
        self.save_button = _button("Save my calibration", "ser-calibration-save",
                                   "Download the calibration as a JSON file (otherwise it ends with this session)")
        self.download = _html("ser-calibration-download")
        self.keep_note = _html("ser-calibration-note")
        self.keep_note.value = html.escape(KEEP_LEARNING_NOTE)
        self.scorecard = Scorecard()

        good = min(len(self.prompts), GOOD_CALIBRATION_CLIPS)
        self.intro.value = ('<div class="ser-calibration-title">Calibrate to my voice</div>'
                            + html.escape(INTRO.format(min_clips=MIN_CALIBRATION_CLIPS, good=good, seconds=3 * good)))
        buttons = ipywidgets.HBox([self.skip_button, self.reset_button, self.save_button, self.close_button])
        buttons.add_class("ser-calibration-buttons")
        self.body = ipywidgets.VBox([self.intro, self.prompt_box, self.recorder, self.progress, buttons,
                                     self.download, self.keep_box, self.keep_note])
        self.scorecard.layout.display = "none"
        self.body.add_class("ser-calibration-body")
        self.header = ipywidgets.HBox([self.open_button, self.status_line])
        self.header.add_class("ser-calibration-header")
        super().__init__(children=[self.header, self.scorecard], **kwargs)
        self.add_class("ser-calibrator")
        traitlets.link((self.keep_box, "value"), (self, "keep_learning"))
        traitlets.dlink((self, "max_seconds"), (self.recorder, "max_seconds"))
        traitlets.dlink((self, "max_bytes"), (self.recorder, "max_bytes"))

        self.open_button.on_click(lambda _button: setattr(self, "opened", True))
        self.close_button.on_click(lambda _button: setattr(self, "opened", False))
        self.save_button.on_click(lambda _button: self.offer_download())
        self.skip_button.on_click(lambda _button: self.skip())
        self.reset_button.on_click(lambda _button: self.reset())
        self.observe(self._show_body, names="opened")
        self.observe(lambda _change: self._draw(), names="keep_learning")
        self.opened = opened
        self._draw()

    @traitlets.default("max_seconds")
    def _default_max_seconds(self):
        return TAKE_SECONDS

    @traitlets.default("min_seconds")
    def _default_min_seconds(self):
        from serwidgets.calibration import MIN_CLIP_SECONDS

        return MIN_CLIP_SECONDS

    # -- state -----------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._features: list[np.ndarray] = []  # pooled features of accepted prompt takes
        self._seconds: list[float] = []  # their seconds of speech
        self._labels: list[str | None] = []  # their prompts' feelings
        self.recorded: set[int] = set()  # prompts with an accepted take
        self.corrections: list[tuple[str, bool]] = []
        self._undo: list[tuple[int, bool]] = []  # per correction: its take's index, whether it was learned
        self.skipped: set[int] = set()
        self.current: int | None = 0  # index of the prompt shown; None when all are recorded
        self.learned = 0  # later recordings added by keep-learning
        self.message = ""

    @property
    def n_clips(self) -> int:
        """Prompt takes accepted so far (later recordings not counted)."""
        return len(self._features)

    @property
    def seconds(self) -> float:
        """Seconds of speech in the accepted prompt takes (after trimming)."""
        return float(sum(self._seconds))

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    @property
    def prompt(self) -> Prompt | None:
        """The prompt to read now (None once every prompt has a take)."""
        return None if self.current is None else self.prompts[self.current]

    def on_change(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(calibration)`` whenever the calibration changes (None after a reset).

        ``remove=True`` unregisters ``callback``.
        """
        self._change_callbacks.register_callback(callback, remove=remove)

    # -- takes -----------------------------------------------------------------------------
    def _take_recorded(self, wav: bytes) -> None:
        from serwidgets import audio

        started = time.perf_counter()
        try:
            y, sr = self.recorder.decode(wav)  # no further than the take's limit
        except audio.AudioError as error:
            self._refuse(f"Could not read that take: {error}. Record it again.")
            return
        self.timings = {"decode": 1000 * (time.perf_counter() - started)}
        try:
            self.add_take(y, sr)
        except Exception as error:  # a comm handler: show it, or it only reaches the kernel log
            log.exception("calibration take failed")
            self._refuse(f"That take could not be used: {type(error).__name__}: {error}")

    def add_take(self, y: np.ndarray, sr: int) -> bool:
        """Use audio ``y`` (at ``sr`` Hz) as the take of the current prompt; False (and a message) if refused."""
        from serwidgets import audio
        from serwidgets.calibration import MIN_CALIBRATION_CLIPS, Calibration

        from .panel import no_speech_message

        prompt = self.prompt
        if self.current is None:
            return self._refuse("Every prompt has a take. Press Reset to calibrate again.")
        started = time.perf_counter()
        try:
            waveform = audio.prepare(y, sr, self.model.audio_options, name="that take")
        except audio.NoSpeechError as error:
            return self._refuse(f"{no_speech_message(error)} Record the prompt again, a little closer to the "
                                f"microphone.")
        except audio.TooShortError:
            return self._refuse(self._too_short(None))
        except audio.AudioError as error:
            return self._refuse(f"That take cannot be used: {error}. Record it again.")
        seconds = len(waveform) / self.model.sr
        if seconds < self.min_seconds:
            return self._refuse(self._too_short(seconds))
        prepared = time.perf_counter()
        features = self.model.features([waveform])  # encoded once, now: finishing costs only the update
        encoded = time.perf_counter()
        # The prompt's feeling is the take's label (a model without that label gets it unlabelled).
        label = prompt.emotion if prompt.emotion in self.model.labels else None
        self._features.append(features[0])
        self._seconds.append(seconds)
        self._labels.append(label)
        self.recorded.add(self.current)
        self.skipped.discard(self.current)
        self.message = self.recorder.status = ""
        if self.calibration is None and self.n_clips >= MIN_CALIBRATION_CLIPS:
            self.calibration = Calibration.from_features(np.stack(self._features), self._seconds, self._labels,
                                                         encoder_sha256=self.model.encoder.sha256)
        elif self.calibration is not None:
            self.calibration.update(features, [seconds], [label])
        self._fit()
        done = time.perf_counter()
        self.timings.update(prepare=1000 * (prepared - started), encode=1000 * (encoded - prepared),
                            update=1000 * (done - encoded))
        log.info("calibration take %d: %.2f s of speech; prepare %.1f ms, encode %.1f ms, update %.2f ms",
                 self.n_clips, seconds, *(self.timings[k] for k in ("prepare", "encode", "update")))
        self._advance()
        self._changed()
        return True

    def _too_short(self, seconds: float | None) -> str:
        what = "That take is too short" if seconds is None else f"That take has only {seconds:.1f} s of speech"
        return f"{what}; each needs at least {self.min_seconds:g} s. Read the whole sentence and record it again."

    def _refuse(self, message: str) -> bool:
        self.message = message
        self.recorder.status = message  # shown under the take's Record button
        self._draw()
        return False

    def skip(self) -> None:
        """Go to the next prompt without a take (skipped prompts come back at the end)."""
        if self.current is None:
            return
        self.skipped.add(self.current)
        self.message = self.recorder.status = ""
        self._advance()
        self._draw()

    def _advance(self) -> None:
        """The next prompt without a take after the current one, wrapping around; None when all have one."""
        n = len(self.prompts)
        start = -1 if self.current is None else self.current
        for step in range(1, n + 1):
            candidate = (start + step) % n
            if candidate not in self.recorded:
                self.current = candidate
                return
        self.current = None

    def reset(self) -> None:
        """Forget every take and the calibration: results are no longer calibrated."""
        self._reset_state()
        self.calibration = None
        self.recorder.status = ""
        self.timings = {}
        self._changed()

    def learn(self, analysis) -> bool:
        """Add a later recording (its :class:`~serwidgets.model.Analysis`) to the calibration, unlabelled.

        Only with :attr:`keep_learning` on and once calibrated; returns whether it was added.
        The analysis's features are used as they are: the clip is not encoded again.
        """
        if not self.keep_learning or self.calibration is None or analysis.duration < self.min_seconds:
            return False
        self.calibration.update(analysis.features[None], [analysis.duration])
        self._fit()
        self.learned += 1
        self._changed()
        return True

    def correct(self, analysis, label: str, learned: bool = False) -> None:
        """"That's wrong -- it was ``label``": the result of ``analysis`` becomes a labelled take.

        ``learned``: :meth:`learn` already added it (unlabelled), so it is labelled, not counted
        twice. :meth:`undo` takes it back. Only once calibrated.
        """
        from serwidgets.calibration import check_labels

        if self.calibration is None:
            raise ValueError("not calibrated: a correction teaches a calibration, and there is none yet")
        check_labels([label], self.model.labels, 1)
        started = time.perf_counter()
        if learned:
            self.calibration.add_label(analysis.features[None], label)
        else:
            self.calibration.update(analysis.features[None], [analysis.duration], [label])
        self._fit()
        self.timings = {"correction": 1000 * (time.perf_counter() - started)}
        self._undo.append((self.calibration.n_labelled - 1, learned))
        self.corrections.append((label, learned))
        log.info("correction to %s: %d labelled takes; %.1f ms", label, self.calibration.n_labelled,
                 self.timings["correction"])
        self._changed()

    def undo(self) -> bool:
        """Take the last correction back (a relabelled recording stays as "keep learning" added it)."""
        if not self._undo or self.calibration is None:
            return False
        index, learned = self._undo.pop()
        self.corrections.pop()
        if learned:
            self.calibration.drop_label(index)
        else:
            self.calibration.remove(index)
        self._fit()
        self._changed()
        return True

    def _fit(self) -> None:
        # Fit what the labelled takes teach the head now, as part of the update: otherwise the
        # next analysis would pay for it.
        if self.calibration is not None:
            self.calibration.fit(self.model.calibration_head)

    def save(self, path):
        """Write the calibration as JSON to ``path`` (only on request; it lives in the session otherwise)."""
        if self.calibration is None:
            raise ValueError("not calibrated yet: nothing to save")
        return self.calibration.save(path)

    def offer_download(self) -> None:
        """Put a link on the page that downloads the calibration as JSON (nothing is written here)."""
        import base64
        import json

        if self.calibration is None:
            self.download.value = ""
            return
        data = base64.b64encode(json.dumps(self.calibration.to_dict()).encode()).decode()
        self.download.value = (
            f'<a class="ser-calibration-link" download="{DOWNLOAD_NAME}" '
            f'href="data:application/json;base64,{data}">Download {DOWNLOAD_NAME}</a> '
            f'({self.calibration.n_clips} clips, {self.calibration.seconds:.1f} s of speech; '
            f'serwidgets.calibration.Calibration.load reads it)')

    def _changed(self) -> None:
        self.download.value = ""  # a link to an older state would mislead
        self.state = "calibrated" if self.calibration is not None else "collecting" if self.n_clips else "empty"
        self._draw()
        self._change_callbacks(self.calibration)
        # Last: the leave-one-take-out refits once per take, so the update above is on screen first.
        started = time.perf_counter()
        self.scorecard.show(self.calibration, self.model.calibration_head)
        self.scorecard.layout.display = None if self.scorecard.shown else "none"
        if self.scorecard.shown:
            self.timings["leave_one_out"] = 1000 * (time.perf_counter() - started)

    # -- display ---------------------------------------------------------------------------
    def _show_body(self, change) -> None:
        # The scorecard stays when the prompts close: it is what the calibration knows.
        self.children = [self.header, self.body, self.scorecard] if change["new"] else [self.header, self.scorecard]
        self._draw()

    def status_text(self) -> str:
        """The status line: calibrated or not, with how much speech."""
        from serwidgets.calibration import GOOD_CALIBRATION_CLIPS, MIN_CALIBRATION_CLIPS

        cal = self.calibration
        if self.state == "empty":
            return "Not calibrated: results use the model's general idea of voices."
        if self.state == "collecting":
            missing = MIN_CALIBRATION_CLIPS - self.n_clips
            return f"Not calibrated yet: {missing} more take{'s' if missing > 1 else ''} needed."
        text = f"Calibrated to your voice ({cal.n_clips} clips, {cal.seconds:.1f} s)"
        if cal.n_clips < GOOD_CALIBRATION_CLIPS:
            text += f"; {GOOD_CALIBRATION_CLIPS} clips work best"
        if self.keep_learning:
            text += "; learning from your recordings"
        return text + "."

    def _draw(self) -> None:
        calibrated = self.calibration is not None
        self.status_line.value = (f'<span data-state="{self.state}" data-calibrated="{str(calibrated).lower()}" '
                                  f'data-clips="{self.calibration.n_clips if calibrated else 0}">'
                                  f'{html.escape(self.status_text())}</span>')
        self.open_button.description = "Change my calibration" if calibrated else "Calibrate to my voice"
        self.open_button.layout.display = "none" if self.opened else None
        self.close_button.description = "Done" if calibrated else "Close"
        self.save_button.disabled = not calibrated
        n = len(self.prompts)
        prompt = self.prompt
        if prompt is None:
            self.prompt_box.value = (f'<div class="ser-prompt-done">All {n} prompts recorded. Press Done, then '
                                     f'record as usual: results are calibrated to your voice.</div>')
        else:
            again = " (skipped before)" if self.current in self.skipped else ""
            self.prompt_box.value = (
                f'<div class="ser-prompt-step" data-prompt="{self.current}">Prompt {self.current + 1} of {n}{again}: '
                f'say it <b>{html.escape(prompt.feeling)}</b></div>'
                f'<div class="ser-prompt-sentence">“{html.escape(prompt.sentence)}”</div>')
        self.recorder.layout.display = "none" if prompt is None else None
        self.skip_button.disabled = prompt is None
        share = min(1.0, self.n_clips / n)
        self.progress.value = (
            f'<div class="ser-progress-track">'
            f'<div class="ser-progress-fill" style="width:{100 * share:.0f}%"></div></div>'
            f'<div class="ser-progress-text" data-clips="{self.n_clips}" data-seconds="{self.seconds:.2f}">'
            f'{self.n_clips} of {n} clips · {self.seconds:.1f} s of speech</div>')


def _button(description: str, css_class: str, tooltip: str) -> ipywidgets.Button:
    button = ipywidgets.Button(description=description, tooltip=tooltip, layout=ipywidgets.Layout(width="auto"))
    button.add_class(css_class)
    return button


def _html(css_class: str) -> ipywidgets.HTML:
    widget = ipywidgets.HTML()
    widget.add_class(css_class)
    return widget
