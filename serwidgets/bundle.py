"""Model bundles: a trained model with everything needed to use it honestly.

A bundle is a folder::

    ser-emotion6/
        model.keras     # the Keras model (weights + architecture), for training and the TF backend
        model.tflite    # the same weights for LiteRT (builtin ops only), for fast CPU inference
        card.json       # labels, feature config, audio options, training data, protocol + metrics,
                        # library versions, sha256 of each weight file, date

The card is the contract between training and inference: the predictor decodes audio with the
card's audio options, computes features with the card's feature config, and names outputs with
the card's labels, in card order. Reading a card verifies the sha256 of every file it lists,
so a bundle whose weights were swapped or damaged is refused rather than silently used.

Examples
--------
>>> from serwidgets import bundle
>>> card = bundle.read_card("models/zhao2019-emotion6")      # doctest: +SKIP
>>> card["labels"]                                       # doctest: +SKIP
['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad']
"""

from __future__ import annotations

import datetime
import hashlib
import json
from importlib import metadata
from pathlib import Path

CARD = "card.json"
KERAS = "model.keras"
LITERT = "model.tflite"

#: Version of the card layout; bumped when a field changes meaning.
CARD_FORMAT = 1

INPUT_KINDS = ("log_mel", "waveform")
#: ``card["kind"]`` of a bundle that is an encoder reference plus a head (:mod:`serwidgets.heads`);
#: cards without a kind hold a whole Keras network.
ENCODER_HEAD = "encoder-head"
_REQUIRED = {None: ("labels", "feature_config", "audio_options", "input_kind", "files"),
             ENCODER_HEAD: ("labels", "encoder", "head", "audio_options", "files")}


class BundleError(ValueError):
    """A bundle folder is incomplete, inconsistent or unreadable."""


class BundleNotFoundError(BundleError, FileNotFoundError):
    """There is no bundle (no ``card.json``) at the given place."""


class IntegrityError(BundleError):
    """A file's sha256 differs from the one recorded in the card."""


class FeatureConfigMismatchError(BundleError):
    """Features computed one way were about to be fed to a model trained on another."""


def save_bundle(model, directory, *, net: dict, labels, task: str, feature_config, audio_options,
                training: dict, metrics: dict, name: str, description: str = "",
                protocol=None) -> Path:
    """Write ``model`` as a bundle: ``model.keras``, ``model.tflite`` and ``card.json``.

    Parameters
    ----------
    model : keras.Model
        The trained model; its outputs are probabilities over ``labels``, in that order.
    directory : str or Path
        Bundle folder (created; existing bundle files are overwritten).
    net : dict
        How to rebuild the architecture: ``name`` (in :data:`serwidgets.nets.NETS`),
        ``kwargs`` and ``input_shape``. The LiteRT file is made from a rebuild with
        ``unroll=True`` (see :func:`serwidgets.export.to_litert`).
    labels : sequence of str
        Output names, in output order.
    task : str
        Task name, e.g. ``"emotion6"`` (see :data:`serwidgets.labels.TASKS`).
    feature_config : serwidgets.features.FeatureConfig
    audio_options : serwidgets.audio.AudioOptions
    training : dict
        What the model was trained on: corpora, counts per emotion, epochs, seed, ...
    metrics : dict
        Held-out scores (e.g. ``{"UA": {"mean": .., "std": ..}, "WA": ...}``), measured under
        ``protocol``.
    name, description : str
    protocol : str or dict, optional
        The evaluation protocol the metrics come from (e.g. ``"loso"``); default:
        ``metrics["protocol"]`` if present.

    Returns
    -------
    Path
        The bundle folder.

    Examples
    --------
    >>> save_bundle(model, "models/zhao2019-emotion6", net={"name": "zhao2019_2d", "kwargs": {},
    ...             "input_shape": [64, 188]}, labels=TASKS["emotion6"], task="emotion6",
    ...             feature_config=FeatureConfig(), audio_options=AudioOptions(),
    ...             training={"corpora": ["emodb"]}, metrics={"UA": 0.61}, protocol="loso",
    ...             name="ser-emotion6")                  # doctest: +SKIP
    """
    from serwidgets import export

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    labels = [str(label) for label in labels]
    features = _as_dict(feature_config)
    audio = _as_dict(audio_options)
    input_shape = [int(n) for n in model.input_shape[1:]]
    n_outputs = int(model.output_shape[-1])
    if n_outputs != len(labels):
        raise BundleError(f"the model has {n_outputs} outputs but {len(labels)} labels were given")
    if features["sample_rate"] != audio["sample_rate"]:
        raise BundleError(f"feature config expects {features['sample_rate']} Hz audio, "
                          f"audio options produce {audio['sample_rate']} Hz")
    input_kind = check_input_shape(input_shape, features)

    # The card goes last: a folder without one is not a bundle, so an interrupted save
    # can never be loaded half-written.
    (directory / CARD).unlink(missing_ok=True)
    model.save(directory / KERAS)
    export.to_litert(model, directory / LITERT, net=net)

    card = {
        "format": CARD_FORMAT,
        "name": name,
        "description": description,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "task": task,
        "labels": labels,
        "input_kind": input_kind,
        "input_shape": input_shape,
        "sample_rate": features["sample_rate"],
        "net": {"name": net["name"], "kwargs": dict(net.get("kwargs") or {}),
                "input_shape": [int(n) for n in net.get("input_shape", input_shape)]},
        "feature_config": features,
        "audio_options": audio,
        "training": training,
        "protocol": protocol if protocol is not None else metrics.get("protocol"),
        "metrics": metrics,
        "versions": library_versions(),
        "files": {filename: file_sha256(directory / filename) for filename in (KERAS, LITERT)},
    }
    _write_card(directory, card)
    return directory


def _write_card(directory, card: dict) -> None:
    text = json.dumps(card, indent=2, default=_json_default)
    (Path(directory) / CARD).write_text(text + "\n", encoding="utf-8")


def set_metrics(directory, metrics: dict, *, task: str, recipe: dict | None = None) -> dict:
    """Replace the held-out ``metrics`` in a bundle's card; the weight files are untouched.

    For scores of the bundle's recipe measured after it was saved (a cross-validation, or a
    re-run that checks one). Refuses metrics of another task, or of another training recipe
    when ``recipe`` is given.

    Returns
    -------
    dict
        The card as written.

    Raises
    ------
    BundleError

    Examples
    --------
    >>> set_metrics("models/zhao2019-emotion6", card_metrics(result), task="emotion6")   # doctest: +SKIP
    """
    card = read_card(directory)
    if card["task"] != task:
        raise BundleError(f"metrics for task {task!r} cannot go into a card of task {card['task']!r}")
    trained_with = (card.get("training") or {}).get("recipe")
    if recipe is not None and trained_with is not None and dict(recipe) != trained_with:
        raise BundleError("these metrics come from another recipe than the bundle was trained with")
    card["metrics"] = metrics
    card["protocol"] = metrics.get("protocol", card.get("protocol"))
    _write_card(directory, card)
    return card


def read_card(directory, verify: bool = True) -> dict:
    """Read a bundle's ``card.json``, checking the sha256 of every file it lists.

    Parameters
    ----------
    directory : str or Path
        The bundle folder.
    verify : bool
        Check file hashes (default). Only skip this for files you have just checked.

    Returns
    -------
    dict
        The card.

    Raises
    ------
    BundleNotFoundError
        No ``card.json`` in ``directory``.
    IntegrityError
        A listed file is missing or its sha256 differs; the message names the file.

    Examples
    --------
    >>> read_card("models/zhao2019-emotion6")["task"]          # doctest: +SKIP
    'emotion6'
    """
    directory = Path(directory)
    path = directory / CARD
    if not path.is_file():
        raise BundleNotFoundError(f"no model bundle at {directory} ({CARD} not found)")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path} is not valid JSON: {error}") from None
    missing = [key for key in _REQUIRED.get(card.get("kind"), _REQUIRED[None]) if key not in card]
    if missing:
        raise BundleError(f"{path} lacks {', '.join(missing)}")
    if verify:
        for filename in card["files"]:
            verify_file(directory, card, filename)
    return card


def verify_file(directory, card: dict, filename: str) -> None:
    """Check one bundle file against the sha256 in ``card``.

    Raises
    ------
    IntegrityError
        The file is not in the card, missing, or its sha256 differs; the message names it.
    """
    directory = Path(directory)
    expected = card["files"].get(filename)
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


def load_keras(directory, card: dict | None = None):
    """Load a bundle's Keras model (``safe_mode=True``: no arbitrary code from the file).

    Without ``card``, the card is read and ``model.keras`` checked against its sha256; pass
    the card you already read (and verified) to skip that.

    Examples
    --------
    >>> model = load_keras("models/zhao2019-emotion6")          # doctest: +SKIP
    """
    import keras

    directory = Path(directory)
    if card is None:
        card = read_card(directory, verify=False)
        verify_file(directory, card, KERAS)
    return keras.models.load_model(directory / KERAS, safe_mode=True)


def check_input_shape(input_shape, feature_config) -> str:
    """The input kind ("log_mel" or "waveform") that ``input_shape`` fits under ``feature_config``.

    A log-mel input is ``(n_mels, n_frames)`` (optionally with a trailing channel of 1); a
    waveform input holds ``feature_config.n_samples`` samples.

    Raises
    ------
    FeatureConfigMismatchError
        The shape fits neither, i.e. the features would not be what the model was trained on.

    Examples
    --------
    >>> from serwidgets.features import FeatureConfig
    >>> check_input_shape([64, 188], FeatureConfig())
    'log_mel'
    >>> check_input_shape([48000, 1], FeatureConfig())
    'waveform'
    """
    from serwidgets.features import FeatureConfig

    config = feature_config if isinstance(feature_config, FeatureConfig) else FeatureConfig.from_dict(feature_config)
    shape = [int(n) for n in input_shape]
    while len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    if shape == [config.n_mels, config.n_frames]:
        return "log_mel"
    if shape == [config.n_samples]:
        return "waveform"
    raise FeatureConfigMismatchError(
        f"model input shape {list(input_shape)} fits neither log-mel ({config.n_mels} mels x "
        f"{config.n_frames} frames) nor a {config.duration:g}-s waveform ({config.n_samples} "
        f"samples) under the feature config {config.to_dict()}"
    )


def file_sha256(path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict:
    """Installed versions of the libraries a bundle depends on (``None`` if not installed)."""
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


def _as_dict(config) -> dict:
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def _json_default(value):
    # numpy scalars and arrays (counts, metrics) are common in training summaries.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model card")
