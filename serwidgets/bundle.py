"""Model bundles: a trained model with everything needed to use it honestly.

A bundle is a folder with a card (:mod:`serwidgets.card`) and the files it lists, e.g.::

    zhao2019-emotion6/
        model.keras     # the Keras network (weights + architecture), for training and the TF backend
        model.tflite    # the same weights for LiteRT (builtin ops only), for fast CPU inference
        card.json       # labels, feature config, audio options, training data, metrics,
                        # library versions, sha256 of each file, date

The card is the contract between training and inference: a model decodes audio with the
card's audio options, computes features with the card's settings, and names outputs with the
card's labels, in card order. Reading a card verifies the sha256 of every file it lists, so a
bundle whose weights were swapped or damaged is refused rather than silently used.

This module knows where bundles are (:func:`resolve`) and the Keras network in one; it imports
neither TensorFlow nor :mod:`serwidgets.export` (which writes network bundles).

Examples
--------
>>> from serwidgets import bundle
>>> from serwidgets.card import NetworkCard
>>> card = NetworkCard.read(bundle.resolve("zhao2019-emotion6"))
>>> bundle.check_input_shape(card.input_shape, card.feature_config)
'log_mel'
"""

from __future__ import annotations

import os
from pathlib import Path

from serwidgets import shipped
from serwidgets.card import BundleError, NetworkCard

__all__ = ["MODELS_DIR", "DEFAULT_MODEL", "KERAS", "LITERT", "INPUT_KINDS", "resolve", "FeatureConfigMismatchError",
           "load_keras", "check_input_shape"]

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


def load_keras(directory, card: NetworkCard | None = None):
    """Load a bundle's Keras model (``safe_mode=True``: no arbitrary code from the file).

    Without ``card``, the card is read and ``model.keras`` checked against its sha256; pass
    the card you already read (and verified) to skip that.

    See Also
    --------
    serwidgets.model.load_model : the bundle as a model (LiteRT by default).

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
        NetworkCard.read(directory, verify=False).verify_file(directory, KERAS)
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
