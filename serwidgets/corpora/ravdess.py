"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo, 2018).

24 actors (odd numbers male, even female) in folders ``Actor_XX``; file names are
``MM-VV-EE-II-SS-RR-AA`` (modality, vocal channel, emotion, intensity, statement,
repetition, actor), e.g. ``03-01-05-02-01-01-07.wav``: audio-only, speech, angry, strong,
"Kids are talking by the door", first repetition, actor 07. WAV or FLAC.

Speech (VV = 01) is kept by default; ``include_song=True`` adds the sung recordings
(VV = 02), which cover only six emotions.

Examples
--------
The shared copy (``$SER_DATA/ravdess``; only the file names are read):

>>> from serwidgets.corpora import corpus_root
>>> df = load(corpus_root("ravdess"))
>>> len(df), df["speaker"].nunique(), df.loc[0, ["speaker", "gender", "emotion", "intensity"]].tolist()
(1440, 24, ['ravdess:01', 'm', 'neutral', 'normal'])
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import CORPUS_AUDIO, audio_files, make_table, relative

NAME = "ravdess"
LANGUAGE = "en"

STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
INTENSITIES = {"01": "normal", "02": "strong"}
VOCAL_CHANNELS = {"01": "speech", "02": "song"}

_PATTERN = re.compile(
    r"^(?P<modality>0[123])-(?P<channel>0[12])-(?P<emotion>0[1-8])-(?P<intensity>0[12])"
    r"-(?P<statement>0[12])-(?P<repetition>0[12])-(?P<actor>\d\d)$"
)


def load(root: Path, include_song: bool = False) -> pd.DataFrame:
    """The RAVDESS table: one row per recording under ``root`` (searched recursively).

    Parameters
    ----------
    root : Path
        Folder holding ``Actor_01`` ... ``Actor_24``.
    include_song : bool
        Also keep the song recordings (VV = 02); ``attrs["excluded_song"]`` counts those left out.

    Extra columns: ``vocal_channel`` ("speech"/"song"), ``intensity`` ("normal"/"strong"),
    ``statement`` (the sentence), ``repetition`` (1 or 2). ``utterance`` is the statement code.
    """
    emotions = NATIVE_LABELS[NAME]
    rows, skipped, excluded_song = [], [], 0
    for path in audio_files(root, CORPUS_AUDIO):
        match = _PATTERN.match(path.stem)
        if match is None or not 1 <= int(match["actor"]) <= 24:
            skipped.append(relative(path, root))
            continue
        if match["channel"] == "02" and not include_song:
            excluded_song += 1
            continue
        actor = int(match["actor"])
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['actor']}",
            "gender": "m" if actor % 2 else "f",
            "emotion": emotions[match["emotion"]],
            "native_label": match["emotion"],
            "utterance": match["statement"],
            "vocal_channel": VOCAL_CHANNELS[match["channel"]],
            "intensity": INTENSITIES[match["intensity"]],
            "statement": STATEMENTS[match["statement"]],
            "repetition": int(match["repetition"]),
        })
    df = make_table(rows, NAME, root, skipped, extra=("vocal_channel", "intensity", "statement", "repetition"),
                    language=LANGUAGE)
    df.attrs["excluded_song"] = excluded_song
    return df
