"""EMOVO, an Italian emotional speech corpus (Costantini et al., 2014).

6 actors (f1 f2 f3 female, m1 m2 m3 male), 14 sentences, 7 emotions: 588 clips. Files are
``{speaker}/{emotion}-{speaker}-{sentence}.opus`` (the shared copy is Ogg Opus), e.g.
``f1/gio-f1-b1.opus``: speaker f1, *gioia* (joy -> happy), sentence b1. Emotion codes: dis
disgust, gio joy, neu neutral, pau (*paura*) fear, rab (*rabbia*) anger, sor (*sorpresa*)
surprise, tri (*tristezza*) sadness.

Examples
--------
The shared copy (``$SER_DATA/emovo``; only the file names are read):

>>> from serwidgets.corpora import corpus_root
>>> df = load(corpus_root("emovo"))
>>> len(df), df.groupby("emotion").size().unique().tolist(), df.loc[0, ["speaker", "emotion", "utterance"]].tolist()
(588, [84], ['emovo:f1', 'disgust', 'b1'])
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import OPUS_AUDIO, audio_files, make_table, relative

NAME = "emovo"
LANGUAGE = "it"

SPEAKERS = {"f1": "f", "f2": "f", "f3": "f", "m1": "m", "m2": "m", "m3": "m"}

_PATTERN = re.compile(r"^(?P<emotion>[a-z]{3})-(?P<speaker>[fm][1-3])-(?P<sentence>[bdln][1-5])$")


def load(root: Path) -> pd.DataFrame:
    """The EMOVO table: one row per ``emotion-speaker-sentence`` clip under ``root`` (recursive)."""
    emotions = NATIVE_LABELS[NAME]
    rows, faults = [], {"unparseable_name": [], "unknown_label": []}
    for path in audio_files(root, OPUS_AUDIO):
        name = relative(path, root)
        match = _PATTERN.match(path.stem)
        if match is None:
            faults["unparseable_name"].append(name)
            continue
        if match["emotion"] not in emotions:
            faults["unknown_label"].append(name)
            continue
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['speaker']}",
            "gender": SPEAKERS[match["speaker"]],
            "emotion": emotions[match["emotion"]],
            "native_label": match["emotion"],
            "utterance": match["sentence"],
        })
    skipped = sorted(faults["unparseable_name"] + faults["unknown_label"])
    return make_table(rows, NAME, root, skipped, language=LANGUAGE, faults=faults,
                      reason="(unparseable names or unknown emotion codes)")
