"""TESS, the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, 2010).

Two female speakers, OAF (older, 64) and YAF (younger, 26), each saying 200 target words in
the carrier phrase "Say the word ..." in 7 emotions. File names are
``SPEAKER_word_emotion.wav``, e.g. ``OAF_back_angry.wav``; ``ps`` is pleasant surprise
(mapped to surprise). The folder layout (``OAF_angry/`` ...) is not used: names carry everything.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())   # a made-up copy: only the names are read
>>> for path in (root / name for name in ['OAF_back_angry.wav', 'YAF_dog_ps.wav']):
...     _ = path.parent.mkdir(parents=True, exist_ok=True) or path.write_bytes(b"x")
>>> load(root)[["speaker", "gender", "emotion", "utterance"]].values.tolist()
[['tess:OAF', 'f', 'angry', 'back'], ['tess:YAF', 'f', 'surprise', 'dog']]
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import audio_files, make_table, relative

NAME = "tess"
LANGUAGE = "en"

SPEAKERS = {"OAF": "f", "YAF": "f"}

_PATTERN = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<word>[a-z]+)_(?P<emotion>[a-z]+)$", re.IGNORECASE)


def load(root: Path) -> pd.DataFrame:
    """The TESS table: one row per ``SPEAKER_word_emotion.wav`` under ``root`` (searched recursively)."""
    emotions = NATIVE_LABELS[NAME]
    rows, skipped = [], []
    for path in audio_files(root, (".wav",)):
        match = _PATTERN.match(path.stem)
        native = match["emotion"].lower() if match else None
        if native not in emotions:
            skipped.append(relative(path, root))
            continue
        speaker = match["speaker"].upper()
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{speaker}",
            "gender": SPEAKERS[speaker],
            "emotion": emotions[native],
            "native_label": native,
            "utterance": match["word"].lower(),
        })
    return make_table(rows, NAME, root, skipped, language=LANGUAGE)
