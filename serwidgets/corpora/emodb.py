"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al., 2005).

535 German utterances, 10 actors (5 male, 5 female), 7 emotions, 16 kHz mono WAV. File names
are ``SSTTTEV.wav``: speaker (2 digits), text code (3 chars), emotion letter (German
initial, see :data:`serwidgets.labels.NATIVE_LABELS`), version letter; e.g. ``03a01Fa.wav``
is speaker 03, text a01, Freude (happy), first take.

Examples
--------
The shared copy (``$SER_DATA/emodb``; only the file names are read):

>>> from serwidgets.corpora import corpus_root
>>> df = load(corpus_root("emodb"))
>>> len(df), int((df["speaker"] == "emodb:03").sum()), df.loc[0, ["speaker", "gender", "emotion", "utterance"]].tolist()
(535, 49, ['emodb:03', 'm', 'happy', 'a01'])
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import audio_files, make_table, relative

NAME = "emodb"
LANGUAGE = "de"

#: Speaker -> gender, as documented by the corpus authors.
SPEAKERS = {
    "03": "m", "08": "f", "09": "f", "10": "m", "11": "m",
    "12": "m", "13": "f", "14": "f", "15": "m", "16": "f",
}

_PATTERN = re.compile(r"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<letter>[A-Z])(?P<version>[a-z])$")


def load(root: Path) -> pd.DataFrame:
    """The EmoDB table: one row per ``SSTTTEV.wav`` under ``root`` (searched recursively).

    Extra column: ``version`` (take letter).
    """
    emotions = NATIVE_LABELS[NAME]
    rows, skipped, unknown = [], [], []
    for path in audio_files(root, (".wav",)):
        match = _PATTERN.match(path.stem)
        if match is None or match["speaker"] not in SPEAKERS:
            skipped.append(relative(path, root))
            continue
        if match["letter"] not in emotions:
            skipped.append(relative(path, root))
            unknown.append(skipped[-1])
            continue
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['speaker']}",
            "gender": SPEAKERS[match["speaker"]],
            "emotion": emotions[match["letter"]],
            "native_label": match["letter"],
            "utterance": match["text"],
            "version": match["version"],
        })
    return make_table(rows, NAME, root, skipped, extra=("version",), language=LANGUAGE,
                      faults={"unknown_label": unknown})
