"""nEMO, emotional speech in Polish (Christop, 2024), a balanced part.

9 actors, 6 emotions; the shared copy keeps at most 45 clips per speaker and emotion (2322
of the corpus's 4481). Files are ``samples/{speaker}_{emotion}_{n}.opus`` (Ogg Opus), e.g.
``samples/EB0_anger_1.opus``; emotions anger, fear, happiness, neutral, sadness, surprised.
``data.tsv`` (columns file_id, emotion, raw_text, normalized_text, speaker_id, gender, age;
file_id still ends in ``.wav``) gives the text, gender and age. Clips the TSV lists but that
are absent are reported as ``missing_file``; a TSV row whose speaker or emotion disagrees with
the file name makes that file a ``label_conflict`` (left out). A clip missing from the TSV is
kept, with its speaker's gender from the speaker's other rows.

Examples
--------
The shared copy (``$SER_DATA/nemo``; only the file names are read):

>>> from serwidgets.corpora import corpus_root
>>> df = load(corpus_root("nemo"))
>>> len(df), df["speaker"].nunique(), sorted(df["emotion"].unique())
(2322, 9, ['angry', 'fear', 'happy', 'neutral', 'sad', 'surprise'])
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import OPUS_AUDIO, audio_files, make_table, relative

NAME = "nemo"
LANGUAGE = "pl"

_PATTERN = re.compile(r"^(?P<speaker>[A-Z]{2}\d)_(?P<emotion>[a-z]+)_(?P<number>\d+)$")
_SEX = {"female": "f", "male": "m", "f": "f", "m": "m"}


def _metadata(root: Path) -> pd.DataFrame | None:
    tsv = next(iter(sorted(root.rglob("data.tsv"))), None)
    if tsv is None:
        return None
    table = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    table = table.apply(lambda column: column.str.strip())
    table["stem"] = table["file_id"].str.replace(r"\.[A-Za-z0-9]+$", "", regex=True)
    table.attrs["folder"] = tsv.parent
    return table.drop_duplicates("stem").set_index("stem")


def load(root: Path) -> pd.DataFrame:
    """The nEMO table: one row per clip under ``root`` (searched recursively).

    Extra columns: ``age`` (int or None) and ``text`` (the sentence as written); ``utterance``
    is the normalised text from ``data.tsv`` (else the clip's name).
    """
    emotions = NATIVE_LABELS[NAME]
    meta = _metadata(root)
    genders = {}
    if meta is not None:
        for speaker, sex in zip(meta["speaker_id"], meta["gender"]):
            genders.setdefault(speaker, _SEX.get(sex.lower()))
    records = meta.to_dict("index") if meta is not None else {}
    rows, seen = [], set()
    faults = {"unparseable_name": [], "unknown_label": [], "label_conflict": [], "missing_file": []}
    for path in audio_files(root, OPUS_AUDIO):
        name = relative(path, root)
        seen.add(path.stem)
        match = _PATTERN.match(path.stem)
        if match is None:
            faults["unparseable_name"].append(name)
            continue
        if match["emotion"] not in emotions:
            faults["unknown_label"].append(name)
            continue
        info = records.get(path.stem)
        if info is not None and (info["speaker_id"] != match["speaker"] or info["emotion"] != match["emotion"]):
            faults["label_conflict"].append(name)
            continue
        age = info["age"] if info is not None else ""
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['speaker']}",
            "gender": (_SEX.get(info["gender"].lower()) if info is not None else None)
            or genders.get(match["speaker"]),
            "emotion": emotions[match["emotion"]],
            "native_label": match["emotion"],
            "utterance": (info["normalized_text"] if info is not None else "") or path.stem,
            "age": int(age) if age.isdigit() else None,
            "text": info["raw_text"] if info is not None else None,
        })
    if meta is not None:
        folder = meta.attrs["folder"]
        for stem in meta.index:
            if stem not in seen:
                listed = folder / "samples" / f"{stem}.opus"
                faults["missing_file"].append(relative(listed, root))
    skipped = sorted(n for cause in ("unparseable_name", "unknown_label", "label_conflict") for n in faults[cause])
    df = make_table(rows, NAME, root, skipped, extra=("age", "text"), language=LANGUAGE, faults=faults,
                    reason="(unparseable names, unknown or conflicting labels)")
    df["age"] = df["age"].astype("Int64")
    return df
