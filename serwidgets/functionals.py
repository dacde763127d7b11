"""Utterance functionals: fixed-length statistics of a clip, for the classical baseline.

Each clip becomes one vector of statistics over time. Three feature sets
(:data:`FEATURE_SETS`, the ``feature_set`` of :class:`serwidgets.baseline.BaselineClassifier`):

``"stats"`` (numpy only, no numba; 425 values; :func:`utterance_features`):

* log-mel (64 bands, not normalised): mean, standard deviation, 10th/50th/90th percentiles;
* 20 MFCCs (DCT-II of the log-mel) and their deltas: mean and standard deviation;
* spectral centroid, bandwidth, 85 % roll-off, flatness, zero-crossing rate and frame energy
  in dB: mean, standard deviation, 10th and 90th percentiles;
* the fraction of frames within 30 dB of the loudest (a crude speaking-rate cue).

``"compare"``
    openSMILE's ComParE 2016 functionals (6373 values: statistics of energy, spectral, MFCC
    and voicing descriptors and their deltas), the standard acoustic baseline of the
    INTERSPEECH paralinguistics challenges (:func:`opensmile_functionals`). The
    ``opensmile`` wheel carries its own binary.
``"egemaps"``
    openSMILE's eGeMAPS v02 (88 expert-chosen values; Eyben et al., 2016).

All three are computed on the prepared waveform (:func:`serwidgets.audio.load`: 16 kHz,
trimmed, loudness-normalised), exactly what the networks see, and cached on disk by file
content (:mod:`serwidgets.cache`). :func:`speaker_norm` standardises features per speaker.

Examples
--------
>>> from serwidgets.audio import TARGET_SR
>>> y = np.random.default_rng(0).standard_normal(TARGET_SR).astype(np.float32) * 0.1
>>> utterance_features(y).shape
(425,)
"""

from __future__ import annotations

import functools

import numpy as np

from .audio import TARGET_SR
from .features import FeatureConfig

__all__ = ["FEATURE_SETS", "utterance_features", "opensmile_functionals", "clip_functionals", "row_functionals",
           "speaker_norm"]

_N_MFCC = 20
_PERCENTILES = (10, 50, 90)


def _stats(frames, percentiles=_PERCENTILES):
    """Mean, std and percentiles over time (last axis), concatenated."""
    return np.concatenate([frames.mean(-1), frames.std(-1), *np.percentile(frames, percentiles, axis=-1)])


def utterance_features(y, config=None):
    """Fixed-length statistics of one prepared waveform (see the module docstring).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Prepared mono waveform at ``config.sample_rate``.
    config : FeatureConfig, optional
        STFT and mel settings (``normalization`` is ignored: statistics need absolute levels).

    Returns
    -------
    np.ndarray, float32, shape (425,)

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(TARGET_SR).astype(np.float32) * 0.1
    >>> utterance_features(y).shape
    (425,)
    """
    from scipy.fft import dct

    from .features import frame_signal, mel_filterbank, power_spectrum

    config = config or FeatureConfig()
    # float64: the spectral descriptors below divide small sums.
    frames = frame_signal(np.asarray(y, np.float64), config)
    power = power_spectrum(frames, config).T  # (bins, frames)
    freqs = np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)[:, None]

    log_mel = 10 * np.log10(np.maximum(mel_filterbank(config) @ power, 1e-10))
    mfcc = dct(log_mel, type=2, axis=0, norm="ortho")[:_N_MFCC]
    delta = np.gradient(mfcc, axis=-1) if mfcc.shape[-1] > 1 else np.zeros_like(mfcc)

    total = power.sum(0) + 1e-12
    centroid = (freqs * power).sum(0) / total
    bandwidth = np.sqrt(((freqs - centroid) ** 2 * power).sum(0) / total)
    rolloff = freqs[np.argmax(np.cumsum(power, 0) >= 0.85 * total, axis=0), 0]
    flatness = np.exp(np.log(power + 1e-12).mean(0)) / (power.mean(0) + 1e-12)
    zcr = (np.diff(np.signbit(frames), axis=-1) != 0).mean(-1)
    energy = 10 * np.log10((frames ** 2).mean(-1) + 1e-10)
    descriptors = np.stack([centroid / 1000, bandwidth / 1000, rolloff / 1000, flatness, zcr, energy])

    return np.concatenate([
        _stats(log_mel),
        mfcc.mean(-1), mfcc.std(-1), delta.mean(-1), delta.std(-1),
        _stats(descriptors, (10, 90)),
        [np.mean(energy > energy.max() - 30)],
    ]).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _smile(feature_set):
    # Building a Smile object parses its config (~50 ms): once per process and set.
    import opensmile

    names = {"compare": "ComParE_2016", "egemaps": "eGeMAPSv02"}
    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, names[feature_set]),
                           feature_level=opensmile.FeatureLevel.Functionals)


def _functionals_here(y, feature_set, sr):
    # Runs in the openSMILE worker process (see _SmileWorker).
    values = _smile(feature_set).process_signal(np.asarray(y, np.float32), sr)
    # A clip too short for a descriptor (no voiced frame, say) yields NaN: read it as 0.
    return np.nan_to_num(values.to_numpy()[0].astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


class _SmileWorker:
    """openSMILE in a child process of its own, started on first use.

    openSMILE is C++ behind ctypes. In a long test run it once aborted the whole Python
    process (SIGABRT inside ``smile_run``, not reproducible in isolation); in a child a crash
    costs one retry with a fresh worker instead of the caller's notebook kernel or test run.
    One spawned worker: IPC of a 3-s clip costs well under a millisecond against ~34 ms of
    openSMILE.
    """

    def __init__(self):
        self._pool = None

    def __call__(self, y, feature_set, sr):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        for _ in range(2):
            if self._pool is None:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            try:
                return self._pool.submit(_functionals_here, y, feature_set, sr).result()
            except BrokenProcessPool:
                self._pool = None  # the worker died: start a fresh one
        raise RuntimeError(f"openSMILE ({feature_set}) crashed twice on a clip of {len(y)} samples")


_smile_worker = _SmileWorker()


def opensmile_functionals(y, feature_set="compare", sr=TARGET_SR):
    """openSMILE functionals of one prepared waveform (computed in a worker process).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform.
    feature_set : {"compare", "egemaps"}
        ComParE 2016 (6373 values) or eGeMAPS v02 (88 values).
    sr : int
        Sample rate of ``y``.

    Returns
    -------
    np.ndarray, float32

    Raises
    ------
    RuntimeError
        openSMILE crashed, twice.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(TARGET_SR).astype(np.float32) * 0.1
    >>> opensmile_functionals(y, "egemaps").shape                     # doctest: +SKIP
    (88,)
    """
    if feature_set not in ("compare", "egemaps"):
        raise ValueError(f"feature_set must be 'compare' or 'egemaps', got {feature_set!r}")
    return _smile_worker(np.asarray(y, np.float32), feature_set, int(sr))


def _stats_of_file(path, feature_config, audio_options):
    from .audio import load

    return utterance_features(load(path, audio_options), feature_config)


def _compare_of_file(path, feature_config, audio_options):
    from .audio import load

    return opensmile_functionals(load(path, audio_options), "compare", sr=feature_config.sample_rate)


def _egemaps_of_file(path, feature_config, audio_options):
    from .audio import load

    return opensmile_functionals(load(path, audio_options), "egemaps", sr=feature_config.sample_rate)


#: Feature set name -> ``f(path, feature_config, audio_options)``, the cached computation.
FEATURE_SETS = {"stats": _stats_of_file, "compare": _compare_of_file, "egemaps": _egemaps_of_file}


def clip_functionals(y, feature_set="stats", config=None):
    """The functionals of one prepared waveform: what a baseline bundle computes on a clip.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Prepared mono waveform (:func:`serwidgets.audio.load`) at ``config.sample_rate``.
    feature_set : {"stats", "compare", "egemaps"}
    config : FeatureConfig, optional

    Returns
    -------
    np.ndarray, float32

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(TARGET_SR).astype(np.float32) * 0.1
    >>> np.array_equal(clip_functionals(y), utterance_features(y))
    True
    """
    config = config or FeatureConfig()
    if feature_set == "stats":
        return utterance_features(y, config)
    return opensmile_functionals(y, feature_set, sr=config.sample_rate)


@functools.lru_cache(maxsize=1 << 14)
def row_functionals(path, snr_db, noise, copy, feature_set, feature_config, audio_options, cache_dir):
    """The functionals of one row of a corpus table (the baseline's features), or its AudioError.

    Memoised: every fold of a protocol needs the same clips' features again. Clean clips
    (``snr_db`` NaN) go through the on-disk cache (:mod:`serwidgets.cache`), so the next process
    reads them instead; a noisy row is loaded with its noise (:func:`serwidgets.inputs.load_inputs`).
    A file that cannot be used gives its :class:`~serwidgets.audio.AudioError`, returned, not
    raised: the caller skips the row.
    """
    import pandas as pd

    from .cache import cached_features
    from .inputs import DEFAULT_NOISE, load_inputs

    if not np.isfinite(snr_db):
        out = cached_features([path], feature_config, audio_options, cache_dir, progress=False,
                              compute=FEATURE_SETS[feature_set], report=False)
    else:
        row = pd.DataFrame({"path": [path], "snr_db": [snr_db], "noise": [noise or DEFAULT_NOISE],
                            "copy": [copy]})
        out = load_inputs(row, "waveform", feature_config, audio_options, report=False)
    if out[0] is None:
        return out.skipped[path]
    return out[0] if not np.isfinite(snr_db) else clip_functionals(out[0], feature_set, feature_config)


def speaker_norm(X, speakers):
    """Standardise the rows of each speaker by that speaker's own mean and std.

    Speaker normalisation (Schuller et al., 2009): it removes much of what makes voices
    differ, but for a test speaker it needs a batch of their clips (transductive).

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
    speakers : array-like, shape (n,)

    Returns
    -------
    np.ndarray, shape (n, d)

    Raises
    ------
    ValueError
        A speaker has fewer than two rows (no spread to normalise by).

    Examples
    --------
    >>> speaker_norm(np.array([[1.0], [3.0], [10.0], [30.0]]), ["a", "a", "b", "b"]).ravel()
    array([-1.,  1., -1.,  1.])
    """
    speakers = np.asarray(speakers)
    out = np.empty_like(X, dtype=np.float64)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        if rows.sum() < 2:
            raise ValueError(f"speaker normalisation needs several clips of each speaker; "
                             f"{speaker} has {rows.sum()}")
        std = X[rows].std(0)
        out[rows] = (X[rows] - X[rows].mean(0)) / np.where(std > 0, std, 1.0)
    return out
