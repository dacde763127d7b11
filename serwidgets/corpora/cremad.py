"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., 2014).

91 actors (ids 1001-1091), 12 sentences, 6 emotions. File names are
``AAAA_SSS_EEE_LL.wav``: actor, sentence code, emotion code, intensity (LO, MD, HI, or XX
for unspecified), e.g. ``1001_DFA_ANG_XX.wav``. Gender comes from the corpus's
``VideoDemographics.csv`` (columns ActorID, Sex) when it is found under ``root`` or given
as ``demographics``; otherwise it is None.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())   # a made-up copy: only the names are read
>>> for path in (root / name for name in ['1001_DFA_ANG_XX.wav', '1091_IEO_SAD_HI.wav']):
...     _ = path.parent.mkdir(parents=True, exist_ok=True) or path.write_bytes(b"x")
>>> load(root)[["speaker", "gender", "emotion", "utterance", "intensity"]].values.tolist()   # no demographics file
[['cremad:1001', None, 'angry', 'DFA', 'unspecified'], ['cremad:1091', None, 'sad', 'IEO', 'high']]
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import audio_files, make_table, relative

NAME = "cremad"
LANGUAGE = "en"

INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}

_PATTERN = re.compile(r"^(?P<actor>1\d{3})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$")


def _genders(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    table = pd.read_csv(path)
    sex = {"male": "m", "female": "f"}
    return {str(a): sex.get(str(s).strip().lower()) for a, s in zip(table["ActorID"], table["Sex"])}


def load(root: Path, demographics: str | Path | None = None) -> pd.DataFrame:
    """The CREMA-D table: one row per ``AAAA_SSS_EEE_LL.wav`` under ``root`` (searched recursively).

    Parameters
    ----------
    root : Path
        Folder holding the WAV files (``AudioWAV/`` in the distribution).
    demographics : str or Path, optional
        ``VideoDemographics.csv``; default: the first one found under ``root``.

    Extra column: ``intensity`` ("low", "medium", "high", "unspecified").
    """
    if demographics is None:
        demographics = next(iter(sorted(root.rglob("VideoDemographics.csv"))), None)
    genders = _genders(Path(demographics) if demographics is not None else None)
    emotions = NATIVE_LABELS[NAME]
    rows, skipped = [], []
    for path in audio_files(root, (".wav",)):
        match = _PATTERN.match(path.stem)
        if match is None or match["emotion"] not in emotions or match["level"] not in INTENSITIES:
            skipped.append(relative(path, root))
            continue
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['actor']}",
            "gender": genders.get(match["actor"]),
            "emotion": emotions[match["emotion"]],
            "native_label": match["emotion"],
            "utterance": match["sentence"],
            "intensity": INTENSITIES[match["level"]],
        })
    return make_table(rows, NAME, root, skipped, extra=("intensity",), language=LANGUAGE)
