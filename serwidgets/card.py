"""The model card: ``card.json``, the one file that says what a bundle is and how to use it.

Every bundle folder (see :mod:`serwidgets.bundle`) holds a ``card.json``. Each kind of bundle
has its card class, all on one base (:class:`Card`):

=================  ====================  ==========================================================
kind               class                 what the bundle holds
=================  ====================  ==========================================================
``"network"``      :class:`NetworkCard`  a Keras network (``model.keras``, ``model.tflite``) fed
                                         log-mels or waveforms made with its ``feature_config``
``"encoder-head"`` :class:`EncoderHeadCard`  a head (``head.npz``) on a named encoder bundle
``"baseline"``     :class:`BaselineCard` standardised utterance functionals + logistic regression
                                         (``baseline.npz``)
``"personal"``     :class:`PersonalCard` a user's own classes taught from a few takes (``head.npz``)
                                         on a named encoder bundle (:mod:`serwidgets.personal`)
``"encoder"``      :class:`EncoderCard`  a frozen pretrained encoder (``encoder.tflite``)
=================  ====================  ==========================================================

All but the encoder's are :class:`ModelCard`\\ s: what :func:`serwidgets.model.load_model` loads (they
have a task, labels and audio options). :meth:`Card.read` returns the class of the card's kind.

A card is written as canonical JSON (sorted keys, two-space indent, one trailing newline), so
the same card is always the same bytes. Reading is strict: an unknown kind or key, a missing
required field, another ``card_format``, a file whose sha256 differs from the card's, or a
kind's weight file missing from ``files`` is refused with a :class:`BundleError` that says
which.

Examples
--------
>>> from serwidgets import shipped
>>> card = Card.read(shipped.path("models") / "zhao2019-emotion6")
>>> type(card).__name__, card.task, card.labels[:2]
('NetworkCard', 'emotion6', ('angry', 'disgust'))
>>> card.feature_config.n_mels, card.audio_options.remove_dc
(64, False)
>>> round(card.metrics["UA"], 3)
0.622
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import ClassVar

__all__ = ["Card", "ModelCard", "NetworkCard", "EncoderHeadCard", "BaselineCard", "PersonalCard", "EncoderCard",
           "KINDS", "CARD", "CARD_FORMAT", "BundleError", "BundleNotFoundError", "IntegrityError", "file_sha256",
           "library_versions"]

#: File name of the card inside a bundle folder.
CARD = "card.json"
#: Version of the card layout: a card of another format is refused (bumped when a field changes meaning).
CARD_FORMAT = 2


class BundleError(ValueError):
    """A bundle folder is incomplete, inconsistent or unreadable."""


class BundleNotFoundError(BundleError, FileNotFoundError):
    """There is no bundle (no ``card.json``) at the given place."""


class IntegrityError(BundleError):
    """A file's sha256 differs from the one recorded in the card."""


@dataclass(kw_only=True, eq=True)
class Card:
    """What every bundle's card says; the base of one class per kind (see the module docstring).

    Parameters
    ----------
    name : str
        The bundle's name (usually its folder's).
    files : dict
        File name -> sha256 of every file of the bundle (:meth:`add_files` fills it).
    description : str
    versions : dict
        Library versions when it was written (:meth:`stamp`).
    date : str
        ISO time of writing (:meth:`stamp`).

    Examples
    --------
    >>> card = EncoderCard(name="enc", encoder_id="e/1", n_states=2, frame_seconds=0.02,
    ...                    files={"encoder.tflite": "ba78..."})
    >>> print(card.to_json()[:72])
    {
      "card_format": 2,
      "date": "",
      "description": "",
      "dim": null,
    >>> Card.from_dict(card.to_dict()) == card
    True
    >>> Card.from_dict({**card.to_dict(), "colour": "red"})
    Traceback (most recent call last):
    ...
    serwidgets.card.BundleError: unknown keys for a card of kind 'encoder': colour
    """

    #: The card's ``"kind"`` (None for the abstract classes).
    kind: ClassVar[str | None] = None
    #: The weight file(s) a card of this kind must list: one of each tuple.
    weights: ClassVar[tuple] = ()

    name: str
    files: dict = field(default_factory=dict)
    description: str = ""
    versions: dict = field(default_factory=dict)
    date: str = ""

    # -- reading -----------------------------------------------------------------------------
    @classmethod
    def read(cls, directory, verify: bool = True) -> Card:
        """The card of the bundle in ``directory``, as the class of its kind, checked.

        Parameters
        ----------
        directory : str or Path
            The bundle folder.
        verify : bool
            Check the sha256 of every file the card lists (default). Skip only for files
            you check yourself (:meth:`verify_file`).

        Raises
        ------
        BundleNotFoundError
            No ``card.json`` in ``directory`` (also a ``FileNotFoundError``).
        BundleError
            Not JSON, or not a card this class reads (see :meth:`from_dict`); the message
            names the file and what is wrong.
        IntegrityError
            A listed file is missing or its sha256 differs; the message names the file.

        Examples
        --------
        >>> from serwidgets import shipped
        >>> card = Card.read(shipped.path("models") / "whisper-base-l3")
        >>> card.kind, card.encoder_id
        ('encoder', 'whisper-base/states-0-3')
        >>> NetworkCard.read(shipped.path("models") / "whisper-base-l3")   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        serwidgets.card.BundleError: .../card.json is a card of kind 'encoder', not a NetworkCard
        """
        directory = Path(directory)
        path = directory / CARD
        if not path.is_file():
            raise BundleNotFoundError(f"no model bundle at {directory} ({CARD} not found)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BundleError(f"{path} is not valid JSON: {error}") from None
        try:
            card = cls.from_dict(data)
        except BundleError as error:
            raise BundleError(f"{path} {error}") from None
        if verify:
            for filename in card.files:
                card.verify_file(directory, filename)
        return card

    @classmethod
    def from_dict(cls, data: dict) -> Card:
        """A card from its JSON form (what :meth:`to_dict` returns), of the class its ``kind`` names.

        Raises
        ------
        BundleError
            Not an object; an unknown kind, or one that is not a ``cls``; another
            ``card_format``; an unknown key; a missing required field; a bad value.

        Examples
        --------
        >>> Card.from_dict({"kind": "encoder", "card_format": 2, "name": "e", "files": {}})
        Traceback (most recent call last):
        ...
        serwidgets.card.BundleError: lacks encoder_id, frame_seconds, n_states
        >>> Card.from_dict({"kind": "encoder", "card_format": 1})
        Traceback (most recent call last):
        ...
        serwidgets.card.BundleError: has card_format 1; this version of serwidgets reads card_format 2
        """
        if not isinstance(data, dict):
            raise BundleError("is not a JSON object")
        data = dict(data)
        kind = data.pop("kind", None)
        if kind not in KINDS:
            raise BundleError(f"has kind {kind!r}; known kinds: {', '.join(KINDS)}")
        card_class = KINDS[kind]
        if not issubclass(card_class, cls):
            raise BundleError(f"is a card of kind {kind!r}, not a {cls.__name__}")
        card_format = data.pop("card_format", None)
        if card_format != CARD_FORMAT:
            raise BundleError(f"has card_format {card_format}; this version of serwidgets reads "
                              f"card_format {CARD_FORMAT}")
        known = {f.name: f for f in dataclasses.fields(card_class)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise BundleError(f"unknown keys for a card of kind {kind!r}: {', '.join(unknown)}")
        missing = sorted(name for name, f in known.items() if name not in data and _required(f))
        if missing:
            raise BundleError(f"lacks {', '.join(missing)}")
        try:
            card = card_class(**{key: _from_json(key, value) for key, value in data.items()})
        except (TypeError, ValueError) as error:
            raise BundleError(str(error)) from None
        card._check_files()
        return card

    def _check_files(self):
        for choices in self.weights:
            if not set(self.files) & set(choices):
                raise BundleError(f"lists none of {', '.join(choices)} in files")

    # -- writing -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The card's JSON form (``kind`` and ``card_format`` included)."""
        out = {"kind": self.kind, "card_format": CARD_FORMAT}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else (
                list(value) if isinstance(value, tuple) else value)
        return out

    def to_json(self) -> str:
        """The canonical text :meth:`write` writes: sorted keys, two-space indent, one trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=_json_default) + "\n"

    def write(self, directory) -> Path:
        """Write ``card.json`` into ``directory`` (created if needed); returns its path.

        It does not compute hashes: list the files with :meth:`add_files` after writing them,
        and write the card last (a folder without a card is not a bundle, so an interrupted
        save is never loaded half-written).

        Examples
        --------
        >>> import tempfile
        >>> from serwidgets import shipped
        >>> source = shipped.path("models") / "ser-emotion6"
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = Card.read(source).write(tmp)
        ...     path.read_bytes() == (source / "card.json").read_bytes()
        True
        """
        if self.kind is None:
            raise BundleError(f"{type(self).__name__} is not a kind of card; use one of {', '.join(KINDS)}")
        try:
            self._check_files()
        except BundleError as error:
            raise BundleError(f"card of {self.name!r} {error} (add_files first)") from None
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / CARD
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    def add_files(self, directory, *filenames) -> Card:
        """Record the sha256 of each of ``filenames`` (in ``directory``) in :attr:`files`; returns ``self``.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "encoder.tflite").write_bytes(b"abc")
        ...     card = EncoderCard(name="e", encoder_id="e/1", n_states=1, frame_seconds=0.02)
        ...     card.add_files(tmp, "encoder.tflite").files["encoder.tflite"][:12]
        'ba7816bf8f01'
        """
        for filename in filenames:
            self.files[filename] = file_sha256(Path(directory) / filename)
        return self

    def stamp(self) -> Card:
        """Set :attr:`versions` (:func:`library_versions`) and :attr:`date` (now, UTC); returns ``self``."""
        self.versions = library_versions()
        self.date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return self

    # -- checking ----------------------------------------------------------------------------
    def verify_file(self, directory, filename: str) -> None:
        """Check one file of the bundle in ``directory`` against its sha256 in :attr:`files`.

        Raises
        ------
        IntegrityError
            The file is not in the card, missing, or its sha256 differs; the message names it.

        Examples
        --------
        >>> from serwidgets import shipped
        >>> directory = shipped.path("models") / "ser-emotion6"
        >>> Card.read(directory, verify=False).verify_file(directory, "head.npz")
        >>> Card.read(directory, verify=False).verify_file(directory, "model.keras")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        serwidgets.card.IntegrityError: model.keras is not listed in the card.json of ...
        """
        directory = Path(directory)
        expected = self.files.get(filename)
        if expected is None:
            raise IntegrityError(f"{filename} is not listed in the {CARD} of {directory}")
        file = directory / filename
        if not file.is_file():
            raise IntegrityError(f"{filename} is listed in {CARD} but missing from {directory}")
        actual = file_sha256(file)
        if actual != expected:
            raise IntegrityError(
                f"{filename} in {directory} does not match its card: sha256 {actual[:12]}…, "
                f"expected {expected[:12]}… (the file was changed or damaged; re-export the bundle)")


def _required(f) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _from_json(key, value):
    from serwidgets.audio import AudioOptions
    from serwidgets.features import FeatureConfig

    from serwidgets.confidence import Confidence

    typed = {"audio_options": AudioOptions, "feature_config": FeatureConfig, "confidence": Confidence}
    return typed[key].from_dict(value) if key in typed and value is not None else value


@dataclass(kw_only=True, eq=True)
class EncoderCard(Card):
    """The card of an encoder bundle (:mod:`serwidgets.encoders`): ``encoder.tflite`` and where it came from.

    Parameters
    ----------
    encoder_id : str
        What the encoder computes (e.g. ``"whisper-base/states-0-3"``); heads name it.
    n_states : int
        Hidden states it returns.
    frame_seconds : float
        Seconds between two of its frames.
    n_layers, dim : int, optional
    frontend, precision : str, optional
    source : dict, optional
        Where the weights came from (packages, sha256, upstream, licence).
    max_difference : float, optional
        Largest difference of the exported file from the reference implementation, when checked.
    """

    kind: ClassVar[str] = "encoder"
    weights: ClassVar[tuple] = (("encoder.tflite",),)

    encoder_id: str
    n_states: int
    frame_seconds: float
    n_layers: int | None = None
    dim: int | None = None
    frontend: str = ""
    precision: str = ""
    source: dict = field(default_factory=dict)
    max_difference: float | None = None


@dataclass(kw_only=True, eq=True)
class ModelCard(Card):
    """What the card of every model (a bundle :func:`serwidgets.model.load_model` loads) says.

    Parameters
    ----------
    task : str
        Task of the labels, e.g. ``"emotion6"`` (see :data:`serwidgets.labels.TASKS`).
    labels : tuple of str
        Output names, in output order.
    audio_options : serwidgets.audio.AudioOptions
        How audio is prepared before the model sees it.
    training : dict
        What it was trained on, and the recipe.
    metrics : dict
        Held-out scores, ``metrics["protocol"]`` says how they were measured (:meth:`set_metrics`).
    """

    task: str
    labels: tuple
    audio_options: object
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.labels = tuple(str(label) for label in self.labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise BundleError(f"card of {self.name!r}: labels must be two or more distinct names, got {self.labels}")

    def set_metrics(self, metrics: dict, *, task: str, recipe: dict | None = None) -> ModelCard:
        """Replace the held-out metrics; returns ``self`` (then :meth:`write` it).

        For scores of the bundle's recipe measured after it was saved (a cross-validation,
        or a re-run that checks one). The weight files are untouched.

        Parameters
        ----------
        metrics : dict
            Scores, with ``metrics["protocol"]`` saying how they were measured.
        task : str
            The task the scores are for: must be the card's.
        recipe : dict, optional
            The training recipe the scores come from: must be the card's
            ``training["recipe"]`` when the card records one.

        Raises
        ------
        BundleError
            Metrics of another task or another recipe.

        Examples
        --------
        >>> from serwidgets.audio import AudioOptions
        >>> card = EncoderHeadCard(name="x", task="emotion6", labels=("angry", "sad"), audio_options=AudioOptions(),
        ...                        encoder={}, head={}, training={"recipe": {"C": 0.01}})
        >>> card.set_metrics({"protocol": "loso", "UA": 0.6}, task="emotion6").metrics["protocol"]
        'loso'
        >>> card.set_metrics({"UA": 0.6}, task="emotion6", recipe={"C": 1.0})
        Traceback (most recent call last):
        ...
        serwidgets.card.BundleError: these metrics come from another recipe than the bundle was trained with
        """
        if self.task != task:
            raise BundleError(f"metrics for task {task!r} cannot go into a card of task {self.task!r}")
        trained_with = self.training.get("recipe")
        if recipe is not None and trained_with is not None and dict(recipe) != trained_with:
            raise BundleError("these metrics come from another recipe than the bundle was trained with")
        self.metrics = dict(metrics)
        return self


@dataclass(kw_only=True, eq=True)
class NetworkCard(ModelCard):
    """The card of a Keras network bundle (:class:`serwidgets.model.NetworkModel`).

    Parameters
    ----------
    feature_config : serwidgets.features.FeatureConfig
        The log-mel (or waveform length) the network was trained on.
    input_kind : {"log_mel", "waveform"}
    input_shape : list of int
        The network's input shape without the batch axis.
    net : dict
        How to rebuild it: ``name`` (in :data:`serwidgets.nets.NETS`) and ``kwargs``.
    """

    kind: ClassVar[str] = "network"
    weights: ClassVar[tuple] = (("model.tflite", "model.keras"),)

    feature_config: object
    input_kind: str
    input_shape: list
    net: dict

    def __post_init__(self):
        super().__post_init__()
        if self.feature_config.sample_rate != self.audio_options.sample_rate:
            raise BundleError(f"card of {self.name!r}: features expect {self.feature_config.sample_rate} Hz, "
                              f"audio options give {self.audio_options.sample_rate} Hz")
        self.input_shape = [int(n) for n in self.input_shape]


@dataclass(kw_only=True, eq=True)
class EncoderHeadCard(ModelCard):
    """The card of an encoder head (:class:`serwidgets.model.EncoderModel`).

    Parameters
    ----------
    encoder : dict
        The encoder bundle it runs on: ``name``, ``encoder_id``, ``sha256`` (of its
        ``encoder.tflite``), ``n_states`` (:attr:`serwidgets.encoders.Encoder.reference`).
    head : dict
        The head's settings: ``file``, ``layers``, ``C``, ``n_states``, ... (what
        :meth:`serwidgets.heads.FittedHeads.save_head` returns).
    window_seconds : float
        Span of each timeline window.
    confidence : serwidgets.confidence.Confidence or None
        How sure the head may be of a stranger, per calibration state of the speaker (fitted on
        out-of-corpus predictions); None: its probabilities as they are.
    """

    kind: ClassVar[str] = "encoder-head"
    weights: ClassVar[tuple] = (("head.npz",),)

    encoder: dict
    head: dict
    window_seconds: float = 3.0
    confidence: object = None


@dataclass(kw_only=True, eq=True)
class BaselineCard(ModelCard):
    """The card of a functionals baseline (:class:`serwidgets.model.BaselineModel`).

    ``baseline.npz`` holds the scaler's ``mean`` and ``scale`` and the logistic regression's
    ``coef``, ``intercept`` and ``classes`` (indices into ``labels``).

    Parameters
    ----------
    feature_set : {"stats", "compare", "egemaps"}
        The functionals (:data:`serwidgets.functionals.FEATURE_SETS`).
    feature_config : serwidgets.features.FeatureConfig
        The log-mel settings ``"stats"`` computes its statistics on.
    window_seconds : float
        Span of each timeline window.
    """

    kind: ClassVar[str] = "baseline"
    weights: ClassVar[tuple] = (("baseline.npz",),)

    feature_set: str
    feature_config: object
    window_seconds: float = 3.0


@dataclass(kw_only=True, eq=True)
class PersonalCard(ModelCard):
    """The card of classes a user taught from a few takes (:class:`serwidgets.model.PersonalModel`).

    ``head.npz`` holds the head's arrays in the layout :func:`serwidgets.heads.load_head` reads
    (``global_mean``, ``global_scale``, ``global_coef``, ``global_intercept``, ``global_classes``,
    ``std_floor``, ``atypical_above``); :func:`serwidgets.personal.teach` makes one.

    Parameters
    ----------
    encoder : dict
        The encoder bundle it runs on (:attr:`serwidgets.encoders.Encoder.reference`): a model
        on another encoder refuses it.
    head : dict
        The head's settings (``file``, ``layers``, ``n_states``, ``classifier``, ...).
    takes : dict
        Class -> number of takes it was taught with.
    leave_one_out : dict
        ``labels`` and ``predicted``: each take's class and what the others' head called it.
    window_seconds : float
        Span of each timeline window.

    Examples
    --------
    >>> from serwidgets.audio import AudioOptions
    >>> card = PersonalCard(name="mine", task="personal", labels=("calm", "stressed"), audio_options=AudioOptions(),
    ...                     encoder={}, head={}, takes={"calm": 3, "stressed": 3}, leave_one_out={})
    >>> PersonalCard.from_dict({**card.to_dict(), "files": {}})
    Traceback (most recent call last):
    ...
    serwidgets.card.BundleError: lists none of head.npz in files
    """

    kind: ClassVar[str] = "personal"
    weights: ClassVar[tuple] = (("head.npz",),)

    encoder: dict
    head: dict
    takes: dict
    leave_one_out: dict
    window_seconds: float = 3.0


#: Every kind of card, by the ``kind`` its JSON names.
KINDS = {card.kind: card for card in (NetworkCard, EncoderHeadCard, BaselineCard, PersonalCard, EncoderCard)}


def file_sha256(path) -> str:
    """Hex sha256 of a file's bytes.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as file:
    ...     _ = file.write(b"abc"); file.flush()
    ...     file_sha256(file.name)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict:
    """Installed versions of the libraries a bundle depends on (``None`` if not installed).

    Examples
    --------
    >>> sorted(library_versions())
    ['ai-edge-litert', 'keras', 'librosa', 'numpy', 'serwidgets', 'tensorflow']
    """
    versions = {}
    for package, distributions in {
        "tensorflow": ("tensorflow", "tensorflow-cpu"),
        "keras": ("keras",),
        "numpy": ("numpy",),
        "librosa": ("librosa",),
        "ai-edge-litert": ("ai-edge-litert",),
        "serwidgets": ("serwidgets",),
    }.items():
        versions[package] = None
        for distribution in distributions:
            try:
                versions[package] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    if versions["serwidgets"] is None:
        import serwidgets

        versions["serwidgets"] = serwidgets.__version__
    return versions


def _json_default(value):
    # numpy scalars and arrays (counts, metrics) are common in training summaries.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model card")
