"""The model card: ``card.json``, the one file that says what a bundle is and how to use it.

Every bundle folder (see :mod:`serwidgets.bundle`) holds a ``card.json``. :class:`ModelCard`
is its only reader and writer: :meth:`ModelCard.read` parses and checks it (required keys for
the bundle's kind, sha256 of every listed file), :meth:`ModelCard.write` writes it back.

Three kinds of bundle share the card:

``"network"`` (:data:`NETWORK`)
    A whole Keras network: ``model.keras`` (+ ``model.tflite``), fed log-mels or waveforms
    computed with the card's :class:`~serwidgets.features.FeatureConfig`. Cards written before
    kinds existed have no ``"kind"`` key; they are read as this kind.
``"encoder-head"`` (:data:`ENCODER_HEAD`)
    A reference to an encoder bundle (name, id, sha256) and a head (:mod:`serwidgets.heads`).
``"encoder"`` (:data:`ENCODER`)
    A frozen pretrained encoder (:mod:`serwidgets.encoders`).

The card's fields are typed attributes (``card.labels`` is a tuple of str,
``card.audio_options`` an :class:`~serwidgets.audio.AudioOptions`, ...). Keys the type does not
know are kept in :attr:`ModelCard.extra` and written back unchanged, and a card that is read
and written again keeps its keys, their order and, for unchanged values, its bytes.

A card is also a read-only mapping of its JSON form (``card["labels"]`` is the list stored in
the file), so code that reads a card as a dict keeps working.

Examples
--------
>>> from serwidgets import shipped
>>> from serwidgets.card import ModelCard
>>> card = ModelCard.read(shipped.path("models") / "zhao2019-emotion6")
>>> card.kind, card.task, card.labels[:2]
('network', 'emotion6', ('angry', 'disgust'))
>>> card.feature_config.n_mels, card.audio_options.remove_dc
(64, False)
>>> round(card.metrics["UA"], 3)
0.622
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path

__all__ = ["ModelCard", "CARD", "CARD_FORMAT", "NETWORK", "ENCODER_HEAD", "ENCODER", "KINDS",
           "BundleError", "BundleNotFoundError", "IntegrityError", "file_sha256", "library_versions"]

#: File name of the card inside a bundle folder.
CARD = "card.json"
#: Version of the card layout; bumped when a field changes meaning.
CARD_FORMAT = 1

NETWORK = "network"
ENCODER_HEAD = "encoder-head"
ENCODER = "encoder"
KINDS = (NETWORK, ENCODER_HEAD, ENCODER)

#: Keys a card of each kind must have (checked by :meth:`ModelCard.read` and :meth:`ModelCard.write`).
REQUIRED = {
    NETWORK: ("labels", "feature_config", "audio_options", "input_kind", "files"),
    ENCODER_HEAD: ("labels", "encoder", "head", "audio_options", "files"),
    ENCODER: ("name", "encoder_id", "files"),
}


class BundleError(ValueError):
    """A bundle folder is incomplete, inconsistent or unreadable."""


class BundleNotFoundError(BundleError, FileNotFoundError):
    """There is no bundle (no ``card.json``) at the given place."""


class IntegrityError(BundleError):
    """A file's sha256 differs from the one recorded in the card."""


# JSON key of each typed field, in the order a new card is written (keys of ``extra`` go
# before those of ``_AFTER_EXTRA``). ``card_format`` is read from ``"format"`` too (the first cards' name
# for it) and written back under the name it had.
_KEYS = {
    "card_format": "card_format", "kind": "kind", "name": "name", "encoder_id": "encoder_id",
    "description": "description", "task": "task", "labels": "labels", "input_kind": "input_kind",
    "input_shape": "input_shape", "sr": "sample_rate", "net": "net", "feature_config": "feature_config",
    "encoder": "encoder", "head": "head", "audio_options": "audio_options",
    "window_seconds": "window_seconds", "training": "training", "metrics": "metrics",
    "protocol": "protocol", "files": "files", "versions": "versions", "date": "date",
}

_AFTER_EXTRA = ("training", "metrics", "protocol", "files", "versions", "date")


@dataclass(eq=False)
class ModelCard(Mapping):
    """A bundle's ``card.json`` as typed fields; read with :meth:`read`, write with :meth:`write`.

    Parameters
    ----------
    name : str
        The bundle's name (usually its folder's name).
    kind : {"network", "encoder-head", "encoder"}
    description : str, optional
    task : str, optional
        Task of the labels, e.g. ``"emotion6"`` (see :data:`serwidgets.labels.TASKS`).
    labels : tuple of str
        Output names, in output order.
    audio_options : serwidgets.audio.AudioOptions, optional
        How audio is prepared before the model sees it.
    feature_config : serwidgets.features.FeatureConfig, optional
        Log-mel settings of a network (None for encoder heads).
    input_kind : {"log_mel", "waveform"}, optional
        What a network takes.
    input_shape : list of int, optional
        A network's input shape without the batch axis.
    sr : int, optional
        Sample rate a network's features expect (stored as ``"sample_rate"``).
    net : dict, optional
        How to rebuild a network: ``name``, ``kwargs``, ``input_shape``.
    encoder : dict, optional
        The encoder an encoder head runs on: ``name``, ``encoder_id``, ``sha256``, ``n_states``.
    encoder_id : str, optional
        An encoder bundle's own id.
    head : dict, optional
        An encoder head's settings (file, layers, C, ...).
    window_seconds : float, optional
        Timeline window of an encoder head.
    training : dict, optional
        What the model was trained on, and the recipe.
    metrics : dict, optional
        Held-out scores, measured under ``protocol`` (see :meth:`set_metrics`).
    protocol : str or dict, optional
    files : dict
        File name -> sha256 of every file of the bundle.
    versions : dict, optional
        Library versions at training time (:func:`library_versions`).
    date : str, optional
        ISO date of writing (:meth:`stamp`).
    card_format : int
        :data:`CARD_FORMAT`.
    extra : dict
        Keys of the file that are none of the above, kept as they are.

    See Also
    --------
    serwidgets.bundle : the bundle folder and its Keras model.
    serwidgets.export.save_bundle : write a Keras network as a bundle.
    serwidgets.heads.save_bundle : write an encoder head as a bundle.
    serwidgets.predictor.load_model : load a bundle for prediction.

    Examples
    --------
    >>> from serwidgets import shipped
    >>> card = ModelCard.read(shipped.path("models") / "ser-emotion6")
    >>> card.kind, card.encoder["name"], card.head["layers"]
    ('encoder-head', 'whisper-base-l3', [1, 2, 3])
    >>> card["labels"] == list(card.labels)        # the mapping view is the JSON form
    True
    >>> sorted(card.files)
    ['head.npz']

    A new card:

    >>> from serwidgets.audio import AudioOptions
    >>> new = ModelCard(name="demo", kind="encoder-head", task="emotion6", labels=("angry", "sad"),
    ...                 audio_options=AudioOptions())
    >>> from serwidgets.audio import TARGET_SR
    >>> new.labels, new.audio_options.sample_rate == TARGET_SR
    (('angry', 'sad'), True)
    """

    name: str | None = None
    kind: str = NETWORK
    description: str | None = None
    task: str | None = None
    labels: tuple = ()
    audio_options: object = None
    feature_config: object = None
    input_kind: str | None = None
    input_shape: list | None = None
    sr: int | None = None
    net: dict | None = None
    encoder: dict | None = None
    encoder_id: str | None = None
    head: dict | None = None
    window_seconds: float | None = None
    training: dict | None = None
    metrics: dict | None = None
    protocol: object = None
    files: dict = field(default_factory=dict)
    versions: dict | None = None
    date: str | None = None
    card_format: int = CARD_FORMAT
    extra: dict = field(default_factory=dict)
    # The JSON the card was read from: key order and untouched values are written back as read.
    _source: dict = field(default=None, repr=False)

    def __post_init__(self):
        self.labels = tuple(str(label) for label in self.labels)

    # -- reading -----------------------------------------------------------------------------
    @classmethod
    def read(cls, directory, verify: bool = True) -> ModelCard:
        """Read the ``card.json`` of the bundle in ``directory`` and check it.

        Parameters
        ----------
        directory : str or Path
            The bundle folder.
        verify : bool
            Check the sha256 of every file the card lists (default). Skip only for files
            you check yourself (:meth:`verify_file`).

        Returns
        -------
        ModelCard

        Raises
        ------
        BundleNotFoundError
            No ``card.json`` in ``directory`` (also a ``FileNotFoundError``).
        BundleError
            The card is not JSON, or lacks a key its kind needs (the message names it).
        IntegrityError
            A listed file is missing or its sha256 differs; the message names the file.

        See Also
        --------
        write, from_dict

        Examples
        --------
        >>> from serwidgets import shipped
        >>> card = ModelCard.read(shipped.path("models") / "whisper-base-l3")
        >>> card.kind, card.encoder_id
        ('encoder', 'whisper-base/states-0-3')
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     ModelCard.read(tmp)                       # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        serwidgets.card.BundleNotFoundError: no model bundle at ... (card.json not found)
        """
        directory = Path(directory)
        path = directory / CARD
        if not path.is_file():
            raise BundleNotFoundError(f"no model bundle at {directory} ({CARD} not found)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BundleError(f"{path} is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise BundleError(f"{path} is not a JSON object")
        try:
            card = cls.from_dict(data)
        except BundleError as error:
            raise BundleError(f"{path} {error}") from None
        if verify:
            for filename in card.files:
                card.verify_file(directory, filename)
        return card

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        """A card from its JSON form (what :meth:`to_dict` returns); checks the required keys.

        Examples
        --------
        >>> card = ModelCard.from_dict({"kind": "encoder", "name": "e", "encoder_id": "x/1",
        ...                             "files": {}, "dim": 512})
        >>> card.encoder_id, card.extra
        ('x/1', {'dim': 512})
        >>> ModelCard.from_dict({"kind": "encoder", "name": "e"})
        Traceback (most recent call last):
        ...
        serwidgets.card.BundleError: lacks encoder_id, files
        """
        from serwidgets.audio import AudioOptions
        from serwidgets.features import FeatureConfig

        data = copy.deepcopy(dict(data))
        kind = data.get("kind", NETWORK)
        missing = [key for key in REQUIRED.get(kind, REQUIRED[NETWORK]) if key not in data]
        if missing:
            raise BundleError(f"lacks {', '.join(missing)}")
        by_key = {key: name for name, key in _KEYS.items()}
        values, extra = {}, {}
        for key, value in data.items():
            if key in by_key:
                values[by_key[key]] = value
            elif key == "format" and "card_format" not in data:
                values["card_format"] = value
            else:
                extra[key] = value
        try:
            if values.get("audio_options") is not None:
                values["audio_options"] = AudioOptions.from_dict(values["audio_options"])
            if values.get("feature_config") is not None:
                values["feature_config"] = FeatureConfig.from_dict(values["feature_config"])
        except (TypeError, ValueError) as error:
            raise BundleError(str(error)) from None
        values["kind"] = kind
        values["labels"] = values.get("labels") or ()
        values["files"] = values.get("files") or {}
        return cls(**values, extra=extra, _source=data)

    # -- writing -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The card's JSON form: the keys of the file it was read from, in their order, then new ones.

        Fields that are None and were not in the file are left out; a field whose value is
        unchanged is written as it was read.

        Examples
        --------
        >>> from serwidgets import shipped
        >>> import json
        >>> directory = shipped.path("models") / "zhao2019-emotion6"
        >>> ModelCard.read(directory).to_dict() == json.loads((directory / "card.json").read_text())
        True
        """
        source = self._source or {}
        out = {}
        for name, key in _KEYS.items():
            if name == "card_format" and "format" in source and "card_format" not in source:
                key = "format"
            value = getattr(self, name)
            if name == "kind" and value == NETWORK and self._source is not None and key not in source:
                continue  # a network card read without a kind stays without one
            if (value is None or (name == "labels" and not value)) and key not in source:
                continue
            out[key] = self._json_value(name, value, source.get(key))
        fresh = list(out)
        at = next((i for i, key in enumerate(fresh) if key in _AFTER_EXTRA), len(fresh))
        fresh[at:at] = list(self.extra)
        for key, value in self.extra.items():
            out[key] = copy.deepcopy(value)
        # Keys of the file first, in its order; then the new ones, in the order of a new card.
        order = {key: i for i, key in enumerate(source)}
        order.update({key: len(source) + i for i, key in enumerate(fresh) if key not in order})
        return {key: out[key] for key in sorted(out, key=order.__getitem__)}

    @staticmethod
    def _json_value(name, value, raw):
        if name in ("audio_options", "feature_config") and value is not None:
            if raw is not None:
                try:
                    if type(value).from_dict(raw) == value:
                        return copy.deepcopy(raw)  # keys the file did not have stay out
                except (TypeError, ValueError):
                    pass
            return value.to_dict()
        if name == "labels":
            return list(value)
        return copy.deepcopy(value)

    def to_json(self) -> str:
        """The text :meth:`write` writes (indented JSON, one trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n"

    def write(self, directory) -> Path:
        """Write ``card.json`` into ``directory`` (created if needed); returns the card's path.

        Checks that the card has the keys its kind needs. It does not compute hashes: list
        files with :meth:`add_files` after writing them.

        Raises
        ------
        BundleError
            A required field is missing.

        See Also
        --------
        read, add_files, stamp

        Examples
        --------
        >>> import tempfile
        >>> from serwidgets import shipped
        >>> source = shipped.path("models") / "ser-emotion6"
        >>> card = ModelCard.read(source)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = card.write(tmp)
        ...     path.read_bytes() == (source / "card.json").read_bytes()
        True
        """
        missing = [key for key in REQUIRED.get(self.kind, REQUIRED[NETWORK]) if key not in self.to_dict()]
        if missing:
            raise BundleError(f"card of {self.name!r} lacks {', '.join(missing)}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / CARD
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    def add_files(self, directory, *filenames) -> ModelCard:
        """Record the sha256 of each of ``filenames`` (in ``directory``) in :attr:`files`; returns ``self``.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "head.npz").write_bytes(b"abc")
        ...     ModelCard(name="x").add_files(tmp, "head.npz").files["head.npz"][:12]
        'ba7816bf8f01'
        """
        for filename in filenames:
            self.files[filename] = file_sha256(Path(directory) / filename)
        return self

    def stamp(self) -> ModelCard:
        """Set :attr:`versions` (:func:`library_versions`) and :attr:`date` (now, UTC); returns ``self``."""
        self.versions = library_versions()
        self.date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return self

    def set_metrics(self, metrics: dict, *, task: str, recipe: dict | None = None) -> ModelCard:
        """Replace the held-out metrics (and the protocol they name); returns ``self``.

        For scores of the bundle's recipe measured after it was saved (a cross-validation,
        or a re-run that checks one). The weight files are untouched; call :meth:`write`.

        Parameters
        ----------
        metrics : dict
            Scores; ``metrics["protocol"]``, when present, becomes the card's protocol.
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
        >>> card = ModelCard(name="x", task="emotion6", training={"recipe": {"epochs": 2}})
        >>> card.set_metrics({"protocol": "loso", "UA": 0.6}, task="emotion6").protocol
        'loso'
        >>> card.set_metrics({"UA": 0.6}, task="emotion6", recipe={"epochs": 3})
        Traceback (most recent call last):
        ...
        serwidgets.card.BundleError: these metrics come from another recipe than the bundle was trained with
        """
        if self.task != task:
            raise BundleError(f"metrics for task {task!r} cannot go into a card of task {self.task!r}")
        trained_with = (self.training or {}).get("recipe")
        if recipe is not None and trained_with is not None and dict(recipe) != trained_with:
            raise BundleError("these metrics come from another recipe than the bundle was trained with")
        self.metrics = metrics
        self.protocol = metrics.get("protocol", self.protocol)
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
        >>> ModelCard.read(directory, verify=False).verify_file(directory, "head.npz")
        >>> ModelCard.read(directory, verify=False).verify_file(directory, "model.keras")  # doctest: +ELLIPSIS
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
                f"expected {expected[:12]}… (the file was changed or damaged; re-export the bundle)"
            )

    # -- the read-only mapping of the JSON form ----------------------------------------------
    def __getitem__(self, key):
        return self.to_dict()[key]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __contains__(self, key) -> bool:
        return key in self.to_dict()

    def get(self, key, default=None):
        return self.to_dict().get(key, default)

    def keys(self):
        return self.to_dict().keys()

    def items(self):
        return self.to_dict().items()

    def values(self):
        return self.to_dict().values()

    def __eq__(self, other):
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None


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
