"""Model inputs of a corpus table: what every classifier reads, clean or with noise.

:func:`load_inputs` turns the rows of a corpus table (``path``, ...) into log-mels or prepared
waveforms. A table may carry an ``snr_db`` column: those rows are loaded, given noise at that
SNR (``noise`` column: kind, default :data:`DEFAULT_NOISE`) and featurised on the fly, with a
seed derived from the file, the SNR and the copy number (:func:`row_rng`). That one mechanism
serves the noisy *training copies* (:func:`with_noisy_copies`), the test-time SNR sweep and
the ``leaky`` protocol. Clean log-mels come from :mod:`serwidgets.cache`.

Examples
--------
>>> from serwidgets import corpora, inputs
>>> df = corpora.load_corpus("emodb")                                # doctest: +SKIP
>>> specs = inputs.load_inputs(df.head(4).assign(snr_db=10.0))       # doctest: +SKIP
>>> len(specs), specs[0].shape[0]                                    # doctest: +SKIP
(4, 64)
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .audio import AudioOptions
from .features import FeatureConfig

__all__ = ["DEFAULT_NOISE", "row_rng", "load_inputs", "with_noisy_copies"]

#: Test-time / copy noise when a row names none.
DEFAULT_NOISE = "white"


def row_rng(path: str, snr_db: float, copy: int = 0) -> np.random.Generator:
    """The random generator of one noisy row: seeded by its file, SNR and copy number.

    So a noisy input is the same in every run and every process.

    Examples
    --------
    >>> a, b = row_rng("x.wav", 10.0), row_rng("x.wav", 10.0)
    >>> a.random() == b.random(), row_rng("x.wav", 10.0).random() == row_rng("x.wav", 20.0).random()
    (True, False)
    """
    return np.random.default_rng(zlib.crc32(f"{path}|{snr_db:g}|{copy}".encode()))


def load_inputs(df, kind="log_mel", feature_config=None, audio_options=None, cache_dir=None, report=True):
    """Model inputs of every row: log-mels ``(n_mels, frames)`` or waveforms ``(samples,)``.

    Clean log-mels come from the feature cache. Rows with a finite ``snr_db`` get noise of
    kind ``noise`` (default white) added to the prepared waveform before featurising.

    Parameters
    ----------
    df : pandas.DataFrame
        Corpus table; optional columns ``snr_db``, ``noise``, ``copy``.
    kind : {"log_mel", "waveform"}
    feature_config : FeatureConfig, optional
    audio_options : AudioOptions, optional
    cache_dir : str or path, optional
        Feature cache folder (default: :func:`serwidgets.cache.default_cache_dir`).
    report : bool
        Print the number of skipped files per cause to stderr (if any).

    Returns
    -------
    serwidgets.cache.Features
        A list with one float32 array per row, variable length, and ``None`` for each row
        whose file cannot be used (an :class:`~serwidgets.audio.AudioError`): such files
        are skipped, counted per cause on stderr and listed in ``.skipped`` (path -> error).

    Examples
    --------
    >>> specs = load_inputs(df.assign(snr_db=10.0))                 # doctest: +SKIP
    """
    from . import audio, augment, cache, features

    feature_config = feature_config or FeatureConfig()
    audio_options = audio_options or AudioOptions()
    snr = df["snr_db"].to_numpy(float) if "snr_db" in df else np.full(len(df), np.nan)
    noisy = np.isfinite(snr)
    out = cache.Features([None] * len(df))
    clean = np.flatnonzero(~noisy)
    paths = df["path"].astype(str).to_numpy()
    if kind == "log_mel" and clean.size:
        specs = cache.cached_features(paths[clean], feature_config, audio_options, cache_dir, progress=False,
                                      report=report)
        out.skipped.update(specs.skipped)
        for i, spec in zip(clean, specs):
            out[i] = spec
    noise = df["noise"].fillna(DEFAULT_NOISE).to_numpy() if "noise" in df else np.full(len(df), DEFAULT_NOISE)
    copy = df["copy"].fillna(0).to_numpy(int) if "copy" in df else np.zeros(len(df), int)
    loaded = {}
    for i in range(len(df)):
        if out[i] is not None or paths[i] in out.skipped:
            continue
        try:
            y = audio.load(paths[i], audio_options)
        except audio.AudioError as error:  # one unusable file must not stop the run
            out.skipped[paths[i]] = loaded[paths[i]] = error
            continue
        if noisy[i]:
            y = augment.add_noise(y, snr[i], noise[i], rng=row_rng(paths[i], snr[i], copy[i]))
        out[i] = features.log_mel(y, feature_config) if kind == "log_mel" else y
    if report:
        cache.report_skipped(loaded, len(df), "inputs")
    return out


def with_noisy_copies(df, n_copies, snr_db=(5.0, 20.0), seed=0, noise=DEFAULT_NOISE):
    """``df`` plus ``n_copies`` noisy copies of every row (``source`` = the original path).

    Only ever call this on a training side: a copy of a test clip in training is a leak,
    and :func:`serwidgets.splits.check_leakage` finds it through the ``source`` column.

    Examples
    --------
    >>> with_noisy_copies(train_df, 1)["snr_db"].notna().sum() == len(train_df)  # doctest: +SKIP
    True
    """
    if n_copies <= 0:
        return df
    rng = np.random.default_rng(seed)
    copies = [
        df.assign(
            source=df["path"], snr_db=rng.uniform(*snr_db, size=len(df)).round(1),
            noise=noise, copy=k + 1,
        )
        for k in range(n_copies)
    ]
    return pd.concat([df, *copies], ignore_index=True)
