"""Model bundles: a trained model with everything needed to use it honestly.

A bundle is a folder::

    zhao2019-emotion6/
        model.keras     # the Keras network (weights + architecture), for training and the TF backend
        model.tflite    # the same weights for LiteRT (builtin ops only), for fast CPU inference
        card.json       # labels, feature config, audio options, training data, protocol + metrics,
                        # library versions, sha256 of each weight file, date

The card (:class:`serwidgets.card.ModelCard`) is the contract between training and inference:
the predictor decodes audio with the card's audio options, computes features with the card's
feature config, and names outputs with the card's labels, in card order. Reading a card
verifies the sha256 of every file it lists, so a bundle whose weights were swapped or damaged
is refused rather than silently used.

This module knows the folder and the Keras network in it; it imports neither TensorFlow nor
:mod:`serwidgets.export`. Writing a network bundle (which converts it to LiteRT) is
:func:`serwidgets.export.save_bundle`; an encoder-head bundle is :func:`serwidgets.heads.save_bundle`.

Examples
--------
>>> from serwidgets import bundle, shipped
>>> from serwidgets.card import ModelCard
>>> directory = shipped.path("models") / "zhao2019-emotion6"
>>> card = ModelCard.read(directory)
>>> card.labels
('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad')
>>> bundle.check_input_shape(card.input_shape, card.feature_config)
'log_mel'
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from serwidgets import shipped

# The card's names stay importable from here (older code reads bundle.CARD, bundle.IntegrityError, ...).
from serwidgets.card import (CARD, CARD_FORMAT, ENCODER, ENCODER_HEAD, NETWORK, BundleError,  # noqa: F401
                             BundleNotFoundError, IntegrityError, ModelCard, file_sha256, library_versions)

__all__ = ["KERAS", "LITERT", "INPUT_KINDS", "FeatureConfigMismatchError", "network_card", "load_keras",
           "check_input_shape", "BundleError", "BundleNotFoundError", "IntegrityError", "ModelCard"]

#: Where bundles named without a path are found: the checkout's models/ or the wheel's copy.
MODELS_DIR = shipped.path("models")
DEFAULT_MODEL = "ser-emotion6"
KERAS = "model.keras"
LITERT = "model.tflite"

INPUT_KINDS = ("log_mel", "waveform")


def resolve(path=None) -> Path:
    """The bundle folder ``path`` names: a folder, a name in :data:`MODELS_DIR`, or (None)
    ``$SER_MODEL`` else the shipped default.

    Examples
    --------
    >>> resolve("ser-emotion6") == MODELS_DIR / "ser-emotion6"
    True
    """
    if path is None:
        path = os.environ.get("SER_MODEL") or MODELS_DIR / DEFAULT_MODEL
    path = Path(path).expanduser()
    if not path.exists() and not path.is_absolute() and (MODELS_DIR / path).is_dir():
        path = MODELS_DIR / path
    return path


class FeatureConfigMismatchError(BundleError):
    """Features computed one way were about to be fed to a model trained on another."""


def network_card(model, *, net: dict, labels, task: str, feature_config, audio_options, training: dict,
                 metrics: dict, name: str, description: str = "", protocol=None) -> ModelCard:
    """The card of a Keras network bundle, checked against the network (files not listed yet).

    What :func:`serwidgets.export.save_bundle` writes next to ``model.keras`` and
    ``model.tflite``; it refuses a network that does not fit its labels or features before
    anything is written.

    Parameters
    ----------
    model : keras.Model
        The trained network; its outputs are probabilities over ``labels``, in that order.
        Only its ``input_shape`` and ``output_shape`` are read.
    net : dict
        How to rebuild the architecture: ``name`` (in :data:`serwidgets.nets.NETS`),
        ``kwargs`` and ``input_shape``.
    labels : sequence of str
        Output names, in output order.
    task : str
        Task name, e.g. ``"emotion6"`` (see :data:`serwidgets.labels.TASKS`).
    feature_config : serwidgets.features.FeatureConfig or dict
    audio_options : serwidgets.audio.AudioOptions or dict
    training : dict
        What the network was trained on: corpora, counts per emotion, epochs, seed, ...
    metrics : dict
        Held-out scores measured under ``protocol``.
    name, description : str
    protocol : str or dict, optional
        The evaluation protocol the metrics come from; default ``metrics["protocol"]``.

    Returns
    -------
    serwidgets.card.ModelCard

    Raises
    ------
    BundleError
        Outputs and labels differ in number, or features and audio differ in sample rate.
    FeatureConfigMismatchError
        The input shape fits neither a log-mel nor a waveform under ``feature_config``.

    See Also
    --------
    serwidgets.export.save_bundle : writes the bundle with this card.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from serwidgets.audio import AudioOptions
    >>> from serwidgets.features import FeatureConfig
    >>> network = SimpleNamespace(input_shape=(None, 64, 188), output_shape=(None, 2))
    >>> card = network_card(network, net={"name": "zhao2019_2d"}, labels=["sad", "angry"], task="t",
    ...                     feature_config=FeatureConfig(), audio_options=AudioOptions(), training={},
    ...                     metrics={"protocol": "loso", "UA": 0.6}, name="demo")
    >>> card.input_kind, card.input_shape, card.protocol, card.net
    ('log_mel', [64, 188], 'loso', {'name': 'zhao2019_2d', 'kwargs': {}, 'input_shape': [64, 188]})
    """
    from serwidgets.audio import AudioOptions
    from serwidgets.features import FeatureConfig

    labels = [str(label) for label in labels]
    features = feature_config if isinstance(feature_config, FeatureConfig) else FeatureConfig.from_dict(feature_config)
    audio = audio_options if isinstance(audio_options, AudioOptions) else AudioOptions.from_dict(audio_options)
    input_shape = [int(n) for n in model.input_shape[1:]]
    n_outputs = int(model.output_shape[-1])
    if n_outputs != len(labels):
        raise BundleError(f"the model has {n_outputs} outputs but {len(labels)} labels were given")
    if features.sample_rate != audio.sample_rate:
        raise BundleError(f"feature config expects {features.sample_rate} Hz audio, "
                          f"audio options produce {audio.sample_rate} Hz")
    input_kind = check_input_shape(input_shape, features)
    return ModelCard(
        name=name, kind=NETWORK, description=description, task=task, labels=labels,
        input_kind=input_kind, input_shape=input_shape, sr=features.sample_rate,
        net={"name": net["name"], "kwargs": dict(net.get("kwargs") or {}),
             "input_shape": [int(n) for n in net.get("input_shape", input_shape)]},
        feature_config=features, audio_options=audio, training=training, metrics=metrics,
        protocol=protocol if protocol is not None else metrics.get("protocol"),
    )


def read_card(directory, verify: bool = True) -> dict:
    """Deprecated: use :meth:`serwidgets.card.ModelCard.read` (this returns its :meth:`~ModelCard.to_dict`)."""
    warnings.warn("bundle.read_card is deprecated; use serwidgets.card.ModelCard.read",
                  DeprecationWarning, stacklevel=2)
    return ModelCard.read(directory, verify=verify).to_dict()


def set_metrics(directory, metrics: dict, *, task: str, recipe: dict | None = None) -> dict:
    """Deprecated: use ``ModelCard.read(directory).set_metrics(metrics, task=...).write(directory)``."""
    warnings.warn("bundle.set_metrics is deprecated; use serwidgets.card.ModelCard.set_metrics and write",
                  DeprecationWarning, stacklevel=2)
    card = ModelCard.read(directory).set_metrics(metrics, task=task, recipe=recipe)
    card.write(directory)
    return card.to_dict()


def verify_file(directory, card, filename: str) -> None:
    """Deprecated: use :meth:`serwidgets.card.ModelCard.verify_file`."""
    warnings.warn("bundle.verify_file is deprecated; use serwidgets.card.ModelCard.verify_file",
                  DeprecationWarning, stacklevel=2)
    card = card if isinstance(card, ModelCard) else ModelCard.from_dict(card)
    card.verify_file(directory, filename)


def load_keras(directory, card: ModelCard | None = None):
    """Load a bundle's Keras model (``safe_mode=True``: no arbitrary code from the file).

    Without ``card``, the card is read and ``model.keras`` checked against its sha256; pass
    the card you already read (and verified) to skip that.

    See Also
    --------
    serwidgets.predictor.load_model : the bundle as a predictor (LiteRT by default).

    Examples
    --------
    >>> from serwidgets import shipped
    >>> network = load_keras(shipped.path("models") / "zhao2019-emotion6")
    >>> network.input_shape, network.output_shape
    ((None, 64, 188), (None, 6))
    """
    import keras

    directory = Path(directory)
    if card is None:
        ModelCard.read(directory, verify=False).verify_file(directory, KERAS)
    return keras.models.load_model(directory / KERAS, safe_mode=True)


def check_input_shape(input_shape, feature_config) -> str:
    """The input kind ("log_mel" or "waveform") that ``input_shape`` fits under ``feature_config``.

    A log-mel input is ``(n_mels, n_frames)`` (optionally with a trailing channel of 1); a
    waveform input holds ``feature_config.n_samples`` samples.

    Raises
    ------
    FeatureConfigMismatchError
        The shape fits neither, i.e. the features would not be what the model was trained on.

    See Also
    --------
    serwidgets.features.FeatureConfig.n_frames, serwidgets.features.FeatureConfig.n_samples

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
