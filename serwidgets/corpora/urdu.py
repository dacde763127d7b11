"""URDU, natural Urdu emotional speech cut from TV talk shows (Latif et al., 2018).

400 clips (1-3 s) in 4 emotions, 100 each; not acted. Files are
``{Emotion}/S{G}{n}_F{k}_{E}{nn}.opus`` (the shared copy is Ogg Opus), e.g.
``Angry/SM5_F3_A033.opus``: folder Angry, speaker ``SM5`` (S + gender M/F + number), the
speaker's file 3, emotion letter A. The folder (Angry, Happy, Neutral, Sad) and the letter
(A, H, N, S) both give the emotion; a file where they disagree is ``label_conflict``. The
names hold 29 speaker ids (the paper says 38), very unequal (2-80 clips). Every clip is a
different piece of talk, so ``utterance`` is the clip's own name.

Examples
--------
The shared copy (``$SER_DATA/urdu``; only the file names are read):

>>> from serwidgets.corpora import corpus_root
>>> df = load(corpus_root("urdu"))
>>> len(df), df["speaker"].nunique(), df.groupby("emotion").size().unique().tolist()
(400, 29, [100])
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import OPUS_AUDIO, audio_files, make_table, relative

NAME = "urdu"
LANGUAGE = "ur"

#: Folder -> emotion letter of its files.
FOLDERS = {"Angry": "A", "Happy": "H", "Neutral": "N", "Sad": "S"}

_PATTERN = re.compile(r"^(?P<speaker>S(?P<gender>[MF])\d+)_F(?P<file>\d+)_(?P<letter>[A-Z])(?P<number>\d+)$")


def load(root: Path) -> pd.DataFrame:
    """The URDU table: one row per clip under ``root`` (searched recursively)."""
    emotions = NATIVE_LABELS[NAME]
    rows, faults = [], {"unparseable_name": [], "unknown_label": [], "label_conflict": []}
    for path in audio_files(root, OPUS_AUDIO):
        name = relative(path, root)
        match = _PATTERN.match(path.stem)
        if match is None:
            faults["unparseable_name"].append(name)
            continue
        letter, folder = match["letter"], path.parent.name
        if letter not in emotions:
            faults["unknown_label"].append(name)
            continue
        if folder in FOLDERS and FOLDERS[folder] != letter:
            faults["label_conflict"].append(name)
            continue
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['speaker']}",
            "gender": match["gender"].lower(),
            "emotion": emotions[letter],
            "native_label": letter,
            "utterance": path.stem,
        })
    skipped = sorted(n for names in faults.values() for n in names)
    return make_table(rows, NAME, root, skipped, language=LANGUAGE, faults=faults,
                      reason="(unparseable names, unknown or conflicting labels)")
