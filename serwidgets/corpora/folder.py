"""Your own recordings: a folder per emotion, or a CSV file listing them.

``folder``: ``root/<emotion>/<file>`` (any depth below the emotion folder). Folder names
are mapped to canonical emotions by :func:`serwidgets.labels.canonical_emotion` ("Anger" ->
angry). The speaker comes from ``speaker_pattern``, a regular expression searched in the
file name (its ``speaker`` group, else its first group), or is ``"unknown"``.

``csv``: a CSV file with columns ``path``, ``emotion``, ``speaker`` and optionally
``gender`` and ``language``; relative paths are relative to the CSV file. Other columns are
kept. Both take ``language`` (ISO 639-1 code, e.g. ``"en"``) for the ``language`` column.

Speakers are prefixed with the corpus name (``"folder:anna"``) so they stay unique when
corpora are combined; pass ``corpus`` to tell two custom corpora apart.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())   # a made-up copy: only the names are read
>>> for path in (root / name for name in ["Anger/anna_1.wav", "sadness/bob_7.webm"]):
...     _ = path.parent.mkdir(parents=True, exist_ok=True) or path.write_bytes(b"x")
>>> load_folder(root, speaker_pattern=r"^(\\w+?)_", language="en")[["speaker", "emotion", "language"]].values.tolist()
[['folder:anna', 'angry', 'en'], ['folder:bob', 'sad', 'en']]
>>> _ = (root / "labels.csv").write_text("path,emotion,speaker,take\\nAnger/anna_1.wav,angry,anna,2\\n")
>>> load_csv(root / "labels.csv", corpus="mine")[["speaker", "emotion", "take"]].values.tolist()
[['mine:anna', 'angry', '2']]

Through the registry:

>>> from serwidgets.corpora import load_corpus
>>> df = load_corpus("folder", "my_recordings", speaker_pattern=r"^(\\w+?)_")   # doctest: +SKIP
>>> df = load_corpus("csv", "my_recordings/labels.csv")                         # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import canonical_emotion
from ._table import ANY_AUDIO, audio_files, make_table, relative

_GENDERS = {"m": "m", "male": "m", "man": "m", "f": "f", "female": "f", "woman": "f"}


def load_folder(root: Path, speaker_pattern: str | None = None, corpus: str = "folder",
                language: str | None = None) -> pd.DataFrame:
    """The table of ``root/<emotion>/...`` audio files.

    Parameters
    ----------
    root : Path
        Folder with one subfolder per emotion.
    speaker_pattern : str, optional
        Regular expression searched in the file name (stem); its ``speaker`` group (or
        first group, or whole match) is the speaker. Files it does not match are skipped.
    corpus : str
        Corpus name, used in the ``corpus`` column and as the speaker prefix.
    language : str, optional
        ISO 639-1 code of the recordings (the ``language`` column; None if not given).
    """
    pattern = re.compile(speaker_pattern) if speaker_pattern else None
    rows, skipped = [], []
    for path in audio_files(root, ANY_AUDIO):
        parts = path.relative_to(root).parts
        match = pattern.search(path.stem) if pattern else None
        if len(parts) < 2 or (pattern is not None and match is None):
            skipped.append(relative(path, root))
            continue
        if match is None:
            speaker = "unknown"
        elif "speaker" in pattern.groupindex:
            speaker = match["speaker"]
        else:
            speaker = match[1] if pattern.groups else match[0]
        rows.append({
            "path": str(path.resolve()),
            "corpus": corpus,
            "speaker": f"{corpus}:{speaker}",
            "gender": None,
            "emotion": canonical_emotion(parts[0]),
            "native_label": parts[0],
            "utterance": path.stem,
        })
    return make_table(rows, corpus, root, skipped, reason="(outside an emotion folder, or no speaker_pattern match)",
                      language=language)


def load_csv(root: Path, corpus: str = "csv", language: str | None = None) -> pd.DataFrame:
    """The table listed by a CSV file with columns ``path``, ``emotion``, ``speaker`` [, ``gender``].

    Parameters
    ----------
    root : Path
        The CSV file, or a folder holding exactly one ``*.csv``.
    corpus : str
        Corpus name, used in the ``corpus`` column and as the speaker prefix.
    language : str, optional
        ISO 639-1 code for rows without a ``language`` value of their own.

    Rows whose audio file does not exist are skipped (and reported as ``missing_file``).
    """
    csv_path = root
    if root.is_dir():
        candidates = sorted(root.glob("*.csv"))
        if len(candidates) != 1:
            raise FileNotFoundError(f"{corpus}: expected one CSV file in {root}, found {len(candidates)}")
        csv_path = candidates[0]
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = {"path", "emotion", "speaker"} - set(table.columns)
    if missing:
        raise ValueError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
    extra = [c for c in table.columns if c not in ("path", "emotion", "speaker", "gender", "language")]
    base = csv_path.parent
    rows, skipped = [], []
    for record in table.to_dict("records"):
        path = Path(record["path"])
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            skipped.append(record["path"])
            continue
        gender = _GENDERS.get(str(record.get("gender", "")).strip().lower())
        rows.append({
            **{c: record[c] for c in extra},
            "path": str(path.resolve()),
            "corpus": corpus,
            "speaker": f"{corpus}:{record['speaker']}",
            "gender": gender,
            "emotion": canonical_emotion(record["emotion"]),
            "native_label": record["emotion"],
            "utterance": record.get("utterance") or path.stem,
            "language": record.get("language") or language,
        })
    return make_table(rows, corpus, csv_path, skipped, extra=extra, reason="(listed audio files that do not exist)",
                      language=language, faults={"missing_file": list(skipped)})
