"""Pooled encoder states of every clip of a corpus table, computed once and cached by content.

Encoding is the slow step (tens of milliseconds per clip with LiteRT on two cores); heads
then train in seconds. An entry is keyed like the log-mel cache (:mod:`serwidgets.cache`):
the sha256 of the file's bytes, plus the encoder (its id and the sha256 of its
``encoder.tflite``), the front end, the pooling and the audio options.

Examples
--------
>>> from serwidgets import corpora, embeddings
>>> df = corpora.load_corpus("emodb")                      # doctest: +SKIP
>>> X = embeddings.cached_embeddings(df)                   # doctest: +SKIP
>>> X.shape                                                # doctest: +SKIP
(535, 4, 1024)
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["embedding_config", "cached_embeddings", "noisy_embeddings", "embed_file"]

_ENCODERS: dict = {}
_ENCODED = [0]  # clips encoded in this process (the cache reports no misses itself)


def _encoder(name: str, sha256: str):
    from serwidgets.encoders import Encoder

    key = (name, sha256)
    if key not in _ENCODERS:
        encoder = Encoder.load(name, num_threads=2)
        if encoder.sha256 != sha256:
            from serwidgets.encoders import EncoderMismatchError

            raise EncoderMismatchError(f"encoder {name!r} on disk has sha256 {encoder.sha256[:12]}…, "
                                       f"the cache entry asks for {sha256[:12]}…")
        _ENCODERS[key] = encoder
    return _ENCODERS[key]


def embedding_config(encoder=None) -> dict:
    """What, besides the audio, shapes a cached embedding (part of the cache key and of model cards).

    Examples
    --------
    >>> config = embedding_config()                          # the shipped encoder
    >>> config["encoder"], config["n_states"], config["pooling"]
    ('whisper-base-l3', 4, 'mean+std over frames, per state')
    """
    from serwidgets.encoders import Encoder

    encoder = encoder or Encoder.load()
    _ENCODERS.setdefault((encoder.name, encoder.sha256), encoder)
    return {"encoder": encoder.name, "encoder_id": encoder.card.encoder_id, "encoder_sha256": encoder.sha256,
            "frontend": "whisper_log_mel", "pooling": "mean+std over frames, per state",
            "n_states": encoder.n_states}


def embed_file(path, config: dict, audio_options) -> np.ndarray:
    """Pooled states ``(n_states, 1024)`` of one file (the function the cache stores)."""
    from serwidgets import audio

    _ENCODED[0] += 1
    encoder = _encoder(config["encoder"], config["encoder_sha256"])
    return encoder.pooled(audio.load(path, audio_options))


def cached_embeddings(df, encoder=None, audio_options=None, cache_dir=None, progress: bool = True,
                      log=print) -> np.ndarray:
    """Pooled encoder states of every row of ``df`` ``(n, n_states, 1024)``, from the cache where possible.

    Prints the number of clips and the throughput of the clips that had to be encoded.
    """
    from serwidgets import cache
    from serwidgets.audio import AudioOptions

    config = embedding_config(encoder)
    audio_options = audio_options or AudioOptions()
    start = time.perf_counter()
    before = _ENCODED[0]
    out = cache.cached_features(df, config, audio_options, cache_dir=cache_dir, progress=progress,
                                compute=embed_file)
    encoded = _ENCODED[0] - before
    if encoded and log is not None:
        seconds = time.perf_counter() - start
        log(f"embeddings: encoded {encoded} of {len(out)} clips in {seconds:.0f} s "
            f"({encoded / seconds:.1f} clips/s); the rest came from the cache")
    # Files that cannot be used (counted and reported by the cache) become NaN rows: heads skip them.
    missing = np.full((config["n_states"], 1024), np.nan, np.float32)
    return np.stack([missing if x is None else x for x in out]) if len(out) else missing[None][:0]


def noisy_embeddings(df, encoder=None, audio_options=None) -> np.ndarray:
    """Pooled states of rows with test-time noise (``snr_db``, ``noise``, ``copy`` columns; not cached).

    The noise is the one :func:`serwidgets.inputs.load_inputs` adds for the other models, so
    the noise sweep of every model hears the same noisy clips.
    """
    from serwidgets.inputs import load_inputs

    config = embedding_config(encoder)
    encoder = _encoder(config["encoder"], config["encoder_sha256"])
    waveforms = load_inputs(df, "waveform", audio_options=audio_options, report=False)
    missing = np.full((config["n_states"], 1024), np.nan, np.float32)
    return np.stack([missing if y is None else encoder.pooled(y) for y in waveforms])
