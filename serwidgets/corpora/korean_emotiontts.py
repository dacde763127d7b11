"""emotiontts open DB, Korean emotional speech (SELVAS AI / KAIST), the public sample.

15 speakers x 20 studio reads = 300 clips in 4 emotions. Files are
``{subset}/{speaker}/wav/{speaker}{NNNNN}.opus`` (the shared copy is Ogg Opus), e.g.
``plain-to-emotional/ema/wav/ema00101.opus``: speaker ``ema``, utterance 00101. The emotion
comes from the utterance number: 00001-00100 neutral, 00101-00200 happy, 00201-00300 angry,
00301-00400 sad (native label: the hundred, ``"0"``-``"3"``). ``subset`` is
``plain-to-emotional`` (the same neutral sentences read in every emotion) or
``emotional-to-emotional`` (each emotion has its own, emotionally worded sentences: the words
carry the emotion too). ``utterance`` is the sentence text from ``{speaker}/script/`` where
present, else ``"<subset>/<number>"``. The corpus does not document the speakers' gender.

Registered as ``"korean-emotiontts"`` (the shared folder's name).

Examples
--------
The shared copy (``$SER_DATA/korean-emotiontts``; only the file names are read):

>>> from serwidgets.corpora import corpus_root
>>> df = load(corpus_root("korean-emotiontts"))
>>> df.groupby("emotion").size().to_dict()
{'angry': 75, 'happy': 75, 'neutral': 75, 'sad': 75}
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import OPUS_AUDIO, audio_files, make_table, relative

NAME = "korean-emotiontts"
LANGUAGE = "ko"

SUBSETS = ("plain-to-emotional", "emotional-to-emotional")

_PATTERN = re.compile(r"^(?P<speaker>[a-z]{3})(?P<number>\d{5})$")


def _script(path: Path) -> str | None:
    script = path.parent.parent / "script" / f"{path.stem}.txt"
    if not script.is_file():
        return None
    text = script.read_text(encoding="utf-8-sig", errors="replace").strip()
    return text or None


def load(root: Path) -> pd.DataFrame:
    """The emotiontts table: one row per clip under ``root`` (searched recursively).

    Extra columns: ``subset`` (see above) and ``number`` (the utterance number, int).
    """
    emotions = NATIVE_LABELS[NAME]
    rows, faults = [], {"unparseable_name": [], "unknown_label": []}
    for path in audio_files(root, OPUS_AUDIO):
        name = relative(path, root)
        match = _PATTERN.match(path.stem)
        # .../<speaker>/wav/<speaker>NNNNN: the speaker folder must agree with the name.
        if match is None or path.parent.name != "wav" or path.parent.parent.name != match["speaker"]:
            faults["unparseable_name"].append(name)
            continue
        number = int(match["number"])
        native = str((number - 1) // 100) if number >= 1 else None
        if native not in emotions:
            faults["unknown_label"].append(name)
            continue
        subset = next((s for s in SUBSETS if s in path.parts), None)
        rows.append({
            "path": str(path.resolve()),
            "corpus": NAME,
            "speaker": f"{NAME}:{match['speaker']}",
            "gender": None,
            "emotion": emotions[native],
            "native_label": native,
            "utterance": _script(path) or f"{subset}/{number:05d}",
            "subset": subset,
            "number": number,
        })
    skipped = sorted(faults["unparseable_name"] + faults["unknown_label"])
    return make_table(rows, NAME, root, skipped, extra=("subset", "number"), language=LANGUAGE, faults=faults,
                      reason="(unparseable names or utterance numbers outside 1-400)")
