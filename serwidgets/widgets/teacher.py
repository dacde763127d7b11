"""Teacher: "Teach it your own feelings" -- name a few classes, record takes, train, try it, save.

The user names 2 to 8 classes (any words: "bored" and "excited", "my teacher voice" and "my
normal voice") and records or uploads at least :data:`~serwidgets.personal.MIN_TAKES` takes of
each, with each class's own :class:`Recorder` and :class:`Uploader` (their limits and refusals).
Each take is checked and encoded *when it arrives* (:meth:`serwidgets.model.Model.features`, the
frozen encoder's pooled states), so "Train" only fits the head on features already there
(:func:`serwidgets.personal.teach_features`: milliseconds). The result says how many takes a model
taught from the *other* takes recognises (leave one take out), with the confusion matrix, and
"Try it" is the emotion flow (:class:`EmotionDashboard`: record or upload, live timeline) on the
taught model. "Save my model" offers the model as a download (a zip of
:meth:`~serwidgets.model.PersonalModel.save`'s folder, which :func:`serwidgets.load_model` reads once
unzipped); "Load a model" reads such a zip back.

A take is refused with a message under the button that sent it when it cannot be read, holds no
speech, or holds less than :data:`~serwidgets.calibration.MIN_CLIP_SECONDS` of speech after
trimming (pooled statistics of less say little). Nothing is written to disk: takes live in the
kernel until the page closes, and a saved model holds the head, not the takes.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

import ipywidgets
import numpy as np
import traitlets

from .calibrator import _button, _html
from .limits import Limits
from .panel import EMOTION_COLORS, no_speech_message
from .recorder import Recorder
from .uploader import Uploader

log = logging.getLogger(__name__)

#: :attr:`Teacher.state`: takes missing; enough takes, not trained on them (yet, or since a change); trained.
STATES = ("collecting", "ready", "trained")

#: Classes a new Teacher starts with (the user renames them).
DEFAULT_CLASSES = ("calm", "excited")

#: Longest take (seconds), recorded or uploaded; the recorder stops by itself after this.
TAKE_SECONDS = 10.0

#: Longest class name (characters): it labels buttons, the timeline and the confusion matrix.
MAX_NAME_LENGTH = 40

#: File name of the "Save my model" download (a zip holding one folder of this name, without ".zip").
DOWNLOAD_NAME = "my-classes.zip"

#: Largest file "Load a model" reads, and the most its zip may unpack to (bytes). A saved model
#: is a card and a head of a few thousand numbers per class: well under 1 MiB.
MAX_BUNDLE_BYTES = 4 * 2**20

#: Colours of classes that are not emotions with a colour of their own (Okabe and Ito's palette:
#: told apart with colour-blind eyes too), in order of the classes.
CLASS_COLORS = ("#e69f00", "#56b4e9", "#009e73", "#cc79a7", "#0072b2", "#d55e00", "#f0e442", "#999999")

INTRO = (
    "Invent your own classes: “bored” and “excited”, “my teacher voice” and “my normal voice”, "
    "“stressed” and “calm”. Name {min_classes} to {max_classes} classes (any words), record or upload at least "
    "{min_takes} takes of each (a sentence, about 3 s), then press Train: a small model on top of the speech "
    "encoder learns them in an instant. Your takes stay in this session only."
)
FLOOR_NOTE = ("Each take was judged by a model taught from your other takes only: with a few takes per class, "
              "that is a cautious figure.")
TRY_NOTE = "Record or upload: your model answers with your classes; the timeline follows while you record."
STALE_NOTE = "Your classes or takes changed since this model was taught: press Train to teach it again."


class Teacher(Limits, ipywidgets.VBox):
    """Teach a model your own classes from a few takes of each; see how well it knows them; try it; save it.

    Parameters
    ----------
    model : serwidgets.model.Model, optional
        The model whose frozen encoder hears the takes (default: :func:`serwidgets.load_model`,
        the shipped model). It must have an encoder (an encoder model).
    classes : sequence of str
        The classes to start with (default :data:`DEFAULT_CLASSES`); the user renames, adds and
        removes them.
    max_seconds : float
        Longest take (default :data:`TAKE_SECONDS`), recorded or uploaded. Passed on to each
        class's :class:`Recorder` and :class:`Uploader` (``max_bytes`` to the recorders).
    min_seconds : float
        Least speech in a take after trimming (default
        :data:`~serwidgets.calibration.MIN_CLIP_SECONDS`); shorter takes are refused.

    Attributes
    ----------
    state : {"collecting", "ready", "trained"}
        Takes missing; enough takes but no model taught from them; taught (:data:`STATES`).
    personal_model : serwidgets.model.PersonalModel or None
        The model "Try it" uses: the last one taught or loaded (it may predate later changes:
        then :attr:`state` is not "trained").
    leave_one_out : serwidgets.calibration.LeaveOneOut or None
        Its leave-one-take-out figures, as shown.
    trial : EmotionDashboard or None
        "Try it": the emotion flow on :attr:`personal_model`.
    message : str
        Why the last action was refused ("" when it was not).
    timings : dict
        Milliseconds: ``decode``/``prepare``/``encode`` of the last take (when it arrived),
        ``train`` and ``leave_one_out`` of the last training.

    Examples
    --------
    >>> import serwidgets
    >>> from serwidgets.widgets import Teacher
    >>> teacher = Teacher(serwidgets.load_model())
    >>> teacher.classes, teacher.state
    (['calm', 'excited'], 'collecting')
    >>> teacher.rename_class(1, "stressed"), teacher.new_class("sleepy"), teacher.classes
    (True, True, ['calm', 'stressed', 'sleepy'])
    >>> teacher.train(), teacher.message
    (False, 'Record or upload at least 3 takes of each class: calm has 0, stressed has 0, sleepy has 0.')
    >>> teacher                                       # doctest: +SKIP
    """

    state = traitlets.Enum(STATES, "collecting", help="takes missing, ready to train, or trained")

    def __init__(self, model=None, classes=DEFAULT_CLASSES, **kwargs):
        from serwidgets.personal import MAX_CLASSES, MIN_CLASSES, MIN_TAKES

        if model is None:
            import serwidgets

            model = serwidgets.load_model()
        if model.encoder is None:
            raise ValueError(f"{model.name} has no frozen encoder to teach new classes on: use an encoder model "
                             f"(the shipped ser-emotion6 is one)")
        classes = [check_name(name, []) for name in classes]
        if not MIN_CLASSES <= len(classes) <= MAX_CLASSES or len(set(classes)) != len(classes):
            raise ValueError(f"start with {MIN_CLASSES} to {MAX_CLASSES} different class names, got {classes}")
        self.model = model
        self.personal_model = None
        self.leave_one_out = None
        self.trial = None
        self.message = ""
        self._message_row = None  # the class whose take was refused (its message is shown there)
        self.timings: dict[str, float] = {}
        self._rows: list[_Row] = []
        self._stale = False  # the takes or names changed since personal_model was taught
        self._loaded_from = ""  # file name of a loaded model (its takes are not in it)
        self._train_callbacks = ipywidgets.CallbackDispatcher()

        self.intro = _html("ser-teacher-intro")
        self.intro.value = ('<div class="ser-teacher-title">Teach it your own feelings</div>'
                            + html.escape(INTRO.format(min_classes=MIN_CLASSES, max_classes=MAX_CLASSES,
                                                       min_takes=MIN_TAKES)))
        self.class_box = ipywidgets.VBox()
        self.class_box.add_class("ser-teacher-classes")
        self.add_button = _button("Add a class", "ser-teacher-add", f"Another class (at most {MAX_CLASSES})")
        self.train_button = _button("Train", "ser-teacher-train", "Teach a model your classes from your takes")
        self.status_line = _html("ser-teacher-status")
        buttons = ipywidgets.HBox([self.add_button, self.train_button, self.status_line])
        buttons.add_class("ser-teacher-buttons")
        self.results = _html("ser-teacher-results")
        self.try_note = _html("ser-teacher-try-note")
        self.try_box = ipywidgets.VBox([self.try_note])
        self.try_box.add_class("ser-teacher-try")
        self.save_button = _button("Save my model", "ser-teacher-save",
                                   "Download the taught model as a zip file (otherwise it ends with this session)")
        self.download = _html("ser-teacher-download")
        self.load_button = ipywidgets.FileUpload(accept=".zip", multiple=False, description="Load a model",
                                                 tooltip="Read a model saved with “Save my model” (a .zip file)")
        self.load_button.add_class("ser-teacher-load")
        self.load_status = _html("ser-teacher-load-status")
        files = ipywidgets.HBox([self.save_button, self.load_button])
        files.add_class("ser-teacher-files")
        super().__init__(children=[self.intro, self.class_box, buttons, self.results, self.try_box, files,
                                   self.download, self.load_status], **kwargs)
        self.add_class("ser-teacher")
        for name in classes:
            self._rows.append(_Row(self, name))
        self.add_button.on_click(lambda _button: self.new_class())
        self.train_button.on_click(lambda _button: self._guard(self.train))
        self.save_button.on_click(lambda _button: self._guard(self.offer_download))
        self.load_button.observe(self._load_chosen, names="value")
        self._draw()

    @traitlets.default("max_seconds")
    def _default_max_seconds(self):
        return TAKE_SECONDS

    @traitlets.default("min_seconds")
    def _default_min_seconds(self):
        from serwidgets.calibration import MIN_CLIP_SECONDS

        return MIN_CLIP_SECONDS

    # -- what it holds ---------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        """The class names, in order."""
        return [row.name for row in self._rows]

    @property
    def counts(self) -> dict[str, int]:
        """Class -> takes accepted."""
        return {row.name: len(row.features) for row in self._rows}

    def on_train(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(personal_model)`` after each training or load.

        ``remove=True`` unregisters ``callback``.
        """
        self._train_callbacks.register_callback(callback, remove=remove)

    # -- classes ---------------------------------------------------------------------------
    def new_class(self, name: str | None = None) -> bool:
        """Add a class (default name: "class N"); False (and a message) at the most classes or a bad name."""
        from serwidgets.personal import MAX_CLASSES

        if len(self._rows) >= MAX_CLASSES:
            return self._refuse(f"At most {MAX_CLASSES} classes: remove one first.")
        if name is None:
            n = len(self._rows) + 1
            while f"class {n}" in self.classes:
                n += 1
            name = f"class {n}"
        try:
            name = check_name(name, self.classes)
        except ValueError as error:
            return self._refuse(str(error))
        self._rows.append(_Row(self, name))
        self._changed()
        return True

    def rename_class(self, index: int, name: str) -> bool:
        """Call class ``index`` ``name``; False (and a message) for an empty, too long or repeated name."""
        row = self._rows[index]
        try:
            name = check_name(name, [other for other in self.classes if other != row.name])
        except ValueError as error:
            row.show_name()  # the box goes back to the name the class keeps
            return self._refuse(str(error))
        if name != row.name:
            row.name = name
            self._changed()
        row.show_name()
        return True

    def drop_class(self, index: int) -> bool:
        """Remove class ``index`` and its takes; False (and a message) at the fewest classes."""
        from serwidgets.personal import MIN_CLASSES

        if len(self._rows) <= MIN_CLASSES:
            return self._refuse(f"At least {MIN_CLASSES} classes: rename this one, or add another first.")
        self._rows.pop(index).close()
        self._changed()
        return True

    # -- takes -----------------------------------------------------------------------------
    def add_take(self, index: int, y: np.ndarray, sr: int, name: str = "that take") -> bool:
        """Use audio ``y`` (at ``sr`` Hz) as a take of class ``index``; False (and a message) if refused."""
        from serwidgets import audio

        row = self._rows[index]
        started = time.perf_counter()
        try:
            waveform = audio.prepare(y, sr, self.model.audio_options, name=name)
        except audio.NoSpeechError as error:
            return self._refuse(f"{no_speech_message(error)} Record it again, a little closer to the microphone.",
                                row)
        except audio.TooShortError:
            return self._refuse(self._too_short(None), row)
        except audio.AudioError as error:
            return self._refuse(f"That take cannot be used: {error}.", row)
        seconds = len(waveform) / self.model.sr
        if seconds < self.min_seconds:
            return self._refuse(self._too_short(seconds), row)
        prepared = time.perf_counter()
        # Encoded once, now: Train then fits on features that are already there.
        features = self.model.features([waveform])[0]
        self.timings.update(prepare=1000 * (prepared - started), encode=1000 * (time.perf_counter() - prepared))
        row.features.append(features)
        row.seconds.append(seconds)
        self.message = row.recorder.status = row.uploader.status = ""
        log.info("take %d of %r: %.2f s of speech; prepare %.1f ms, encode %.1f ms", len(row.features), row.name,
                 seconds, self.timings["prepare"], self.timings["encode"])
        self._changed()
        return True

    def drop_take(self, index: int) -> bool:
        """Forget the last take of class ``index`` (a cough, a wrong class); False if it has none."""
        row = self._rows[index]
        if not row.features:
            return False
        row.features.pop()
        row.seconds.pop()
        self.message = ""
        self._changed()
        return True

    def _too_short(self, seconds: float | None) -> str:
        what = "That take is too short" if seconds is None else f"That take has only {seconds:.1f} s of speech"
        return f"{what}; each needs at least {self.min_seconds:g} s. Say a whole sentence and record it again."

    def _recorded(self, row: "_Row", wav: bytes) -> None:
        from serwidgets import audio

        row.from_input(row.recorder)
        started = time.perf_counter()
        try:
            y, sr = row.recorder.decode(wav)  # no further than the take's limit
        except audio.AudioError as error:
            self._refuse(f"Could not read that take: {error}. Record it again.", row)
            return
        self.timings = {"decode": 1000 * (time.perf_counter() - started)}
        self._guard(lambda: self.add_take(self._rows.index(row), y, sr), row)

    def _uploaded(self, row: "_Row", y: np.ndarray, sr: int, name: str) -> None:
        row.from_input(row.uploader)
        self.timings = {}
        self._guard(lambda: self.add_take(self._rows.index(row), y, sr, name=name), row)

    # -- training --------------------------------------------------------------------------
    def missing(self) -> str:
        """What is missing before Train ("" when nothing is)."""
        from serwidgets.personal import MIN_TAKES

        few = [f"{row.name} has {len(row.features)}" for row in self._rows if len(row.features) < MIN_TAKES]
        if few:
            return f"Record or upload at least {MIN_TAKES} takes of each class: {', '.join(few)}."
        return ""

    def train(self) -> bool:
        """Teach a model the classes from their takes; False (and a message) when takes are missing."""
        from serwidgets.personal import TeachError, teach_features

        missing = self.missing()
        if missing:
            return self._refuse(missing)
        features = np.stack([f for row in self._rows for f in row.features])
        labels = [row.name for row in self._rows for _ in row.features]
        started = time.perf_counter()
        try:
            personal = teach_features(features, labels, model=self.model)
        except TeachError as error:
            return self._refuse(f"{error}.")
        taught = time.perf_counter()
        loo = personal.leave_one_out()
        self.timings.update(train=1000 * (taught - started), leave_one_out=1000 * (time.perf_counter() - taught))
        log.info("taught %d classes from %d takes in %.1f ms (leave-one-out %.1f ms)", len(self._rows),
                 len(labels), self.timings["train"], self.timings["leave_one_out"])
        self._loaded_from = ""
        self._use(personal, loo)
        return True

    def _use(self, personal, loo) -> None:
        """Make ``personal`` the model shown and tried."""
        self.personal_model, self.leave_one_out, self._stale, self.message = personal, loo, False, ""
        self.download.value = ""  # a link to an older model would mislead
        self._draw()
        self._show_trial()
        self._train_callbacks(personal)

    def _show_trial(self) -> None:
        # The emotion flow itself, on the taught model: recording, upload, live timeline, messages.
        from .dashboard import EmotionDashboard

        personal = self.personal_model
        if self.trial is None:
            self.trial = EmotionDashboard(model=personal)
            self.try_box.children = [self.try_note, self.trial]
        else:
            self.trial.model = personal
            self.trial.panel.labels = list(personal.labels)
            self.trial.panel.window = float(personal.window)
            self.trial.clear_result()
        self.trial.panel.colors = class_colors(personal.labels)
        self.trial.panel.model_info = describe_personal(personal, self.leave_one_out)

    # -- saving and loading ----------------------------------------------------------------
    def bundle_bytes(self) -> bytes:
        """The taught model as a zip: one folder, as :meth:`~serwidgets.model.PersonalModel.save` writes it."""
        if self.personal_model is None:
            raise ValueError("nothing taught yet: nothing to save")
        folder_name = PurePosixPath(DOWNLOAD_NAME).stem
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(self.personal_model.save(Path(tmp) / folder_name))
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                    archive.write(path, f"{folder_name}/{path.relative_to(folder).as_posix()}")
        return buffer.getvalue()

    def offer_download(self) -> None:
        """Put a link on the page that downloads the taught model (nothing is written here)."""
        if self.personal_model is None:
            self.download.value = ""
            self._refuse("Nothing to save yet: press Train first.")
            return
        data = base64.b64encode(self.bundle_bytes()).decode()
        takes = sum(self.personal_model.takes.values())
        self.download.value = (
            f'<a class="ser-teacher-link" download="{DOWNLOAD_NAME}" href="data:application/zip;base64,{data}">'
            f'Download {DOWNLOAD_NAME}</a> ({len(self.personal_model.labels)} classes, {takes} takes; '
            f'“Load a model” reads it back, and so does serwidgets.load_model once unzipped)')

    def load(self, data: bytes, name: str = "the file") -> bool:
        """Use the model in ``data`` (a zip from :meth:`bundle_bytes`); False (and a message) if refused.

        The classes become the model's, with no takes (a saved model holds none): new takes
        start a new lesson, and "Try it" uses the loaded model until the next Train.
        """
        from serwidgets.card import BundleError
        from serwidgets.model import PersonalModel, load_model

        self.load_status.value = ""
        if len(data) > MAX_BUNDLE_BYTES:
            return self._refuse_load(f"{name} is too large for a taught model: {len(data) / 2**20:.1f} MiB "
                                     f"(limit {MAX_BUNDLE_BYTES / 2**20:.0f} MiB).")
        not_ours = f"Could not read {name}: it is not a model saved with “Save my model” (a .zip file)."
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = archive.infolist()
        except (zipfile.BadZipFile, ValueError):
            return self._refuse_load(not_ours)
        cards = [m for m in members if PurePosixPath(m.filename).name == "card.json"]
        unsafe = [m.filename for m in members
                  if m.filename.startswith("/") or ".." in PurePosixPath(m.filename).parts]
        if len(cards) != 1 or unsafe or sum(m.file_size for m in members) > MAX_BUNDLE_BYTES:
            return self._refuse_load(not_ours)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                archive.extractall(tmp)
                personal = load_model(Path(tmp) / PurePosixPath(cards[0].filename).parent)
        except (BundleError, OSError, ValueError, zipfile.BadZipFile) as error:
            return self._refuse_load(f"Could not load {name}: {error}.")
        if not isinstance(personal, PersonalModel):
            return self._refuse_load(f"{name} holds the model {personal.name!r}, not one taught here.")
        if personal.encoder.sha256 != self.model.encoder.sha256:
            return self._refuse_load(f"{name} was taught on another speech encoder than this page's: "
                                     f"teach it again here.")
        for row in self._rows:
            row.close()
        self._rows = [_Row(self, label) for label in personal.labels]
        self._loaded_from = name
        self._use(personal, personal.leave_one_out())
        self.load_status.value = (f'<span data-loaded="{html.escape(name)}">Loaded {html.escape(name)}. Its takes are '
                                  f'not in the file: takes you add now start a new lesson.</span>')
        return True

    def _load_chosen(self, change) -> None:
        files = change["new"]
        if not files:
            return
        upload = files[0]
        self.load_button.value = ()  # the same file can be chosen again
        self._guard(lambda: self.load(bytes(upload["content"]), str(upload.get("name") or "the file")))

    def _refuse_load(self, message: str) -> bool:
        self.message = message
        self.load_status.value = f'<span class="ser-teacher-refused">{html.escape(message)}</span>'
        return False

    # -- state and display -----------------------------------------------------------------
    def _refuse(self, message: str, row: "_Row | None" = None) -> bool:
        self.message, self._message_row = message, row
        if row is not None:
            row.input.status = message  # shown under the button the take came from, not beside Train
        self._draw()
        return False

    def _guard(self, action, row: "_Row | None" = None) -> None:
        # Widget callbacks run inside comm handlers: an exception would only reach the kernel log
        # (invisible in Voilà), so it is shown on the page as well.
        try:
            action()
        except Exception as error:
            log.exception("teaching failed")
            self._refuse(f"That did not work: {type(error).__name__}: {error}", row)

    def _changed(self) -> None:
        if self.personal_model is not None:
            self._stale = True
        self.download.value = ""
        self._draw()

    def status_text(self) -> str:
        """The line beside Train: what is missing, or what was taught."""
        missing = self.missing()
        if self.state == "trained":
            takes = sum(self.personal_model.takes.values())
            where = f"Loaded from {self._loaded_from}: taught" if self._loaded_from else "Taught"
            train = self.timings.get("train")
            speed = f" in {train:.0f} ms" if train is not None and not self._loaded_from else ""
            return f"{where} from {takes} takes of {len(self.personal_model.labels)} classes{speed}."
        if missing:
            return missing
        return "Ready: press Train." if self.personal_model is None else STALE_NOTE

    def _draw(self) -> None:
        from serwidgets.personal import MAX_CLASSES, MIN_CLASSES, MIN_TAKES

        current = self.personal_model is not None and not self._stale
        self.state = "trained" if current else "collecting" if self.missing() else "ready"
        colors = class_colors(self.classes)
        for row in self._rows:
            row.draw(colors[row.name], MIN_TAKES, removable=len(self._rows) > MIN_CLASSES)
        self.class_box.children = [row.box for row in self._rows]
        self.add_button.disabled = len(self._rows) >= MAX_CLASSES
        self.train_button.disabled = self.state != "ready"
        self.save_button.disabled = self.personal_model is None
        refused = (f'<div class="ser-teacher-refused">{html.escape(self.message)}</div>'
                   if self.message and self._message_row is None and self.message != self.status_text() else "")
        self.status_line.value = (f'<span data-state="{self.state}">{html.escape(self.status_text())}</span>'
                                  + refused)
        self.results.value = render_results(self.leave_one_out) if self.leave_one_out is not None else ""
        self.results.layout.display = None if self.leave_one_out is not None else "none"
        self.try_box.layout.display = None if self.personal_model is not None else "none"
        note = TRY_NOTE if current else STALE_NOTE
        self.try_note.value = (f'<div class="ser-teacher-title">Try it</div>'
                               f'<span data-stale="{str(not current).lower()}">{html.escape(note)}</span>')


class _Row:
    """One class on the page: its name, its takes, and their widgets (Record, Upload, drop, remove)."""

    def __init__(self, teacher: Teacher, name: str):
        self.name = name
        self.features: list[np.ndarray] = []  # pooled encoder states of each accepted take
        self.seconds: list[float] = []  # their seconds of speech
        self.name_box = ipywidgets.Text(value=name, continuous_update=False, placeholder="name this class",
                                        layout=ipywidgets.Layout(width="14em"))
        self.name_box.add_class("ser-teacher-name")
        self.count = _html("ser-teacher-count")
        self.drop_button = _button("Drop last take", "ser-teacher-drop", "Forget this class's last take")
        self.remove_button = _button("Remove", "ser-teacher-remove", "Remove this class and its takes")
        self.recorder = Recorder()
        self.uploader = Uploader()
        self.input = self.recorder  # where the last take came from: its refusal is shown there
        # The teacher's limits, not each widget's own defaults: one take is one take however it comes.
        self.links = [traitlets.dlink((teacher, "max_seconds"), (self.recorder, "max_seconds")),
                      traitlets.dlink((teacher, "max_bytes"), (self.recorder, "max_bytes")),
                      traitlets.dlink((teacher, "max_seconds"), (self.uploader, "max_seconds"))]
        head = ipywidgets.HBox([self.name_box, self.count, self.drop_button, self.remove_button])
        head.add_class("ser-teacher-class-head")
        inputs = ipywidgets.HBox([self.recorder, self.uploader])
        inputs.add_class("ser-teacher-inputs")
        self.box = ipywidgets.VBox([head, inputs])
        self.box.add_class("ser-teacher-class")
        self.widgets = [self.name_box, self.count, self.drop_button, self.remove_button, self.recorder,
                        self.uploader, head, inputs, self.box]

        def index() -> int:
            return teacher._rows.index(self)

        self.name_box.observe(lambda change: teacher.rename_class(index(), change["new"]), names="value")
        self.drop_button.on_click(lambda _button: teacher.drop_take(index()))
        self.remove_button.on_click(lambda _button: teacher.drop_class(index()))
        self.recorder.on_recording(lambda wav: teacher._recorded(self, wav))
        self.uploader.on_upload(lambda y, sr, name: teacher._uploaded(self, y, sr, name))
        self.uploader.on_refused(lambda message: teacher._refuse(message, self.from_input(self.uploader)))

    def from_input(self, widget) -> "_Row":
        """This row, its next message going under ``widget`` (its Recorder or Uploader)."""
        self.input = widget
        return self

    def show_name(self) -> None:
        if self.name_box.value != self.name:
            self.name_box.value = self.name  # a refused rename: rename_class sees no change and stops

    def draw(self, color: str, min_takes: int, removable: bool) -> None:
        n, seconds = len(self.seconds), sum(self.seconds)
        more = f" ({min_takes - n} more needed)" if n < min_takes else ""
        self.count.value = (f'<span class="ser-teacher-chip" data-class="{html.escape(self.name)}" data-takes="{n}" '
                            f'data-seconds="{seconds:.2f}" style="border-color:{color}">'
                            f'{n} take{"" if n == 1 else "s"} · {seconds:.1f} s{more}</span>')
        self.drop_button.disabled = n == 0
        self.remove_button.disabled = not removable

    def close(self) -> None:
        for link in self.links:
            link.unlink()
        for widget in self.widgets:
            widget.close()


def check_name(name: str, others) -> str:
    """``name`` with its spaces trimmed, if it can name a class beside ``others``; else a ValueError saying why.

    Examples
    --------
    >>> check_name("  my teacher voice ", ["calm"])
    'my teacher voice'
    >>> check_name("calm", ["calm"])
    Traceback (most recent call last):
    ...
    ValueError: There is already a class called “calm”: give each class its own name.
    """
    name = " ".join(str(name).split())
    if not name:
        raise ValueError("A class needs a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"Class names are at most {MAX_NAME_LENGTH} characters; “{name}” has {len(name)}.")
    if name in others:
        raise ValueError(f"There is already a class called “{name}”: give each class its own name.")
    return name


def class_colors(names) -> dict[str, str]:
    """A colour per class: an emotion's own colour (:data:`~serwidgets.widgets.panel.EMOTION_COLORS`), else
    the next of :data:`CLASS_COLORS` not taken.

    Examples
    --------
    >>> class_colors(["angry", "bored", "excited"])
    {'angry': '#d32f2f', 'bored': '#e69f00', 'excited': '#ff7043'}
    """
    taken = {EMOTION_COLORS[name] for name in names if name in EMOTION_COLORS}
    free = iter([color for color in CLASS_COLORS if color not in taken] + list(CLASS_COLORS))
    return {name: EMOTION_COLORS[name] if name in EMOTION_COLORS else next(free) for name in names}


def render_results(loo) -> str:
    """"On your 6 takes: 5 of 6 recognised" and the confusion matrix, as HTML (stable classes and data attributes).

    Rows are the class of each take, columns what a model taught from the other takes called
    it; a cell's shade is its share of the row.

    Examples
    --------
    >>> from serwidgets.calibration import LeaveOneOut
    >>> page = render_results(LeaveOneOut(("bored", "excited"), ["bored"] * 3 + ["excited"] * 3,
    ...                                   ["bored", "bored", "excited", "excited", "excited", "excited"]))
    >>> 'data-correct="5" data-n="6"' in page, 'data-true="bored" data-predicted="excited" data-n="1"' in page
    (True, True)
    """
    summary = loo.summary()
    chance = 100 / len(loo.classes)
    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in loo.classes)
    rows = []
    for i, label in enumerate(loo.classes):
        total = max(1, int(loo.confusion[i].sum()))
        cells = "".join(
            f'<td data-true="{html.escape(label)}" data-predicted="{html.escape(said)}" data-n="{n}" '
            f'style="background:rgba({"67,160,71" if i == j else "229,57,53"},{0.1 + 0.6 * n / total:.2f})">{n}</td>'
            if n else f'<td data-true="{html.escape(label)}" data-predicted="{html.escape(said)}" data-n="0">·</td>'
            for j, (said, n) in enumerate(zip(loo.classes, loo.confusion[i].tolist())))
        rows.append(f'<tr><th scope="row">{html.escape(label)}</th>{cells}</tr>')
    return (
        f'<div class="ser-teacher-title">How well it knows your classes</div>'
        f'<div class="ser-teacher-score" data-correct="{loo.correct}" data-n="{loo.n}">'
        f'{html.escape(summary[0].upper() + summary[1:])} ({100 * loo.accuracy:.0f}%; chance {chance:.0f}%).</div>'
        f'<table class="ser-teacher-confusion"><thead><tr><th></th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>'
        f'<div class="ser-teacher-note">Rows: the class of each take. Columns: what a model taught from your other '
        f'takes called it. {html.escape(FLOOR_NOTE)}</div>'
    )


def describe_personal(personal, loo) -> str:
    """The "Try it" panel's line naming the taught model (its classes, takes and leave-one-take-out figure).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from serwidgets.calibration import LeaveOneOut
    >>> loo = LeaveOneOut(("bored", "excited"), ["bored"] * 3 + ["excited"] * 3, ["bored"] * 3 + ["excited"] * 3)
    >>> describe_personal(SimpleNamespace(labels=("bored", "excited"), takes={"bored": 3, "excited": 3}), loo)
    'Your model: bored, excited; taught from 6 takes, leave-one-take-out 6 of 6 (chance 50%)'
    """
    takes = sum(personal.takes.values())
    figure = f", leave-one-take-out {loo.correct} of {loo.n}" if loo is not None else ""
    return (f"Your model: {', '.join(personal.labels)}; taught from {takes} takes{figure} "
            f"(chance {100 / len(personal.labels):.0f}%)")
