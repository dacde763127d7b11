"""SAVEE, Surrey Audio-Visual Expressed Emotion (Haq & Jackson, 2009).

Four male speakers (DC, JE, JK, KL), 7 emotions, 15 sentences per emotion (30 for neutral).
Two layouts are read: the flat one, ``DC_a01.wav``, and the original ``AudioData/DC/a01.wav``.
Emotion prefixes: a angry, d disgust, f fear, h happy, n neutral, sa sad, su surprise.
Sentence numbers restart for each emotion, so ``utterance`` is the prefix plus the number.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())   # a made-up copy: only the names are read
>>> for path in (root / name for name in ['DC_a01.wav', 'AudioData/JE/sa02.wav']):
...     _ = path.parent.mkdir(parents=True, exist_ok=True) or path.write_bytes(b"x")
>>> load(root)[["speaker", "emotion", "utterance"]].values.tolist()   # both layouts
[['savee:JE', 'sad', 'sa02'], ['savee:DC', 'angry', 'a01']]
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import audio_files, make_table, relative

NAME = "savee"
LANGUAGE = "en"

SPEAKERS = {"DC": "m", "JE": "m", "JK": "m", "KL": "m"}

_FLAT = re.compile(r"^(?P<speaker>DC|JE|JK|KL)_(?P<emotion>sa|su|a|d|f|h|n)(?P<number>\d\d)$")
_NESTED = re.compile(r"^(?P<emotion>sa|su|a|d|f|h|n)(?P<number>\d\d)$")


def _parse(path: Path) -> tuple[str, str, str] | None:
    match = _FLAT.match(path.stem)
    if match:
        return match["speaker"], match["emotion"], match["number"]
    match = _NESTED.match(path.stem)
    if match and path.parent.name in SPEAKERS:
        return path.parent.name, match["emotion"], match["number"]
    return None


def load(root: Path) -> pd.DataFrame:
    """The SAVEE table: one row per recording under ``root`` (searched recursively)."""
    emotions = NATIVE_LABELS[NAME]
    rows, skipped = [], []
    for path in audio_files(root, (".wav",)):
        parsed = _parse(path)
        if parsed is None:
            skipped.append(relative(path, root))
            continue
        speaker, native, number = parsed
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{speaker}",
            "gender": SPEAKERS[speaker],
            "emotion": emotions[native],
            "native_label": native,
            "utterance": f"{native}{number}",
        })
    return make_table(rows, NAME, root, skipped, language=LANGUAGE)
