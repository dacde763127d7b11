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
``language``
    ISO 639-1 code of the speech (:data:`LANGUAGES`), e.g. ``"de"``; None when unknown

Faults are never dropped silently. Files a loader cannot use are counted by cause in one
:class:`CorpusWarning` and listed in ``df.attrs["faults"]`` (cause -> names relative to the
root; causes in :data:`FAULT_CAUSES`: ``unparseable_name``, ``unknown_label``,
``empty_file``, ``missing_file`` (listed in the corpus's ``MANIFEST.sha256`` or label file
but absent), ``label_conflict``, and ``gender_conflict`` (kept, with the speaker's majority
gender)); ``df.attrs["skipped"]`` lists every file left out. :func:`check_readable` opens
every file's header (opt-in: it reads each file) and counts the unreadable ones by cause.
``ser corpus summary <name>`` shows both.

Corpora (registry name, language, clips, speakers, emotions):

=================  ====  =====  ========  ===============================================
name               lang  clips  speakers  emotions (canonical)
=================  ====  =====  ========  ===============================================
emodb              de    535    10        angry boredom disgust fear happy neutral sad
ravdess            en    1440   24        angry calm disgust fear happy neutral sad surprise
cremad             en    7442   91        angry disgust fear happy neutral sad
tess               en    2800   2         angry disgust fear happy neutral sad surprise
savee              en    480    4         angry disgust fear happy neutral sad surprise
iemocap            en    ~10k   10        angry excited frustrated happy neutral sad ...
ased               am    2470   65        angry fear happy neutral sad
emovo              it    588    6         angry disgust fear happy neutral sad surprise
urdu               ur    400    29        angry happy neutral sad (natural, not acted)
korean-emotiontts  ko    300    15        angry happy neutral sad
nemo               pl    2322   9         angry fear happy neutral sad surprise
=================  ====  =====  ========  ===============================================

Examples
--------
>>> import tempfile, warnings
>>> from pathlib import Path
>>> data = Path(tempfile.mkdtemp())
>>> for name in ["emodb/wav/03a01Fa.wav", "emodb/wav/16b10Tb.wav", "emodb/wav/notes.wav", "tess/OAF_back_angry.wav"]:
...     (data / name).parent.mkdir(parents=True, exist_ok=True)
...     _ = (data / name).write_bytes(b"x")    # only the names are read
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore", CorpusWarning)   # notes.wav: not an EmoDB name (counted, not dropped silently)
...     df = load_corpora(["emodb", "tess"], data)
>>> df[["corpus", "speaker", "emotion", "language"]].values.tolist()
[['emodb', 'emodb:03', 'happy', 'de'], ['emodb', 'emodb:16', 'sad', 'de'], ['tess', 'tess:OAF', 'angry', 'en']]
>>> df.attrs["faults"]["unparseable_name"], summary(df)["emotions"]
(['emodb/wav/notes.wav'], {'angry': 1, 'happy': 1, 'sad': 1})

The shared corpora:

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

from . import ased, cremad, emodb, emovo, folder, iemocap, korean_emotiontts, nemo, ravdess, savee, tess, urdu
from ._table import COLUMNS, FAULT_CAUSES, CorpusWarning

__all__ = ["CORPORA", "COLUMNS", "FAULT_CAUSES", "LANGUAGES", "UNREADABLE_CAUSES", "CorpusWarning", "corpus_root",
           "load_corpus", "load_corpora", "durations", "summary", "check_readable"]

#: Corpus name -> loader ``f(root: Path, **options) -> DataFrame``.
CORPORA: dict[str, Callable[..., pd.DataFrame]] = {
    "emodb": emodb.load,
    "ravdess": ravdess.load,
    "cremad": cremad.load,
    "tess": tess.load,
    "savee": savee.load,
    "iemocap": iemocap.load,
    "ased": ased.load,
    "emovo": emovo.load,
    "urdu": urdu.load,
    "korean-emotiontts": korean_emotiontts.load,
    "nemo": nemo.load,
    "folder": folder.load_folder,
    "csv": folder.load_csv,
}

#: Corpus name -> ISO 639-1 code of its speech (the ``language`` column).
LANGUAGES: dict[str, str] = {
    module.NAME: module.LANGUAGE
    for module in (emodb, ravdess, cremad, tess, savee, iemocap, ased, emovo, urdu, korean_emotiontts, nemo)
}


def corpus_root(name: str, root: str | os.PathLike | None = None, *,
                data_dir: str | os.PathLike | None = None) -> Path:
    """Where corpus ``name`` lives: ``root``, else ``data_dir/<name>``, else ``$SER_DATA/<name>``.

    Parameters
    ----------
    name : str
        A key of :data:`CORPORA`.
    root : str or path, optional
        The corpus's own folder (for ``csv``: the CSV file); wins over ``data_dir``.
    data_dir : str or path, optional
        The folder holding one subfolder per corpus. Default ``$SER_DATA``.

    Raises
    ------
    FileNotFoundError
        The folder (or, for ``csv``, the file) does not exist, or none of ``root``,
        ``data_dir`` and ``SER_DATA`` is given; the message says which.

    Examples
    --------
    >>> corpus_root("emodb", data_dir="/data")                  # doctest: +SKIP
    PosixPath('/data/emodb')
    """
    if root is None:
        if data_dir is None:
            data_dir = os.environ.get("SER_DATA") or None
            if data_dir is None:
                raise FileNotFoundError(f"no root or data_dir given for corpus {name!r} and SER_DATA is not set")
        root = Path(data_dir).expanduser() / name
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"corpus {name!r} not found at {root} (pass root=... or data_dir=..., or set SER_DATA)")
    return root


def load_corpus(name: str, root: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None,
                **options) -> pd.DataFrame:
    """Load corpus ``name`` (a key of :data:`CORPORA`) from its folder.

    Parameters
    ----------
    name : str
        A key of :data:`CORPORA`: ``"emodb"``, ``"ravdess"``, ``"cremad"``, ``"tess"``,
        ``"savee"``, ``"iemocap"``, ``"ased"``, ``"emovo"``, ``"urdu"``,
        ``"korean-emotiontts"``, ``"nemo"``, ``"folder"`` or ``"csv"``.
    root : str or path, optional
        The corpus's own folder (for ``csv``: the CSV file). Default ``data_dir/<name>``.
    data_dir : str or path, optional
        The folder holding one subfolder per corpus. Default ``$SER_DATA``.
    **options
        Passed to the corpus's loader, e.g. ``include_song=True`` for RAVDESS.

    Returns
    -------
    pandas.DataFrame
        One row per recording, sorted by path; see the module docstring for the columns.
        ``attrs``: ``corpus``, ``root``, ``skipped`` (files left out), ``faults`` (cause ->
        file names, see :data:`FAULT_CAUSES`).

    See Also
    --------
    load_corpora : several corpora of one data folder in one table.
    corpus_root : where a corpus is looked for.

    Examples
    --------
    >>> df = load_corpus("emodb", data_dir="data")                         # doctest: +SKIP
    >>> df = load_corpus("ravdess", "data/ravdess", include_song=True)   # doctest: +SKIP
    """
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")
    root = corpus_root(name, root, data_dir=data_dir)
    df = CORPORA[name](root, **options)
    if df.empty:
        warnings.warn(f"{name}: no recordings found under {root}", CorpusWarning, stacklevel=2)
    return df


def load_corpora(names_or_specs: Iterable, data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Several corpora in one table (rows in the order given).

    Parameters
    ----------
    names_or_specs : iterable of str or dict
        Corpus names, or dicts ``{"name": ..., "root": ..., **options}`` (``root``: that
        corpus's own folder).
    data_dir : str or path, optional
        The folder holding one subfolder per corpus (default ``$SER_DATA``); a spec's own
        ``root`` wins.

    Returns
    -------
    pandas.DataFrame
        The concatenated tables; ``attrs["skipped"]`` lists ``"<corpus>/<name>"`` for every
        skipped file, ``attrs["faults"]`` maps each cause to such names, ``attrs["corpora"]``
        the corpus names.

    See Also
    --------
    load_corpus : one corpus.

    Examples
    --------
    >>> df = load_corpora(["emodb", {"name": "ravdess", "include_song": True}])   # doctest: +SKIP
    """
    tables = []
    for spec in names_or_specs:
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        name = spec.pop("name")
        tables.append(load_corpus(name, spec.pop("root", None), data_dir=data_dir, **spec))
    if not tables:
        raise ValueError("load_corpora needs at least one corpus")
    df = pd.concat(tables, ignore_index=True)
    df.attrs = {
        "corpora": [t.attrs["corpus"] for t in tables],
        "skipped": [f"{t.attrs['corpus']}/{s}" for t in tables for s in t.attrs["skipped"]],
        "faults": {
            cause: [f"{t.attrs['corpus']}/{s}" for t in tables for s in t.attrs.get("faults", {}).get(cause, [])]
            for cause in FAULT_CAUSES
        },
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
        ``languages`` (code or "unknown" -> files), ``skipped`` (count), ``faults`` (cause ->
        count, every cause of :data:`FAULT_CAUSES`) and, after
        :func:`serwidgets.labels.select_task`, ``task`` and ``dropped``.

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
        "languages": {
            str(k): int(v)
            for k, v in (df["language"].fillna("unknown") if "language" in df else pd.Series("unknown", index=df.index))
            .value_counts().sort_index().items()
        },
        "skipped": len(df.attrs.get("skipped", [])),
        "faults": {cause: len(df.attrs.get("faults", {}).get(cause, [])) for cause in FAULT_CAUSES},
    }
    if "labels" in df.attrs:
        out["task"] = df.attrs.get("task") or list(df.attrs["labels"])
        out["dropped"] = dict(df.attrs.get("dropped", {}))
    return out


#: Causes of :func:`check_readable`.
UNREADABLE_CAUSES = ("missing_file", "empty_file", "not_audio", "corrupt_header", "no_audio_stream", "no_frames")

# First bytes of the containers the corpora and serwidgets.audio use.
_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\x1aE\xdf\xa3", b"FORM")


def _header_fault(path: str) -> str | None:
    """Why the file at ``path`` has no readable audio header, or None if it has one."""
    import soundfile

    file = Path(path)
    if not file.is_file():
        return "missing_file"
    if file.stat().st_size == 0:
        return "empty_file"
    try:
        info = soundfile.info(path)
        return None if info.frames > 0 and info.samplerate > 0 else "no_frames"
    except Exception:  # noqa: BLE001 - libsndfile refuses many formats; PyAV decides
        pass
    try:
        import av

        with av.open(path) as container:
            if not container.streams.audio:
                return "no_audio_stream"
            stream = container.streams.audio[0]
            if not stream.rate:
                return "corrupt_header"
            if (stream.frames or 0) == 0 and not (stream.duration or container.duration):
                return "no_frames"
            return None
    except Exception:  # noqa: BLE001 - any failure to open is a fault to count, not to raise
        with open(path, "rb") as handle:
            head = handle.read(12)
        known = head.startswith(_MAGIC) or head[4:8] == b"ftyp"
        return "corrupt_header" if known else "not_audio"


def check_readable(df: pd.DataFrame, progress: bool = True) -> dict[str, list[str]]:
    """Open every file's header (libsndfile, else PyAV) and list the unreadable ones by cause.

    Opt-in (it touches every file, a few seconds per thousand): the loaders read names only.
    Only headers are read, so a file whose audio data is damaged past its header can still
    fail to decode later (feature extraction skips and reports those).

    Parameters
    ----------
    df : pandas.DataFrame
        A corpus table (``path`` column).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        Cause -> paths (as in ``df["path"]``), for every cause of :data:`UNREADABLE_CAUSES`:
        ``missing_file``, ``empty_file`` (0 bytes), ``not_audio`` (no known audio header),
        ``corrupt_header`` (an audio header neither libsndfile nor PyAV can open),
        ``no_audio_stream`` (a container without audio), ``no_frames`` (zero-length audio).

    Examples
    --------
    >>> bad = check_readable(load_corpus("ased"))                  # doctest: +SKIP
    >>> {cause: len(paths) for cause, paths in bad.items()}        # doctest: +SKIP
    {'missing_file': 0, 'empty_file': 0, 'not_audio': 0, ...}
    """
    from tqdm.auto import tqdm

    out = {cause: [] for cause in UNREADABLE_CAUSES}
    paths = tqdm(df["path"], desc="headers", unit=" files", disable=None if progress else True, leave=False)
    for path in paths:
        cause = _header_fault(str(path))
        if cause is not None:
            out[cause].append(str(path))
    return out
