"""Export trained models for inference outside Keras: LiteRT (``.tflite``) and ONNX.

LiteRT is what a network model uses by default: it runs the model without importing TensorFlow,
so the dashboard starts fast and stays small. The converted graph uses TFLite builtin ops only
(no Flex/"select TF" ops, which would need TensorFlow at run time); for that, the LSTM is
unrolled over its (fixed) number of time steps — same weights, same arithmetic.

Every export is checked: the exported model must reproduce the Keras model's probabilities
on random inputs (max absolute difference ``<= atol``), or :class:`ExportError` is raised.

:func:`save_network` writes a trained network as a bundle (``model.keras``, ``model.tflite``,
``card.json``): this module depends on :mod:`serwidgets.bundle`, never the reverse.

Examples
--------
>>> from serwidgets import export
>>> export.export_bundle("models/zhao2019-emotion6", "onnx", output="zhao.onnx")     # doctest: +SKIP
PosixPath('zhao.onnx')

A network that does not fit its card is refused before anything is written:

>>> from types import SimpleNamespace
>>> card = NetworkCard.read(bundle.resolve("zhao2019-emotion6"))
>>> four_outputs = SimpleNamespace(input_shape=(None, 64, 188), output_shape=(None, 4))
>>> export.save_network(four_outputs, "never-written", card)
Traceback (most recent call last):
...
serwidgets.card.BundleError: the model has 4 outputs but the card 6 labels
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from serwidgets import bundle
from serwidgets.card import CARD, BundleError, NetworkCard

FORMATS = ("litert", "onnx")


class ExportError(RuntimeError):
    """Conversion failed, or the converted model disagrees with the Keras model."""


def save_network(model, directory, card: NetworkCard) -> Path:
    """Write a trained Keras network as a bundle: ``model.keras``, ``model.tflite`` and ``card.json``.

    The card's ``files`` are filled in here, and its versions and date stamped; what the
    network was trained on and how it scores is the caller's (its ``save``).

    Parameters
    ----------
    model : keras.Model
        The trained network; its outputs are probabilities over ``card.labels``, in that order.
    directory : str or Path
        Bundle folder (created; existing bundle files are overwritten).
    card : serwidgets.card.NetworkCard
        Its card. ``card.net`` (``name`` in :data:`serwidgets.nets.NETS`, ``kwargs``) rebuilds the
        architecture with ``unroll=True`` for LiteRT (see :func:`to_litert`).

    Returns
    -------
    Path
        The bundle folder.

    Raises
    ------
    serwidgets.card.BundleError
        The network does not fit the card's labels, input kind or feature config (nothing is written).
    ExportError
        The LiteRT conversion failed or disagrees with Keras.

    See Also
    --------
    serwidgets.train.NetClassifier.save : builds the card and calls this.
    serwidgets.model.load_model : load the bundle.

    Examples
    --------
    >>> save_network(model, "models/zhao2019-emotion6", NetworkCard(...))      # doctest: +SKIP
    """
    input_shape = [int(n) for n in model.input_shape[1:]]
    n_outputs = int(model.output_shape[-1])
    if n_outputs != len(card.labels):
        raise BundleError(f"the model has {n_outputs} outputs but the card {len(card.labels)} labels")
    if input_shape != card.input_shape:
        raise BundleError(f"the model's input shape {input_shape} is not the card's {card.input_shape}")
    input_kind = bundle.check_input_shape(input_shape, card.feature_config)
    if input_kind != card.input_kind:
        raise bundle.FeatureConfigMismatchError(
            f"the model's input is a {input_kind} under the card's feature config, the card says {card.input_kind}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # The card goes last: a folder without one is not a bundle, so an interrupted save
    # can never be loaded half-written.
    (directory / CARD).unlink(missing_ok=True)
    model.save(directory / bundle.KERAS)
    to_litert(model, directory / bundle.LITERT, net=card.net)
    card.add_files(directory, bundle.KERAS, bundle.LITERT).stamp().write(directory)
    return directory


def to_litert(model, path, *, net: dict | None = None, atol: float = 1e-4) -> Path:
    """Convert a Keras model to a LiteRT flatbuffer with builtin ops only.

    Parameters
    ----------
    model : keras.Model
    path : str or Path
        Output ``.tflite`` file.
    net : dict, optional
        ``name`` and ``kwargs`` of the :mod:`serwidgets.nets` builder that
        made ``model``; the model is rebuilt with ``unroll=True`` and given ``model``'s weights.
        Without it, ``model`` is converted as it is (fine when it has no recurrent layer).
    atol : float
        Largest tolerated difference between LiteRT and Keras probabilities.

    Returns
    -------
    Path

    Examples
    --------
    >>> to_litert(model, "model.tflite", net={"name": "zhao2019_2d", "kwargs": {}})  # doctest: +SKIP
    """
    import tensorflow as tf

    path = Path(path)
    convertible = model
    if net is not None:
        from serwidgets import nets

        input_shape = tuple(int(n) for n in model.input_shape[1:])
        convertible = nets.build(net["name"], input_shape, int(model.output_shape[-1]), unroll=True,
                                 **dict(net.get("kwargs") or {}))
        convertible.set_weights(model.get_weights())
    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    try:
        convertible.export(str(path), format="litert", verbose=False, input_signature=signature,
                           target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]})
    except Exception as error:  # the converter raises several unrelated types
        raise ExportError(f"LiteRT conversion failed: {type(error).__name__}: {error}") from error

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    inputs = _probe_inputs(model, n=2)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, inputs.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, inputs)
    interpreter.invoke()
    _check_agreement("LiteRT", interpreter.get_tensor(interpreter.get_output_details()[0]["index"]),
                     model.predict_on_batch(inputs), atol)
    return path


def to_onnx(model, path, *, atol: float = 1e-4) -> Path:
    """Convert a Keras model to ONNX (needs the ``export`` extra: tf2onnx, onnxruntime).

    Examples
    --------
    >>> to_onnx(model, "model.onnx")                        # doctest: +SKIP
    """
    import tensorflow as tf

    try:
        import onnxruntime
    except ImportError:
        raise ExportError("ONNX export needs onnxruntime and tf2onnx: "
                          "pip install 'serwidgets[export]'") from None
    path = Path(path)
    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    try:
        model.export(str(path), format="onnx", verbose=False, input_signature=signature)
    except Exception as error:
        raise ExportError(f"ONNX conversion failed: {type(error).__name__}: {error}") from error
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = _probe_inputs(model, n=2)
    outputs = session.run(None, {session.get_inputs()[0].name: inputs})[0]
    _check_agreement("ONNX", outputs, model.predict_on_batch(inputs), atol)
    return path


def export_bundle(directory, format: str = "litert", output=None) -> Path:
    """Export a bundle's Keras model; LiteRT goes into the bundle (and the card is updated).

    Parameters
    ----------
    directory : str or Path
        The bundle folder.
    format : {"litert", "onnx"}
    output : str or Path, optional
        Where to write; default ``<bundle>/model.tflite`` or ``<bundle>/model.onnx``.
        Files written into the bundle are added to the card with their sha256.

    Returns
    -------
    Path
        The exported file.

    Examples
    --------
    >>> export_bundle("models/zhao2019-emotion6", "onnx")         # doctest: +SKIP
    PosixPath('models/zhao2019-emotion6/model.onnx')
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    directory = Path(directory)
    # Only the Keras model must be intact: the file being exported may be missing or stale.
    card = NetworkCard.read(directory, verify=False)
    model = bundle.load_keras(directory)
    filename = bundle.LITERT if format == "litert" else "model.onnx"
    path = Path(output) if output is not None else directory / filename
    if format == "litert":
        to_litert(model, path, net=card.net)
    else:
        to_onnx(model, path)
    if path.resolve().parent == directory.resolve():
        card.add_files(directory, path.name).write(directory)
    return path


def _probe_inputs(model, n: int) -> np.ndarray:
    # Standard-normal inputs match what clip-normalised log-mels look like.
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, *model.input_shape[1:])).astype(np.float32)


def _check_agreement(what: str, exported, expected, atol: float) -> None:
    difference = float(np.max(np.abs(np.asarray(exported) - np.asarray(expected))))
    if not difference <= atol:  # also catches NaN
        raise ExportError(f"{what} model disagrees with Keras: max |difference| {difference:.2e} > {atol:.0e}")
