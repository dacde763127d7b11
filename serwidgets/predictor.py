"""Predict emotions from audio with a model bundle.

:func:`load_model` reads a bundle's card (:class:`serwidgets.card.ModelCard`; the bundle
folder is described in :mod:`serwidgets.bundle`), checks it, and returns a :class:`Predictor`. The predictor runs exactly the training path: audio is decoded and prepared
with the card's :class:`~serwidgets.audio.AudioOptions`, features come from
:func:`serwidgets.features.log_mel` and :func:`~serwidgets.features.fix_frames` with the card's
:class:`~serwidgets.features.FeatureConfig`, and outputs are named by the card's labels.

Backends, fastest exact one first:

* ``"litert"`` — ``model.tflite`` through ``ai_edge_litert`` (no TensorFlow import, so the first
  prediction comes quickly and memory stays low);
* ``"tensorflow"`` — ``model.keras`` through one ``tf.function`` (never ``model.predict``,
  whose per-call overhead dwarfs this model).

Clips of any length
    The model sees ``feature_config.duration`` seconds (3 s). A shorter clip is padded with
    silence (:func:`~serwidgets.features.fix_frames`), exactly as in training. For a longer
    clip, the log-mel of the whole clip is cut into windows of that length every ``hop``
    seconds (the last window ends at the end of the clip), as in training and evaluation
    (:func:`serwidgets.features.windows`): :meth:`Predictor.predict_timeline` returns each window's
    probabilities, and :meth:`Predictor.predict` returns their mean (hop 1 s).

Uncertain predictions
    An :class:`Analysis` is ``uncertain`` when the top probability is below
    ``UNCERTAIN_BELOW`` (0.4) or within ``UNCERTAIN_MARGIN`` (0.1) of the runner-up: the model
    has no clear favourite and the label should not be trusted.

Examples
--------
>>> import serwidgets
>>> model = serwidgets.load_model()
>>> model.labels
('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad')
>>> probabilities = model.predict_file("speech.wav")         # doctest: +SKIP
>>> max(probabilities, key=probabilities.get)                # doctest: +SKIP
'angry'
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serwidgets import bundle
# Where bundles are found is the bundle module's business; these stay importable from here.
from serwidgets.bundle import DEFAULT_MODEL, MODELS_DIR, resolve  # noqa: F401
from serwidgets.card import ModelCard
from serwidgets.deprecation import renamed_attribute

#: An analysis is uncertain below this top probability ...
UNCERTAIN_BELOW = 0.4
#: ... or when the runner-up is closer than this.
UNCERTAIN_MARGIN = 0.1

BACKENDS = ("auto", "litert", "tensorflow")


@dataclass(frozen=True)
class Timeline:
    """Per-window probabilities over a clip: window ``i`` spans ``starts[i]``..``ends[i]`` seconds."""

    starts: np.ndarray
    ends: np.ndarray
    probabilities: np.ndarray  # (n_windows, n_labels)
    labels: tuple

    @property
    def top(self) -> list:
        """The most probable label of each window."""
        return [self.labels[i] for i in np.argmax(self.probabilities, axis=1)]


@dataclass(frozen=True)
class Analysis:
    """Everything the widgets show about one clip."""

    labels: tuple
    probabilities: np.ndarray  # (n_labels,), sums to 1
    top: str
    confidence: float  # probability of ``top``
    uncertain: bool  # see the module docstring
    waveform: np.ndarray  # prepared audio (mono, trimmed, normalised)
    sr: int  # of ``waveform``
    log_mel: np.ndarray  # (n_mels, frames) of the whole prepared clip
    timeline: Timeline | None  # None when the clip fits in one window
    duration: float  # seconds of prepared audio
    calibrated: bool = False  # a speaker calibration was applied

    def as_dict(self) -> dict:
        """Label -> probability."""
        return dict(zip(self.labels, self.probabilities.tolist()))

    sample_rate = renamed_attribute("sr")


def load_model(path=None, *, feature_config=None, backend: str = "auto", num_threads: int | None = None):
    """Load a model bundle as a :class:`Predictor`.

    Parameters
    ----------
    path : str or Path, optional
        A bundle folder, or the name of one in the repository's ``models/``. Default:
        ``$SER_MODEL`` if set, else ``models/ser-emotion6``.
    feature_config : FeatureConfig or dict, optional
        The features you intend to feed; refused unless equal to the card's.
    backend : {"auto", "litert", "tensorflow"}
        ``"auto"`` uses LiteRT when the bundle has ``model.tflite``.
    num_threads : int, optional
        Inference threads (default: up to 2; this model gains nothing from more).

    Returns
    -------
    Predictor

    Raises
    ------
    serwidgets.bundle.BundleNotFoundError
        No bundle there (a ``FileNotFoundError``).
    serwidgets.bundle.IntegrityError
        A weight file does not match the sha256 in the card.
    serwidgets.bundle.FeatureConfigMismatchError
        ``feature_config`` differs from the card's, or the card's feature config does not fit
        the model's input shape.

    See Also
    --------
    serwidgets.card.ModelCard.read : the card this reads and checks.
    serwidgets.export.save_bundle, serwidgets.heads.save_bundle : write bundles.

    Examples
    --------
    >>> model = load_model("zhao2019-emotion6")              # a name in models/, or a folder
    >>> from serwidgets.audio import TARGET_SR
    >>> model.backend, model.input_kind, model.sr == TARGET_SR
    ('litert', 'log_mel', True)
    >>> model.card.metrics["protocol"]
    'speaker-kfold (5 folds)'
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    directory = resolve(path)
    card = ModelCard.read(directory)
    threads = num_threads if num_threads is not None else min(2, os.cpu_count() or 1)
    if card.kind == "encoder-head":
        if backend == "tensorflow":
            raise bundle.BundleError(f"{directory.name} runs its encoder with LiteRT only")
        return EncoderPredictor(card, directory, threads)
    if feature_config is not None:
        wanted = feature_config.to_dict() if hasattr(feature_config, "to_dict") else dict(feature_config)
        trained = card.feature_config.to_dict()
        if wanted != trained:
            changed = sorted(key for key in set(wanted) | set(trained) if wanted.get(key) != trained.get(key))
            raise bundle.FeatureConfigMismatchError(
                f"feature config differs from the one {directory.name} was trained with in "
                + ", ".join(f"{key} ({wanted.get(key)!r} vs card {trained.get(key)!r})" for key in changed)
            )
    if backend == "auto":
        backend = "litert" if bundle.LITERT in card.files else "tensorflow"
    if backend == "litert" and bundle.LITERT not in card.files:
        raise bundle.BundleError(f"the bundle at {directory} has no {bundle.LITERT}; "
                                 f"run `ser export {directory}` or use backend='tensorflow'")
    runner = (_LiteRT(directory / bundle.LITERT, threads) if backend == "litert"
              else _TensorFlow(directory, card, threads))
    return Predictor(card, runner, directory)


class Predictor:
    """A loaded bundle that turns audio into emotion probabilities (see :func:`load_model`)."""

    def __init__(self, card: ModelCard, runner, directory: Path | None = None):
        self.card = card
        self.directory = directory
        self.name = card.name or (directory.name if directory else "model")
        self.labels = card.labels
        self.feature_config = card.feature_config
        self.audio_options = card.audio_options
        if self.audio_options.sample_rate != self.feature_config.sample_rate:
            raise bundle.BundleError(f"card of {self.name}: audio options give {self.audio_options.sample_rate} Hz, "
                                     f"features expect {self.feature_config.sample_rate} Hz")
        self.input_kind = bundle.check_input_shape(runner.input_shape, self.feature_config)
        if self.input_kind != card.input_kind:
            raise bundle.FeatureConfigMismatchError(
                f"card of {self.name} says input {card.input_kind!r}, but the model's input "
                f"{list(runner.input_shape)} is {self.input_kind!r} under its feature config")
        if runner.n_outputs != len(self.labels):
            raise bundle.BundleError(f"{self.name}: the model has {runner.n_outputs} outputs, "
                                     f"the card {len(self.labels)} labels")
        self._runner = runner
        self.backend = runner.name
        self.sr = self.feature_config.sample_rate
        self.window = float(self.feature_config.duration)

    sample_rate = renamed_attribute("sr")

    def __repr__(self) -> str:
        return f"<Predictor {self.name!r} ({self.backend}): {', '.join(self.labels)}>"

    # -- public API -------------------------------------------------------------------------
    def predict(self, y: np.ndarray, sr: int, calibration=None) -> dict:
        """Probabilities of each label for audio ``y`` at ``sr`` Hz (mono or multichannel).

        Longer clips: the mean over windows of :meth:`predict_timeline` (log-mel models), or
        the whole clip's pooled encoder states (encoder models). ``calibration``: a
        :class:`~serwidgets.heads.Calibration` of the speaker from :meth:`calibrate`.

        Examples
        --------
        >>> model.predict(y, 48000)                           # doctest: +SKIP
        {'angry': 0.71, 'disgust': 0.02, ...}
        """
        return self._to_dict(self._clip_probabilities(self._prepare(y, sr), calibration))

    def predict_file(self, source, calibration=None) -> dict:
        """Like :meth:`predict`, from a path, bytes or file-like in any supported format.

        Examples
        --------
        >>> model.predict_file("speech.flac")                # doctest: +SKIP
        {'angry': 0.71, 'disgust': 0.02, ...}
        """
        return self._to_dict(self._clip_probabilities(self._load(source), calibration))

    def predict_timeline(self, y: np.ndarray, sr: int, window: float | None = None, hop: float = 1.0,
                         calibration=None) -> Timeline:
        """Probabilities in windows of ``window`` seconds (default: the model's) every ``hop`` s.

        The last window ends at the end of the clip, so no speech is left out; a clip shorter
        than one window gives one (padded) window. For log-mel models, ``hop`` is rounded to
        whole spectrogram frames (16 ms by default).

        Examples
        --------
        >>> timeline = model.predict_timeline(y, TARGET_SR, hop=0.5)   # doctest: +SKIP
        >>> timeline.top                                           # doctest: +SKIP
        ['neutral', 'neutral', 'angry', ...]
        """
        return self._timeline(self._prepare(y, sr), window, hop, calibration)[0]

    def analyze(self, source_or_y, sr: int | None = None, calibration=None) -> Analysis:
        """Probabilities, top label, uncertainty, and what the model heard (for the widgets).

        ``analyze(path_or_bytes)`` decodes a file; ``analyze(y, sr)`` takes samples.

        Examples
        --------
        >>> analysis = model.analyze("speech.wav")            # doctest: +SKIP
        >>> analysis.top, analysis.uncertain                  # doctest: +SKIP
        ('angry', False)
        """
        waveform = self._load(source_or_y) if sr is None else self._prepare(source_or_y, sr)
        timeline, spectrogram, probabilities, atypical = self._analysis(waveform, calibration)
        order = np.argsort(probabilities)[::-1]
        confidence = float(probabilities[order[0]])
        margin = confidence - float(probabilities[order[1]]) if len(order) > 1 else confidence
        if spectrogram is None:  # waveform model: still show what it heard
            from serwidgets.features import log_mel

            with self._one_blas_thread():
                spectrogram = log_mel(waveform, self.feature_config)
        return Analysis(
            labels=self.labels,
            probabilities=probabilities,
            top=self.labels[order[0]],
            confidence=confidence,
            uncertain=confidence < UNCERTAIN_BELOW or margin < UNCERTAIN_MARGIN or atypical,
            waveform=waveform,
            sr=self.sr,
            log_mel=spectrogram,
            timeline=timeline if len(timeline.starts) > 1 else None,
            duration=len(waveform) / self.sr,
            calibrated=calibration is not None,
        )

    def calibrate(self, clips, sr: int | None = None):
        """A :class:`~serwidgets.heads.Calibration` of one speaker from a few of their clips.

        Only models with an encoder head can be calibrated (see :class:`EncoderPredictor`).
        """
        raise bundle.BundleError(f"{self.name} cannot be calibrated: it has no encoder head")

    # -- internals --------------------------------------------------------------------------
    def _prepare(self, y, sr) -> np.ndarray:
        from serwidgets import audio

        return audio.prepare(y, sr, self.audio_options)

    def _load(self, source) -> np.ndarray:
        from serwidgets import audio

        return audio.load(source, self.audio_options)

    def _clip_probabilities(self, waveform: np.ndarray, calibration=None) -> np.ndarray:
        return self._timeline(waveform, None, 1.0, calibration)[0].probabilities.mean(axis=0)

    def _analysis(self, waveform, calibration):
        """Timeline, spectrogram, clip probabilities and whether the input looks unlike training."""
        timeline, spectrogram = self._timeline(waveform, None, 1.0, calibration)
        return timeline, spectrogram, timeline.probabilities.mean(axis=0), False

    def _timeline(self, waveform: np.ndarray, window: float | None, hop: float, calibration=None):
        """The timeline of a prepared clip, and its log-mel (None for waveform models)."""
        from serwidgets.features import log_mel, windows

        if calibration is not None:
            raise bundle.BundleError(f"{self.name} cannot use a calibration: it has no encoder head")

        config, sr = self.feature_config, self.sr
        window = self.window if window is None else float(window)
        if self.input_kind == "waveform":
            batch, starts = windows(waveform, int(round(window * sr)), max(int(round(hop * sr)), 1),
                                    config.n_samples, kind="waveform")
            spectrogram, seconds_per_step = None, 1.0 / sr
        else:
            # One log-mel of the whole clip, windowed along time: training crops its windows
            # from whole-clip spectrograms too, so the normalisation is the same.
            with self._one_blas_thread():
                spectrogram = log_mel(waveform, config)
            length = 1 + int(round(window * sr)) // config.hop_length
            step = max(int(round(hop * sr / config.hop_length)), 1)
            batch, starts = windows(spectrogram, length, step, config.n_frames)
            seconds_per_step = config.hop_length / sr
        batch = batch.reshape((len(batch), *self._runner.input_shape)).astype(np.float32, copy=False)
        probabilities = self._runner(batch).astype(np.float64)
        # Renormalise: float32 softmax sums drift by ~1e-7, and callers rely on exactly 1.
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        duration = len(waveform) / sr
        start_times = starts * seconds_per_step
        timeline = Timeline(starts=start_times, ends=np.minimum(start_times + window, duration),
                            probabilities=probabilities, labels=self.labels)
        return timeline, spectrogram

    def _to_dict(self, probabilities: np.ndarray) -> dict:
        return dict(zip(self.labels, (float(p) for p in probabilities)))

    @staticmethod
    def _one_blas_thread():
        # OpenBLAS threads spinning next to the model's threads slow both down.
        return _blas_controller().limit(limits=1, user_api="blas")


_BLAS = None


def _blas_controller():
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS


class _LiteRT:
    """``model.tflite`` through the LiteRT interpreter (no TensorFlow import).

    Windows run one at a time: batch 1 is as fast per window here, allocates once, and keeps
    memory flat however long the recording.
    """

    name = "litert"

    def __init__(self, path: Path, num_threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input_shape = tuple(int(n) for n in self._input["shape_signature"][1:])
        self.n_outputs = int(self._output["shape"][-1])
        self._interpreter.resize_tensor_input(self._input["index"], (1, *self.input_shape))
        self._interpreter.allocate_tensors()
        # One interpreter is not safe to call from several threads (widget callbacks can be).
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = np.empty((len(batch), self.n_outputs), np.float32)
        with self._lock:
            for i in range(len(batch)):
                self._interpreter.set_tensor(self._input["index"], batch[i:i + 1])
                self._interpreter.invoke()
                out[i] = self._interpreter.get_tensor(self._output["index"])[0]
        return out


class _TensorFlow:
    """``model.keras`` through one ``tf.function``, in chunks of at most ``CHUNK`` windows."""

    name = "tensorflow"
    CHUNK = 32

    def __init__(self, directory: Path, card: ModelCard, num_threads: int):
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(num_threads)
        except RuntimeError:
            pass  # TensorFlow already running: its thread pools are fixed for this process
        model = bundle.load_keras(directory, card)
        self.input_shape = tuple(int(n) for n in model.input_shape[1:])
        self.n_outputs = int(model.output_shape[-1])
        self._call = tf.function(lambda x: model(x, training=False),
                                 input_signature=[tf.TensorSpec((None, *self.input_shape), tf.float32)])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.concatenate([self._call(batch[i:i + self.CHUNK]).numpy()
                               for i in range(0, len(batch), self.CHUNK)])


class EncoderPredictor(Predictor):
    """A model bundle that is an encoder reference plus a head (see :mod:`serwidgets.heads`).

    The encoder runs once over the prepared clip (in chunks of at most 30 s); the clip's
    probabilities come from its states pooled over all frames, as in training, and the
    timeline's from the frames of each window. With a :class:`~serwidgets.heads.Calibration`
    (from :meth:`calibrate`) the speaker-normalised head is used. An input whose pooled
    features lie far outside the training speakers' range (the head's typicality check)
    makes the analysis ``uncertain``.
    """

    def __init__(self, card: ModelCard, directory: Path, num_threads: int):
        from serwidgets.encoders import Encoder
        from serwidgets.heads import load_head

        self.card = card
        self.directory = directory
        self.name = card.name or directory.name
        self.labels = card.labels
        self.audio_options = card.audio_options
        self.encoder = Encoder.load(card.encoder["name"], num_threads)
        self.encoder.check(card.encoder)
        self.head = load_head(directory, self.labels, card.head)
        self.feature_config = None
        self.input_kind = "encoder"
        self.backend = "litert"
        self.sr = self.audio_options.sample_rate
        self.window = float(card.window_seconds if card.window_seconds is not None else 3.0)

    def __repr__(self) -> str:
        return f"<EncoderPredictor {self.name!r} ({self.encoder.name} + head): {', '.join(self.labels)}>"

    def calibrate(self, clips, sr: int | None = None):
        """A :class:`~serwidgets.heads.Calibration` of one speaker from a few of their clips.

        Parameters
        ----------
        clips : sequence
            Paths, bytes or file-likes (``sr`` None), or waveforms at ``sr`` Hz. About ten
            clips said with *different* feelings work best; at least
            :data:`~serwidgets.heads.MIN_CALIBRATION_CLIPS` of at least
            :data:`~serwidgets.heads.MIN_CLIP_SECONDS` s of speech each.

        Raises
        ------
        serwidgets.heads.CalibrationError
            Too few or too short clips (the message says what is needed).
        serwidgets.audio.AudioError
            A clip cannot be used (silence, not audio, ...).

        Examples
        --------
        >>> cal = model.calibrate(["me1.wav", "me2.wav", "me3.wav"])     # doctest: +SKIP
        >>> model.predict_file("me4.wav", calibration=cal)               # doctest: +SKIP
        """
        from serwidgets.heads import Calibration

        waveforms = [self._load(c) if sr is None else self._prepare(c, sr) for c in clips]
        return Calibration.from_features(self.features(waveforms), [len(w) / self.sr for w in waveforms],
                                         encoder_sha256=self.encoder.sha256)

    def features(self, waveforms) -> np.ndarray:
        """Pooled encoder states ``(n, n_states, 1024)`` of prepared waveforms."""
        from serwidgets.encoders import pool_stats

        with self._one_blas_thread():
            return np.stack([pool_stats(self.encoder.states(w)) for w in waveforms])

    def _check_calibration(self, calibration):
        if calibration is not None and calibration.encoder_sha256 not in ("", self.encoder.sha256):
            from serwidgets.encoders import EncoderMismatchError

            raise EncoderMismatchError("this calibration was made with another encoder; calibrate again")

    def _clip_probabilities(self, waveform: np.ndarray, calibration=None) -> np.ndarray:
        self._check_calibration(calibration)
        return self.head.predict_features(self.features([waveform]), calibration)[0]

    def _analysis(self, waveform, calibration):
        from serwidgets.encoders import pool_stats

        self._check_calibration(calibration)
        with self._one_blas_thread():
            states, spectrogram = self.encoder.states(waveform, return_log_mel=True)
        pooled = pool_stats(states)[None]
        probabilities = self.head.predict_features(pooled, calibration)[0]
        timeline = self._windows(states, len(waveform), None, 1.0, calibration)
        return timeline, spectrogram, probabilities, bool(self.head.atypical(pooled, calibration)[0])

    def _timeline(self, waveform: np.ndarray, window: float | None, hop: float, calibration=None):
        self._check_calibration(calibration)
        with self._one_blas_thread():
            states, spectrogram = self.encoder.states(waveform, return_log_mel=True)
        return self._windows(states, len(waveform), window, hop, calibration), spectrogram

    def _windows(self, states, n_samples, window, hop, calibration) -> Timeline:
        """Each window's probabilities from its span of the clip's encoder frames."""
        from serwidgets.encoders import FRAME_SECONDS, pool_stats
        from serwidgets.features import frame_windows

        window = self.window if window is None else float(window)
        length = max(int(round(window / FRAME_SECONDS)), 1)
        step = max(int(round(hop / FRAME_SECONDS)), 1)
        starts, ends = frame_windows(states.shape[1], 1, length, step)
        pooled = np.stack([pool_stats(states, s, e) for s, e in zip(starts, ends)])
        probabilities = self.head.predict_features(pooled, calibration)
        duration = n_samples / self.sr
        start_times = starts * FRAME_SECONDS
        return Timeline(starts=start_times, ends=np.minimum(ends * FRAME_SECONDS, duration),
                        probabilities=probabilities, labels=self.labels)
