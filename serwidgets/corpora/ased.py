"""ASED, the Amharic Speech Emotion Dataset v1 (Retta et al., 2023).

2470 Amharic clips of 65 speakers in 5 emotions (neutral, fear, happy, sad, angry). Files are
``{NN}{Emotion}/{e}{N}-{sentence}-{repetition}-{gender}-{speaker}.opus`` (the shared copy is
Ogg Opus; the original is WAV), e.g. ``02Fearful/f2-06-02-02-63.opus``: fearful, sentence 06,
second repetition, male, speaker 63. The folder (``01Neutral`` ... ``05Angry``) and the first
field (``n1``, ``f2``, ``h3``, ``s4``, ``a5``; one file writes ``S4``, accepted) both give the
emotion; a file where they disagree is reported as ``label_conflict`` and left out. Gender
codes: ``01`` female, ``02`` male. Five speakers (09, 15, 21, 23, 25) have one file whose
gender code disagrees with all their other files: they keep their majority gender and those
files are reported as ``gender_conflict``.

Examples
--------
The shared copy (``$SER_DATA/ased``; only the file names are read):

>>> from serwidgets.corpora import corpus_root
>>> df = load(corpus_root("ased"))
>>> len(df), df["speaker"].nunique(), df.attrs["faults"]["gender_conflict"][:1]
(2470, 65, ['02Fearful/f2-01-01-02-15.opus'])
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import OPUS_AUDIO, audio_files, majority_gender, make_table, relative

NAME = "ased"
LANGUAGE = "am"

#: Folder -> the emotion code its files start with.
FOLDERS = {"01Neutral": "n1", "02Fearful": "f2", "03Happy": "h3", "04Sad": "s4", "05Angry": "a5"}
GENDERS = {"01": "f", "02": "m"}

_PATTERN = re.compile(
    r"^(?P<code>[a-zA-Z]\d)-(?P<sentence>\d\d)-(?P<repetition>\d\d)-(?P<gender>\d\d)-(?P<speaker>\d\d)$"
)


def load(root: Path) -> pd.DataFrame:
    """The ASED table: one row per clip under ``root`` (searched recursively).

    Extra column: ``repetition`` (1 or 2). ``utterance`` is the sentence number (01-07).
    """
    emotions = NATIVE_LABELS[NAME]
    rows, faults = [], {"unparseable_name": [], "unknown_label": [], "label_conflict": []}
    for path in audio_files(root, OPUS_AUDIO):
        name = relative(path, root)
        match = _PATTERN.match(path.stem)
        if match is None or match["gender"] not in GENDERS:
            faults["unparseable_name"].append(name)
            continue
        code = match["code"].lower()
        folder = path.parent.name
        if code not in emotions or (folder.startswith("0") and folder not in FOLDERS):
            faults["unknown_label"].append(name)
            continue
        if folder in FOLDERS and FOLDERS[folder] != code:
            faults["label_conflict"].append(name)
            continue
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['speaker']}",
            "gender": GENDERS[match["gender"]],
            "emotion": emotions[code],
            "native_label": match["code"],
            "utterance": match["sentence"],
            "repetition": int(match["repetition"]),
        })
    faults["gender_conflict"] = majority_gender(rows, root)
    skipped = sorted(n for cause in ("unparseable_name", "unknown_label", "label_conflict") for n in faults[cause])
    return make_table(rows, NAME, root, skipped, extra=("repetition",), language=LANGUAGE, faults=faults,
                      reason="(unparseable names, unknown or conflicting labels)")
