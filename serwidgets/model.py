"""Predict emotions from audio with a model bundle: one base, one subclass per kind of bundle.

:func:`load_model` reads a bundle's card (:mod:`serwidgets.card`), checks it, and returns the
:class:`Model` of its kind. Every model runs the path it was trained on: audio decoded and
prepared with the card's :class:`~serwidgets.audio.AudioOptions`, features as the card says,
outputs named by the card's labels in card order.

A subclass writes two hooks, and the base does everything else with them, once:

``encode(waveform) -> states``
    The features of a whole prepared clip, frames along axis :attr:`Model.frame_axis`,
    :attr:`Model.frame_seconds` apart: a log-mel, the waveform itself, or encoder states.
``score(states, spans, calibration=None) -> (n_spans, n_labels)``
    Probabilities of each span ``[start, stop)`` of frames.

=====================  ======================================  ========================================
model (card kind)      ``encode``                              ``score`` of a span
=====================  ======================================  ========================================
:class:`NetworkModel`  log-mel (or waveform) of the clip       mean of the network over windows of its
(``"network"``)                                                input length, one second apart
:class:`EncoderModel`  the frozen encoder's hidden states      the head on the span's pooled states
(``"encoder-head"``)
:class:`BaselineModel` the waveform                            logistic regression on the span's
(``"baseline"``)                                               standardised utterance functionals
:class:`PersonalModel` the frozen encoder's hidden states      a user's classes, taught from a few
(``"personal"``)                                               takes (:mod:`serwidgets.personal`)
=====================  ======================================  ========================================

:meth:`Model.predict` scores the whole clip as *one* span, whatever the model; the timeline
(:meth:`Model.predict_timeline`) scores windows of :attr:`Model.window` seconds, cut in frames
by :func:`serwidgets.features.frame_windows`.

Three more hooks have defaults in the base: :meth:`Model.pool` (a span's frames as one feature
vector: what a speaker's :class:`~serwidgets.calibration.Calibration` summarises; models without it
cannot be calibrated), :meth:`Model.atypical` (a span lies far outside the training clips) and
:meth:`Model.not_sure` (why a clip's label should not be trusted).

Not sure
    An :class:`Analysis` says why its label should not be trusted in ``not_sure`` ("" when it
    is ``sure``): the clip is atypical (:data:`NOT_SURE_ATYPICAL`), or its top probability is
    below the threshold of the card's confidence for the speaker's calibration state (an
    encoder model whose card has a :class:`~serwidgets.confidence.Confidence`: its probabilities
    are calibrated for strangers, and "not sure" is chosen for a stated accuracy among the clips
    shown as sure), or, without one, below :data:`NOT_SURE_BELOW` (0.4) or within
    :data:`NOT_SURE_MARGIN` (0.1) of the runner-up.

Examples
--------
>>> import serwidgets
>>> from serwidgets.audio import TARGET_SR
>>> model = serwidgets.load_model()
>>> type(model).__name__, model.labels
('EncoderModel', ('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad'))
>>> t = np.arange(2 * TARGET_SR) / TARGET_SR
>>> phase = 2 * np.pi * np.cumsum(150 * (1 + 0.1 * np.sin(6 * np.pi * t))) / TARGET_SR  # a gliding pitch
>>> buzz = 0.1 * sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.55 + 0.45 * np.sin(8 * np.pi * t))
>>> analysis = model((buzz, TARGET_SR))             # or a path, bytes, {"raw", "sampling_rate"}, a list
>>> round(float(analysis.probabilities.sum()), 6), analysis.sure, analysis.not_sure   # unlike any voice
(1.0, False, 'not sure — this does not sound like the speech the model was trained on')
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serwidgets import bundle
from serwidgets.card import BaselineCard, BundleError, EncoderHeadCard, ModelCard, NetworkCard, PersonalCard

__all__ = ["load_model", "Model", "NetworkModel", "EncoderModel", "BaselineModel", "PersonalModel", "MODELS",
           "Analysis", "Timeline", "NOT_SURE_BELOW", "NOT_SURE_MARGIN", "NOT_SURE_ATYPICAL", "NOT_SURE_CLOSE", "BACKENDS"]

#: Without a confidence in its card, a model is not sure below this top probability ...
NOT_SURE_BELOW = 0.4
#: ... or when the runner-up is closer than this.
NOT_SURE_MARGIN = 0.1
#: Why a clip far outside the training clips (:meth:`Model.atypical`) is not sure, and why one below
#: those two (a model without a confidence) is.
NOT_SURE_ATYPICAL = "not sure — this does not sound like the speech the model was trained on"
NOT_SURE_CLOSE = "not sure — the top emotions are close together"

BACKENDS = ("auto", "litert", "tensorflow", "numpy")


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
    """What a model says about one clip (:meth:`Model.analyze`, ``model(clip)``), and what it heard."""

    labels: tuple
    probabilities: np.ndarray  # (n_labels,), sums to 1: the whole clip as one span
    top: str
    confidence: float  # probability of ``top``
    not_sure: str  # why the label should not be trusted, "" when sure (see the module docstring)
    waveform: np.ndarray  # prepared audio (mono, trimmed, normalised)
    sr: int  # of ``waveform``
    timeline: Timeline | None  # None when the clip fits in one window
    duration: float  # seconds of prepared audio
    calibrated: bool = False  # a speaker calibration was applied
    features: np.ndarray | None = None  # the clip pooled (Model.pool), for a model that can be calibrated

    @property
    def sure(self) -> bool:
        return not self.not_sure

    def as_dict(self) -> dict:
        """Label -> probability."""
        return dict(zip(self.labels, self.probabilities.tolist()))


def load_model(path=None, *, backend: str = "auto", num_threads: int | None = None) -> Model:
    """Load a model bundle as the :class:`Model` of its card's kind.

    Parameters
    ----------
    path : str or Path, optional
        A bundle folder, or the name of one in the repository's ``models/``. Default:
        ``$SER_MODEL`` if set, else ``models/ser-emotion6``.
    backend : {"auto", "litert", "tensorflow", "numpy"}
        What runs a network: ``"auto"`` uses LiteRT when the bundle has ``model.tflite``.
        Encoder models run LiteRT, baselines numpy; they refuse another backend.
    num_threads : int, optional
        Inference threads (default: up to 2; these models gain nothing from more).

    Returns
    -------
    NetworkModel, EncoderModel, BaselineModel or PersonalModel

    Raises
    ------
    serwidgets.card.BundleNotFoundError
        No bundle there (a ``FileNotFoundError``).
    serwidgets.card.IntegrityError
        A file does not match the sha256 in the card.
    serwidgets.card.BundleError
        The card is not a model's, or the backend cannot run it.
    serwidgets.bundle.FeatureConfigMismatchError
        The card's feature config does not fit the network's input.

    See Also
    --------
    serwidgets.card.Card.read : the card this reads and checks.

    Examples
    --------
    >>> model = load_model("zhao2019-emotion6")              # a name in models/, or a folder
    >>> model
    <NetworkModel 'zhao2019-emotion6' (litert): angry, disgust, fear, happy, neutral, sad>
    >>> model.card.metrics["protocol"], model.frame_seconds
    ('speaker-kfold (5 folds)', 0.016)
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    directory = bundle.resolve(path)
    card = ModelCard.read(directory)
    threads = num_threads if num_threads is not None else min(2, os.cpu_count() or 1)
    model_class = next(m for m in MODELS if isinstance(card, m.card_class))
    return model_class(card, directory, backend=backend, num_threads=threads)


class Model:
    """A loaded model bundle: audio in, emotion probabilities out (see the module docstring).

    Attributes
    ----------
    card : serwidgets.card.ModelCard
    directory : Path
    name : str
    labels : tuple of str
    audio_options : serwidgets.audio.AudioOptions
    sr : int
        Sample rate of the prepared audio the model sees.
    window : float
        Seconds of each timeline window.
    frame_seconds : float
        Seconds between two frames of :meth:`encode`'s states.
    backend : str
        What runs it (``"litert"``, ``"tensorflow"``, ``"numpy"``).
    calibratable : bool
        Whether :meth:`calibrate` and ``calibration=`` work (an encoder model with a speaker head).
    encoder : serwidgets.encoders.Encoder or None
        The frozen encoder under the model, if any: a calibration belongs to it.
    calibration_head : serwidgets.calibration.SpeakerHead or None
        The head a calibration is fitted for (its labelled takes' correction, its
        leave-one-take-out figure: :meth:`~serwidgets.calibration.Calibration.leave_one_out`).
    """

    #: The card class this model reads.
    card_class = ModelCard
    #: The axis of :meth:`encode`'s states that runs over frames.
    frame_axis = -1
    calibratable = False
    encoder = None
    calibration_head = None

    def __init__(self, card: ModelCard, directory: Path, *, window: float, frame_seconds: float, backend: str):
        self.card = card
        self.directory = None if directory is None else Path(directory)  # None: made in memory, not saved yet
        self.name = card.name
        self.labels = card.labels
        self.audio_options = card.audio_options
        self.sr = card.audio_options.sample_rate
        self.window = float(window)
        self.frame_seconds = float(frame_seconds)
        self.backend = backend

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.backend}): {', '.join(self.labels)}>"

    # -- the hooks ---------------------------------------------------------------------------
    def encode(self, waveform: np.ndarray) -> np.ndarray:
        """States of a prepared clip, frames along :attr:`frame_axis` (a subclass's hook)."""
        raise NotImplementedError

    def score(self, states: np.ndarray, spans: np.ndarray, calibration=None) -> np.ndarray:
        """Probabilities ``(len(spans), n_labels)`` of frame spans ``[start, stop)`` of ``states`` (a hook)."""
        raise NotImplementedError

    def pool(self, states: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The frames ``start:stop`` of ``states`` as one feature vector (what a calibration summarises).

        Models without it cannot be calibrated.
        """
        from serwidgets.calibration import CalibrationError

        raise CalibrationError(f"{self.name} cannot be calibrated to a speaker: it has no speaker-normalised head")

    def atypical(self, states: np.ndarray, spans: np.ndarray, calibration=None) -> np.ndarray:
        """Whether each span lies far outside the clips the model was trained on (default: never)."""
        return np.zeros(len(spans), bool)

    def not_sure(self, probabilities: np.ndarray, calibration=None) -> str:
        """Why a clip's ``probabilities`` (from :meth:`score`) leave its label in doubt, or "" (a hook;
        default: a top probability below :data:`NOT_SURE_BELOW` or within :data:`NOT_SURE_MARGIN`
        of the runner-up)."""
        top, runner_up = np.sort(probabilities)[::-1][:2]
        if top < NOT_SURE_BELOW or top - runner_up < NOT_SURE_MARGIN:
            return NOT_SURE_CLOSE
        return ""

    # -- using it ----------------------------------------------------------------------------
    def __call__(self, inputs, *, calibration=None):
        """The :class:`Analysis` of a clip, or a list of them for a list of clips.

        Parameters
        ----------
        inputs : path, bytes, file-like, (y, sr), {"raw": y, "sampling_rate": sr}, or a list of them
            A list is analysed clip by clip in this one call (the runtimes run one window at
            a time anyway), and gives a list back, in order.
        calibration : serwidgets.calibration.Calibration, optional
            The speaker's, from :meth:`calibrate`.

        Examples
        --------
        >>> [a.top for a in model(["speech.wav", (y, 48000)])]      # doctest: +SKIP
        ['angry', 'neutral']
        """
        if isinstance(inputs, list):
            return [self._analyze(self._waveform(x), calibration) for x in inputs]
        return self._analyze(self._waveform(inputs), calibration)

    def analyze(self, source_or_y, sr: int | None = None, calibration=None) -> Analysis:
        """Probabilities, top label, whether it is sure, timeline, and what the model heard (for the widgets).

        ``analyze(path_or_bytes)`` decodes a file; ``analyze(y, sr)`` takes samples; any one
        input of :meth:`__call__` works too.

        Examples
        --------
        >>> analysis = model.analyze("speech.wav")            # doctest: +SKIP
        >>> analysis.top, analysis.sure                       # doctest: +SKIP
        ('angry', True)
        """
        return self._analyze(self._waveform(source_or_y, sr), calibration)

    def predict(self, y: np.ndarray, sr: int, calibration=None) -> dict:
        """Label -> probability for audio ``y`` at ``sr`` Hz (mono or ``(channels, samples)``).

        The whole clip is scored as one span (see the module docstring).

        Examples
        --------
        >>> model.predict(y, 48000)                           # doctest: +SKIP
        {'angry': 0.71, 'disgust': 0.02, ...}
        """
        return self._clip(self._waveform(y, sr), calibration)

    def predict_file(self, source, calibration=None) -> dict:
        """Like :meth:`predict`, from a path, bytes or file-like in any supported format.

        Examples
        --------
        >>> model.predict_file("speech.flac")                # doctest: +SKIP
        {'angry': 0.71, 'disgust': 0.02, ...}
        """
        return self._clip(self._waveform(source), calibration)

    def predict_timeline(self, y: np.ndarray, sr: int, window: float | None = None, hop: float = 1.0,
                         calibration=None) -> Timeline:
        """Probabilities in windows of ``window`` seconds (default :attr:`window`) every ``hop`` seconds.

        The last window ends at the end of the clip, so no speech is left out; a clip shorter
        than one window gives one window. Windows and hops are whole frames.

        Examples
        --------
        >>> timeline = model.predict_timeline(y, TARGET_SR, hop=0.5)   # doctest: +SKIP
        >>> timeline.top                                           # doctest: +SKIP
        ['neutral', 'neutral', 'angry', ...]
        """
        waveform = self._waveform(y, sr)
        self._check(calibration)
        with _one_blas_thread():
            states = self.encode(waveform)
            spans = self._timeline_spans(states.shape[self.frame_axis], window, hop)
            return self._timeline(spans, self.score(states, spans, calibration), len(waveform))

    def features(self, waveforms) -> np.ndarray:
        """:meth:`pool` of each whole prepared waveform, stacked: what a calibration is made of.

        Raises
        ------
        serwidgets.calibration.CalibrationError
            The model cannot be calibrated.
        """
        with _one_blas_thread():
            return np.stack([self.pool(self.encode(w)) for w in waveforms])

    def calibrate(self, clips, labels=None, sr: int | None = None):
        """A :class:`~serwidgets.calibration.Calibration` of one speaker from a few of their clips.

        Parameters
        ----------
        clips : sequence
            Anything :meth:`__call__` takes, one per clip; or waveforms at ``sr`` Hz. About
            ten clips said with *different* feelings work best; at least
            :data:`~serwidgets.calibration.MIN_CALIBRATION_CLIPS` of at least
            :data:`~serwidgets.calibration.MIN_CLIP_SECONDS` s of speech each.
        labels : sequence of (str or None), optional
            The feeling each clip carries (one of :attr:`labels`), or None for a clip whose
            feeling is not known. Labelled clips teach the calibration how this speaker sounds
            in each feeling (:mod:`serwidgets.calibration`); unlabelled ones only their statistics.
        sr : int, optional
            Sample rate of ``clips`` given as waveforms.

        Raises
        ------
        serwidgets.calibration.CalibrationError
            The model cannot be calibrated, or too few or too short clips (the message says).
        serwidgets.audio.AudioError
            A clip cannot be used (silence, not audio, ...).
        ValueError
            A label that is not one of the model's, or not one label per clip.

        Examples
        --------
        >>> me = model.calibrate(["me-calm.wav", "me-angry.wav", "me-sad.wav"],
        ...                      labels=["neutral", "angry", None])       # doctest: +SKIP
        >>> model.predict_file("me-later.wav", calibration=me)            # doctest: +SKIP
        """
        from serwidgets.calibration import Calibration, CalibrationError, check_labels

        if not self.calibratable:
            raise CalibrationError(f"{self.name} cannot be calibrated to a speaker: it has no speaker-normalised head")
        clips = list(clips)
        labels = check_labels(labels, self.labels, len(clips))
        waveforms = [self._waveform(clip, sr) for clip in clips]
        return Calibration.from_features(self.features(waveforms), [len(w) / self.sr for w in waveforms],
                                         labels=labels, encoder_sha256=self.encoder.sha256)

    # -- written once, on the hooks ----------------------------------------------------------
    def _waveform(self, source, sr: int | None = None) -> np.ndarray:
        """The prepared waveform of one input (see :meth:`__call__`)."""
        from serwidgets import audio

        if sr is None and isinstance(source, tuple) and len(source) == 2:
            source, sr = source
        elif sr is None and isinstance(source, dict):
            if set(source) != {"raw", "sampling_rate"}:
                raise ValueError(f"a dict input has the keys 'raw' and 'sampling_rate', got {sorted(source)}")
            source, sr = source["raw"], source["sampling_rate"]
        if sr is not None:
            return audio.prepare(source, sr, self.audio_options)
        if isinstance(source, np.ndarray):
            raise TypeError("samples need their rate: pass (y, sr) or {'raw': y, 'sampling_rate': sr}")
        return audio.load(source, self.audio_options)

    def _check(self, calibration) -> None:
        if calibration is None:
            return
        from serwidgets.calibration import CalibrationError
        from serwidgets.encoders import EncoderMismatchError

        if not self.calibratable:
            raise CalibrationError(f"{self.name} cannot use a calibration: it has no speaker-normalised head")
        if calibration.encoder_sha256 not in ("", self.encoder.sha256):
            raise EncoderMismatchError("this calibration was made with another encoder; calibrate again")

    def _clip(self, waveform: np.ndarray, calibration) -> dict:
        self._check(calibration)
        with _one_blas_thread():
            states = self.encode(waveform)
            probabilities = self.score(states, np.array([[0, states.shape[self.frame_axis]]]), calibration)[0]
        return dict(zip(self.labels, (float(p) for p in probabilities)))

    def _analyze(self, waveform: np.ndarray, calibration) -> Analysis:
        self._check(calibration)
        with _one_blas_thread():
            states = self.encode(waveform)
            n_frames = states.shape[self.frame_axis]
            # The clip as one span, then the timeline's windows: one call to the hook.
            spans = np.concatenate([[[0, n_frames]], self._timeline_spans(n_frames, None, 1.0)])
            scores = self.score(states, spans, calibration)
            atypical = bool(self.atypical(states, spans[:1], calibration)[0])
            # Kept so that a calibration can learn from the clip without encoding it again.
            features = self.pool(states) if self.calibratable else None
        probabilities = scores[0]
        top = int(np.argmax(probabilities))
        return Analysis(
            labels=self.labels, probabilities=probabilities, top=self.labels[top], confidence=float(probabilities[top]),
            not_sure=NOT_SURE_ATYPICAL if atypical else self.not_sure(probabilities, calibration),
            waveform=waveform, sr=self.sr,
            timeline=self._timeline(spans[1:], scores[1:], len(waveform)) if len(spans) > 2 else None,
            duration=len(waveform) / self.sr, calibrated=calibration is not None, features=features,
        )

    def _timeline_spans(self, n_frames: int, window: float | None, hop: float) -> np.ndarray:
        """Frame spans ``(n, 2)`` of the timeline's windows (the last one ends at the end)."""
        from serwidgets.features import frame_windows

        # frame_windows cuts samples at a sample rate: frames at the frame rate are the same cut.
        starts, stops = frame_windows(n_frames, 1 / self.frame_seconds, self.window if window is None else window, hop)
        return np.stack([starts, stops], axis=1)

    def _timeline(self, spans: np.ndarray, probabilities: np.ndarray, n_samples: int) -> Timeline:
        seconds = spans * self.frame_seconds
        return Timeline(starts=seconds[:, 0], ends=np.minimum(seconds[:, 1], n_samples / self.sr),
                        probabilities=probabilities, labels=self.labels)


class NetworkModel(Model):
    """A Keras network bundle (:class:`~serwidgets.card.NetworkCard`), run by LiteRT or TensorFlow.

    States are the clip's log-mel ``(n_mels, frames)`` (or its waveform, for a waveform
    network). A span is scored as the mean of the network over windows of its input length,
    one second apart, the last ending at the span's end (a shorter span is padded as in
    training: :func:`serwidgets.features.windows`).

    Backends, fastest exact one first:

    * ``"litert"`` -- ``model.tflite`` through ``ai_edge_litert`` (no TensorFlow import, so the
      first prediction comes quickly and memory stays low);
    * ``"tensorflow"`` -- ``model.keras`` through one ``tf.function`` (never ``model.predict``,
      whose per-call overhead dwarfs this model).
    """

    card_class = NetworkCard

    def __init__(self, card: NetworkCard, directory: Path, *, backend: str = "auto", num_threads: int = 2):
        config = card.feature_config
        if backend == "auto":
            backend = "litert" if bundle.LITERT in card.files else "tensorflow"
        if backend == "litert" and bundle.LITERT not in card.files:
            raise BundleError(f"the bundle at {directory} has no {bundle.LITERT}; "
                              f"run `ser export {directory}` or use backend='tensorflow'")
        if backend not in ("litert", "tensorflow"):
            raise BundleError(f"{card.name} is a network: it runs on LiteRT or TensorFlow, not {backend}")
        waveform = card.input_kind == "waveform"
        super().__init__(card, directory, window=config.duration, backend=backend,
                         frame_seconds=(1 if waveform else config.hop_length) / config.sample_rate)
        self.feature_config = config
        runner = (_LiteRT(self.directory / bundle.LITERT, num_threads) if backend == "litert"
                  else _TensorFlow(self.directory, card, num_threads))
        if bundle.check_input_shape(runner.input_shape, config) != card.input_kind:
            raise bundle.FeatureConfigMismatchError(
                f"card of {self.name} says input {card.input_kind!r}, but the model's input "
                f"{list(runner.input_shape)} is not one under its feature config")
        if runner.n_outputs != len(self.labels):
            raise BundleError(f"{self.name}: the model has {runner.n_outputs} outputs, the card {len(self.labels)} labels")
        self._runner = runner
        self._input_frames = config.n_samples if waveform else config.n_frames

    def encode(self, waveform: np.ndarray) -> np.ndarray:
        from serwidgets.features import log_mel

        # One log-mel of the whole clip, windowed along time: training crops its windows from
        # whole-clip spectrograms too, so the normalisation is the same.
        return waveform if self.card.input_kind == "waveform" else log_mel(waveform, self.feature_config)

    def score(self, states: np.ndarray, spans: np.ndarray, calibration=None) -> np.ndarray:
        from serwidgets.features import WINDOW_HOP_SECONDS, windows

        hop = max(int(round(WINDOW_HOP_SECONDS / self.frame_seconds)), 1)
        batches = [windows(states[..., start:stop], self._input_frames, hop, kind=self.card.input_kind)[0]
                   for start, stop in spans]
        batch = np.concatenate(batches).reshape((-1, *self._runner.input_shape)).astype(np.float32, copy=False)
        probabilities = self._runner(batch).astype(np.float64)
        # Renormalise: float32 softmax sums drift by ~1e-7, and callers rely on exactly 1.
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        ends = np.cumsum([len(b) for b in batches])
        return np.stack([part.mean(axis=0) for part in np.split(probabilities, ends[:-1])])


class EncoderModel(Model):
    """A head on a frozen encoder (:class:`~serwidgets.card.EncoderHeadCard`; :mod:`serwidgets.heads`).

    The encoder runs once over the prepared clip (in chunks of at most 30 s); a span's
    probabilities come from its states pooled over the span's frames, as in training. With a
    :class:`~serwidgets.calibration.Calibration` (from :meth:`calibrate`) the speaker-normalised
    head is used. A card's :attr:`~serwidgets.card.EncoderHeadCard.confidence` rescales the
    head's probabilities for the speaker's calibration state and says when it is not sure; a clip
    whose pooled states lie far outside the training speakers' range (the head's typicality
    check) is not sure either.
    """

    card_class = EncoderHeadCard
    frame_axis = 1

    def __init__(self, card: EncoderHeadCard, directory: Path, *, backend: str = "auto", num_threads: int = 2):
        from serwidgets.encoders import Encoder
        from serwidgets.heads import load_head

        if backend not in ("auto", "litert"):
            raise BundleError(f"{card.name} runs its encoder with LiteRT only, not {backend}")
        self.encoder = Encoder.load(card.encoder["name"], num_threads)
        self.encoder.check(card.encoder)
        super().__init__(card, directory, window=card.window_seconds, backend="litert",
                         frame_seconds=self.encoder.card.frame_seconds)
        self.head = load_head(directory, card.labels, card.head)
        self.calibratable = self.head.speaker_head_ is not None
        self.calibration_head = self.head.calibration_head if self.calibratable else None
        # A personal card has none: a taught head's one temperature is fitted on its own takes.
        self.confidence = getattr(card, "confidence", None)

    def encode(self, waveform: np.ndarray) -> np.ndarray:
        return self.encoder.states(waveform)

    def pool(self, states: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        from serwidgets.encoders import pool_stats

        return pool_stats(states, start, stop)

    def score(self, states: np.ndarray, spans: np.ndarray, calibration=None) -> np.ndarray:
        p = self.head.predict_features(np.stack([self.pool(states, *span) for span in spans]), calibration)
        return p if self.confidence is None else self.confidence.probabilities(p, calibration, self.calibration_head)

    def not_sure(self, probabilities: np.ndarray, calibration=None) -> str:
        if self.confidence is None or self.confidence.rule(calibration, self.calibration_head) is None:
            return super().not_sure(probabilities, calibration)
        return self.confidence.not_sure(probabilities, calibration, self.calibration_head)

    def atypical(self, states: np.ndarray, spans: np.ndarray, calibration=None) -> np.ndarray:
        return self.head.atypical(np.stack([self.pool(states, *span) for span in spans]), calibration)


class BaselineModel(Model):
    """Utterance functionals + logistic regression (:class:`~serwidgets.card.BaselineCard`), in numpy.

    States are the prepared waveform (frames are samples); a span's probabilities come from the
    functionals of its samples (:func:`serwidgets.functionals.clip_functionals`), standardised
    and classified with the arrays of ``baseline.npz``, as
    :class:`serwidgets.baseline.BaselineClassifier` did when it saved them.
    """

    card_class = BaselineCard

    def __init__(self, card: BaselineCard, directory: Path, *, backend: str = "auto", num_threads: int = 2):
        from serwidgets.heads import LinearHead

        if backend not in ("auto", "numpy"):
            raise BundleError(f"{card.name} is a baseline: it runs in numpy, not {backend}")
        super().__init__(card, directory, window=card.window_seconds, backend="numpy",
                         frame_seconds=1 / card.audio_options.sample_rate)
        with np.load(self.directory / "baseline.npz", allow_pickle=False) as arrays:
            self.head = LinearHead(**{key: arrays[key] for key in ("mean", "scale", "coef", "intercept", "classes")})

    def encode(self, waveform: np.ndarray) -> np.ndarray:
        return waveform

    def score(self, states: np.ndarray, spans: np.ndarray, calibration=None) -> np.ndarray:
        from serwidgets.functionals import clip_functionals

        X = np.stack([clip_functionals(states[start:stop], self.card.feature_set, self.card.feature_config)
                      for start, stop in spans])
        return self.head.proba(X.astype(np.float64), len(self.labels))


class PersonalModel(EncoderModel):
    """Classes a user taught from a few takes (:class:`~serwidgets.card.PersonalCard`).

    :func:`serwidgets.personal.teach` makes one; :meth:`save` writes it as a bundle that
    :func:`load_model` reads back. It is an :class:`EncoderModel` whose head is the taught one
    (a span's pooled states through one linear map: it predicts as fast as the shipped model),
    so it analyses, predicts and draws timelines as every model does. It cannot be calibrated:
    its head already stands on the teacher's own voice.
    """

    card_class = PersonalCard

    def __init__(self, card: PersonalCard, directory: Path | None = None, *, backend: str = "auto",
                 num_threads: int = 2, encoder=None, head=None):
        if head is None:  # a saved bundle: load its encoder and head
            super().__init__(card, directory, backend=backend, num_threads=num_threads)
            return
        # Just taught: the teaching model's encoder is shared, nothing is loaded.
        encoder.check(card.encoder)
        Model.__init__(self, card, directory, window=card.window_seconds, backend="litert",
                       frame_seconds=encoder.card.frame_seconds)
        self.encoder, self.head, self.confidence = encoder, head, None

    @property
    def takes(self) -> dict:
        """Class -> number of takes it was taught with."""
        return dict(self.card.takes)

    def leave_one_out(self):
        """Each take scored by the head taught from the *other* takes: a
        :class:`~serwidgets.calibration.LeaveOneOut` (accuracy, confusion, summary, mix-ups)."""
        from serwidgets.calibration import LeaveOneOut

        return LeaveOneOut(self.labels, list(self.card.leave_one_out["labels"]),
                           list(self.card.leave_one_out["predicted"]))

    def save(self, directory, name: str | None = None) -> Path:
        """Write the bundle (``head.npz`` and ``card.json``, no pickle) into ``directory``; returns it.

        ``name`` defaults to the folder's name. :func:`load_model` reads it back, on the same encoder only.
        """
        import dataclasses

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        filename = self.card.head["file"]
        np.savez(directory / filename, std_floor=self.head.std_floor_,
                 atypical_above=np.float64(self.head.atypical_above_), **self.head.global_head_.arrays("global"))
        card = dataclasses.replace(self.card, name=name or directory.name, files={})
        card.stamp().add_files(directory, filename).write(directory)  # the card last: see Card.write
        return directory


#: The model of each kind of card (a new kind of bundle adds its model here).
MODELS = (NetworkModel, EncoderModel, BaselineModel, PersonalModel)

_BLAS = None


def _one_blas_thread():
    # OpenBLAS threads spinning next to the model's threads slow both down.
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


class _LiteRT:
    """``model.tflite`` through the LiteRT interpreter (no TensorFlow import).

    Windows run one at a time: batch 1 is as fast per window here, allocates once, and keeps
    memory flat however long the recording.
    """

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

    CHUNK = 32

    def __init__(self, directory: Path, card: NetworkCard, num_threads: int):
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
