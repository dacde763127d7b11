"""Speech emotion corpora as tables: one row per recording.

Each loader reads a corpus in place from its official file naming and returns a
:class:`pandas.DataFrame` with at least these columns:

``path``
    absolute path of the audio file (str)
``corpus``
    corpus name, e.g. ``"emodb"``
``speaker``
    globally unique speaker id, ``"<corpus>:<id>"``, e.g. ``"emodb:03"``
``gender``
    ``"m"``, ``"f"`` or None when the corpus does not say
``emotion``
    canonical emotion (:data:`serwidgets.labels.EMOTIONS`)
``native_label``
    the label as the corpus writes it (e.g. EmoDB ``"W"``)
``utterance``
    the text or utterance id (same sentence -> same value within a corpus)

Audio files whose names do not follow the corpus naming are not dropped silently: they
are counted in a :class:`CorpusWarning` and listed in ``df.attrs["skipped"]``.

Examples
--------
>>> from serwidgets import corpora, labels
>>> df = corpora.load_corpus("emodb")                        # doctest: +SKIP
>>> df.groupby("emotion").size()["angry"]                    # doctest: +SKIP
127
>>> both = corpora.load_corpora(["emodb", "ravdess"])         # doctest: +SKIP
>>> labels.select_task(both, "emotion6")["emotion"].nunique()  # doctest: +SKIP
6
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from . import cremad, emodb, folder, iemocap, ravdess, savee, tess
from ._table import COLUMNS, CorpusWarning

__all__ = ["CORPORA", "COLUMNS", "CorpusWarning", "corpus_root", "load_corpus", "load_corpora", "durations", "summary"]

#: Corpus name -> loader ``f(root: Path, **options) -> DataFrame``.
CORPORA: dict[str, Callable[..., pd.DataFrame]] = {
    "emodb": emodb.load,
    "ravdess": ravdess.load,
    "cremad": cremad.load,
    "tess": tess.load,
    "savee": savee.load,
    "iemocap": iemocap.load,
    "folder": folder.load_folder,
    "csv": folder.load_csv,
}


def corpus_root(name: str, root: str | os.PathLike | None = None) -> Path:
    """Where corpus ``name`` lives: ``root`` if given, else ``$SER_DATA/<name>``.

    Raises
    ------
    FileNotFoundError
        The folder (or, for ``csv``, the file) does not exist, or neither ``root`` nor
        ``SER_DATA`` is set; the message says which.
    """
    if root is None:
        data = os.environ.get("SER_DATA")
        if not data:
            raise FileNotFoundError(f"no root given for corpus {name!r} and SER_DATA is not set")
        root = Path(data) / name
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"corpus {name!r} not found at {root} (pass root=... or set SER_DATA)")
    return root


def load_corpus(name: str, root: str | os.PathLike | None = None, **options) -> pd.DataFrame:
    """Load corpus ``name`` (a key of :data:`CORPORA`) from ``root``.

    Parameters
    ----------
    name : str
        ``"emodb"``, ``"ravdess"``, ``"cremad"``, ``"tess"``, ``"savee"``, ``"iemocap"``,
        ``"folder"`` or ``"csv"``.
    root : str or path, optional
        The corpus folder (for ``csv``: the CSV file). Default ``$SER_DATA/<name>``.
    **options
        Passed to the corpus's loader, e.g. ``include_song=True`` for RAVDESS.

    Returns
    -------
    pandas.DataFrame
        One row per recording, sorted by path; see the module docstring for the columns.
        ``attrs``: ``corpus``, ``root``, ``skipped`` (unparseable file names).

    Examples
    --------
    >>> df = load_corpus("ravdess", "data/ravdess", include_song=True)   # doctest: +SKIP
    """
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")
    root = corpus_root(name, root)
    df = CORPORA[name](root, **options)
    if df.empty:
        warnings.warn(f"{name}: no recordings found under {root}", CorpusWarning, stacklevel=2)
    return df


def load_corpora(names_or_specs: Iterable, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Several corpora in one table (rows in the order given).

    Parameters
    ----------
    names_or_specs : iterable of str or dict
        Corpus names, or dicts ``{"name": ..., "root": ..., **options}``.
    root : str or path, optional
        Data folder holding one subfolder per corpus (default ``$SER_DATA``); a spec's own
        ``root`` wins.

    Returns
    -------
    pandas.DataFrame
        The concatenated tables; ``attrs["skipped"]`` lists ``"<corpus>/<name>"`` for every
        skipped file, ``attrs["corpora"]`` the corpus names.

    Examples
    --------
    >>> df = load_corpora(["emodb", {"name": "ravdess", "include_song": True}])   # doctest: +SKIP
    """
    tables = []
    for spec in names_or_specs:
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        name = spec.pop("name")
        corpus_dir = spec.pop("root", None)
        if corpus_dir is None and root is not None:
            corpus_dir = Path(root) / name
        tables.append(load_corpus(name, corpus_dir, **spec))
    if not tables:
        raise ValueError("load_corpora needs at least one corpus")
    df = pd.concat(tables, ignore_index=True)
    df.attrs = {
        "corpora": [t.attrs["corpus"] for t in tables],
        "skipped": [f"{t.attrs['corpus']}/{s}" for t in tables for s in t.attrs["skipped"]],
    }
    return df


def durations(df: pd.DataFrame) -> pd.Series:
    """Duration in seconds of each recording, read from file headers (no decoding).

    Examples
    --------
    >>> df["duration"] = durations(df)   # doctest: +SKIP
    """
    import soundfile
    from tqdm.auto import tqdm

    seconds = []
    for path in tqdm(df["path"], desc="durations", unit=" files", disable=None, leave=False):
        info = soundfile.info(path)
        seconds.append(info.frames / info.samplerate)
    return pd.Series(seconds, index=df.index, name="duration", dtype=float)


def summary(df: pd.DataFrame) -> dict:
    """Counts per emotion, speaker and gender of a corpus table, as plain Python types.

    Returns
    -------
    dict
        ``files``, ``emotions`` (emotion -> files), ``speakers`` (speaker ->
        ``{"gender", "files"}``), ``genders`` (gender or "unknown" -> speakers and files),
        ``skipped`` (count) and, after :func:`serwidgets.labels.select_task`, ``task`` and
        ``dropped``.

    Examples
    --------
    >>> summary(df)["emotions"]["angry"]   # doctest: +SKIP
    127
    """
    speakers = {}
    for speaker, group in df.groupby("speaker", sort=True):
        gender = group["gender"].dropna()
        speakers[str(speaker)] = {"gender": gender.iloc[0] if len(gender) else None, "files": len(group)}
    genders = {}
    for info in speakers.values():
        entry = genders.setdefault(info["gender"] or "unknown", {"speakers": 0, "files": 0})
        entry["speakers"] += 1
        entry["files"] += info["files"]
    out = {
        "files": len(df),
        "emotions": {str(k): int(v) for k, v in df.groupby("emotion").size().items()},
        "speakers": speakers,
        "genders": dict(sorted(genders.items())),
        "skipped": len(df.attrs.get("skipped", [])),
    }
    if "labels" in df.attrs:
        out["task"] = df.attrs.get("task") or list(df.attrs["labels"])
        out["dropped"] = dict(df.attrs.get("dropped", {}))
    return out
