"""On-disk cache of log-mel spectrograms, so a corpus is decoded and featurised once.

An entry is keyed by the SHA-256 of the audio file's bytes (renaming or moving a corpus
keeps its cache; editing a file invalidates it) and by a hash of the feature
configuration and audio options (changing either starts a fresh folder)::

    <cache_dir>/<config hash>/config.json      the configs, for humans
    <cache_dir>/<config hash>/ab/abcdef....npy  one spectrogram per audio file

Writes go to a temporary file that is then renamed, so concurrent processes (parallel
notebooks, test workers) never read a half-written entry.

A file that cannot be used (any :class:`serwidgets.audio.AudioError`: empty, corrupt, no
speech, ...) does not stop a corpus scan: its entry is ``None``, the returned
:class:`Features` list records why in ``skipped``, and the counts per cause are printed.

Examples
--------
>>> from serwidgets import cache, corpora
>>> df = corpora.load_corpus("emodb")                                  # doctest: +SKIP
>>> specs = cache.cached_features(df, FeatureConfig(), AudioOptions())   # doctest: +SKIP
>>> specs[0].shape                                                     # doctest: +SKIP
(64, 147)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Bump when the meaning of a cached spectrogram changes without any config field changing.
#: 2: audio.prepare removes DC and checks for speech.
CACHE_VERSION = 2

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$SER_CACHE`` if set, else ``~/.cache/serwidgets``."""
    env = os.environ.get("SER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "serwidgets"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def config_key(feature_config, audio_options, compute: Callable | None = None) -> tuple[str, dict]:
    """Hash (16 hex chars) and JSON-able description of everything besides the audio that shapes an entry."""
    description = {
        "cache_version": CACHE_VERSION,
        "feature_config": _as_dict(feature_config),
        "audio_options": _as_dict(audio_options),
    }
    if compute is not None:
        # A custom function computes something else: keep its entries apart.
        name = getattr(compute, "__qualname__", type(compute).__qualname__)  # functions, or callable objects
        description["compute"] = f"{compute.__module__}.{name}"
    text = json.dumps(description, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], description


class Features(list):
    """One entry per input file, in input order, ``None`` where a file was skipped.

    Attributes
    ----------
    skipped : dict
        Path -> the :class:`serwidgets.audio.AudioError` that made the file unusable.

    Examples
    --------
    >>> from serwidgets.audio import EmptyAudioError
    >>> out = Features([None], skipped={"a.wav": EmptyAudioError("a.wav: no audio data")})
    >>> out.skipped_counts()
    {'EmptyAudioError': 1}
    """

    def __init__(self, items=(), skipped=None):
        super().__init__(items)
        self.skipped = dict(skipped or {})

    def skipped_counts(self) -> dict:
        """Skipped files per cause (the error's class name), sorted by cause."""
        return count_causes(self.skipped)


def count_causes(skipped: dict) -> dict:
    """``{error class name: number of files}`` of a ``path -> error`` mapping.

    Examples
    --------
    >>> count_causes({"a": ValueError(), "b": KeyError(), "c": ValueError()})
    {'KeyError': 1, 'ValueError': 2}
    """
    counts = {}
    for error in skipped.values():
        cause = error if isinstance(error, str) else type(error).__name__
        counts[cause] = counts.get(cause, 0) + 1
    return dict(sorted(counts.items()))


def report_skipped(skipped: dict, total: int, what: str = "features", file=None) -> None:
    """Print one line: how many of ``total`` files were skipped, per cause (nothing if none).

    Examples
    --------
    >>> import sys
    >>> report_skipped({"x.wav": ValueError("x.wav: broken")}, 3, file=sys.stdout)
    features: skipped 1 of 3 files that cannot be used (ValueError: 1); first: x.wav: broken
    """
    import sys

    if not skipped:
        return
    causes = ", ".join(f"{cause}: {n}" for cause, n in count_causes(skipped).items())
    first = next(iter(skipped.values()))
    print(f"{what}: skipped {len(skipped)} of {total} files that cannot be used ({causes}); first: {first}",
          file=file or sys.stderr)


def log_mel_of_file(path, feature_config, audio_options) -> np.ndarray:
    """The spectrogram the cache stores: ``features.log_mel(audio.load(path, audio_options), feature_config)``."""
    from . import audio, features

    return features.log_mel(audio.load(path, audio_options), feature_config)


def cached_features(
    df_or_paths,
    feature_config=None,
    audio_options=None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    compute: Callable | None = None,
    report: bool = True,
) -> Features:
    """Log-mel spectrogram of every file, computed once and then read from disk.

    Parameters
    ----------
    df_or_paths : pandas.DataFrame or sequence of paths
        A corpus table (its ``path`` column is used) or the audio paths themselves.
    feature_config : serwidgets.features.FeatureConfig, optional
        Default ``FeatureConfig()``.
    audio_options : serwidgets.audio.AudioOptions, optional
        Default ``AudioOptions()``.
    cache_dir : str or path, optional
        Default :func:`default_cache_dir` (``$SER_CACHE`` or ``~/.cache/serwidgets``).
    progress : bool
        Show a tqdm progress bar (only when attached to a terminal or notebook).
    compute : callable, optional
        ``compute(path, feature_config, audio_options) -> ndarray`` instead of
        :func:`log_mel_of_file`; its entries are kept apart from the default ones.
    report : bool
        Print the number of skipped files per cause to stderr (if any).

    Returns
    -------
    Features
        A list with one array per input file, in input order (float32 ``(n_mels, frames)``
        by default), and ``None`` for each file that raised an
        :class:`~serwidgets.audio.AudioError`; ``.skipped`` maps those paths to their errors
        (counts per cause are printed to stderr).

    Raises
    ------
    Exception
        Anything but an ``AudioError`` (a missing file, a bug in ``compute``); it carries a
        note naming the file.

    Examples
    --------
    >>> specs = cached_features(["a.wav", "b.wav"], FeatureConfig(), AudioOptions())  # doctest: +SKIP
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    if feature_config is None or audio_options is None:
        from .audio import AudioOptions
        from .features import FeatureConfig

        feature_config = FeatureConfig() if feature_config is None else feature_config
        audio_options = AudioOptions() if audio_options is None else audio_options
    paths = list(df_or_paths["path"]) if hasattr(df_or_paths, "columns") else [str(p) for p in df_or_paths]
    key, description = config_key(feature_config, audio_options, compute)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = folder / key
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "config.json").exists():
        _atomic_write(folder / "config.json", json.dumps(description, indent=2, sort_keys=True).encode())
    compute = compute or log_mel_of_file
    from .audio import AudioError

    out = Features()
    # One BLAS thread: several helpers share the CPUs, and OpenBLAS threads collide with TF's.
    with threadpool_limits(limits=1, user_api="blas"):
        for path in tqdm(paths, desc="features", unit=" files", disable=None if progress else True, leave=False):
            entry = folder / (digest := file_sha256(path))[:2] / f"{digest}.npy"
            spec = _read(entry)
            if spec is None:
                try:
                    spec = np.asarray(compute(path, feature_config, audio_options))
                except AudioError as error:
                    # One unusable file must not stop a corpus scan: skip it, say why.
                    out.skipped[path] = error
                    out.append(None)
                    continue
                except Exception as error:
                    error.add_note(f"while computing features for {path}")
                    raise
                entry.parent.mkdir(exist_ok=True)
                _atomic_write(entry, _npy_bytes(spec))
            out.append(spec)
    if report:
        report_skipped(out.skipped, len(paths))
    return out


def _as_dict(config) -> dict:
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def _read(entry: Path) -> np.ndarray | None:
    try:
        return np.load(entry, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        # Missing, or damaged (e.g. disk full at write time): recompute and overwrite.
        return None


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
