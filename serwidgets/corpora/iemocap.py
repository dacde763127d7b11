"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database (Busso et al., 2008).

Five sessions, each a dialogue between one male and one female actor. Labels come from
``Session{n}/dialog/EmoEvaluation/*.txt``, whose summary lines read::

    [6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]

(start, end, utterance id, majority label, valence/activation/dominance). Audio is
``Session{n}/sentences/wav/<dialog>/<utterance>.wav``. The speaker is the session plus the
letter of the utterance id's last part: ``Ses01F_impro01_M000`` is spoken by the man of
session 1, speaker ``"iemocap:Ses01M"`` (the F in ``Ses01F`` only says who wore the markers).
Utterances labelled ``xxx`` (no majority) or ``oth`` are left out unless ``include_other``.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> labels = root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
>>> labels.parent.mkdir(parents=True)
>>> _ = labels.write_text("[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5000, 2.5000, 2.5000]\\n"
...                       "[9.0100 - 11.5000]\\tSes01F_impro01_M001\\tang\\t[1.5000, 4.0000, 4.5000]\\n"
...                       "[12.000 - 13.000]\\tSes01F_impro01_M002\\txxx\\t[2.0000, 3.0000, 3.0000]\\n")
>>> for utterance in ("Ses01F_impro01_F000", "Ses01F_impro01_M001", "Ses01F_impro01_M002"):
...     wav = root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / f"{utterance}.wav"
...     wav.parent.mkdir(parents=True, exist_ok=True)
...     _ = wav.write_bytes(b"x")               # only the names are read
>>> df = load(root)
>>> df[["speaker", "gender", "emotion", "improvised", "activation"]].values.tolist(), df.attrs["excluded_other"]
([['iemocap:Ses01F', 'f', 'neutral', True, 2.5], ['iemocap:Ses01M', 'm', 'angry', True, 4.0]], 1)

A real copy of the corpus:

>>> from serwidgets.corpora import load_corpus
>>> df = load_corpus("iemocap", "data/IEMOCAP_full_release")   # doctest: +SKIP
>>> sorted(df["speaker"].unique())[:2]                          # doctest: +SKIP
['iemocap:Ses01F', 'iemocap:Ses01M']
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..labels import NATIVE_LABELS
from ._table import make_table, relative

NAME = "iemocap"
LANGUAGE = "en"

_LINE = re.compile(
    r"^\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\s+(?P<utterance>\S+)\s+(?P<label>\S+)\s+"
    r"\[(?P<v>[\d.]+), (?P<a>[\d.]+), (?P<d>[\d.]+)\]\s*$"
)
_UTTERANCE = re.compile(r"^(?P<dialog>Ses(?P<session>0[1-5])[MF]_\w+?)_(?P<gender>[MF])\d{3}$")
_UNAGREED = ("oth", "xxx")


def load(root: Path, include_other: bool = False) -> pd.DataFrame:
    """The IEMOCAP table: one row per labelled utterance whose WAV exists under ``root``.

    Parameters
    ----------
    root : Path
        Folder holding ``Session1`` ... ``Session5`` (``IEMOCAP_full_release``).
    include_other : bool
        Keep utterances labelled ``oth`` (other) and ``xxx`` (no majority);
        ``attrs["excluded_other"]`` counts those left out.

    Extra columns: ``session`` (1-5), ``dialog``, ``improvised`` (bool), ``start``, ``end``
    (seconds in the dialogue), ``valence``, ``activation``, ``dominance`` (1-5 scale).
    Label lines that do not parse, or whose WAV is missing, are reported as skipped.
    """
    from tqdm.auto import tqdm

    emotions = NATIVE_LABELS[NAME]
    label_files = sorted(
        p for n in range(1, 6)
        for p in (root / f"Session{n}" / "dialog" / "EmoEvaluation").glob("*.txt")
        if not p.name.startswith(".")
    )
    rows, skipped, missing, excluded = [], [], [], 0
    for label_file in tqdm(label_files, desc="iemocap labels", unit=" dialogs", disable=None, leave=False):
        for line in label_file.read_text(errors="replace").splitlines():
            if not line.startswith("["):
                continue  # headers and per-annotator lines
            match = _LINE.match(line)
            utterance = _UTTERANCE.match(match["utterance"]) if match else None
            if utterance is None or match["label"] not in emotions:
                skipped.append(f"{relative(label_file, root)}: {line.strip()[:60]}")
                continue
            if match["label"] in _UNAGREED and not include_other:
                excluded += 1
                continue
            session = int(utterance["session"])
            wav = root / f"Session{session}" / "sentences" / "wav" / utterance["dialog"] / f"{match['utterance']}.wav"
            if not wav.is_file():
                skipped.append(relative(wav, root))
                missing.append(skipped[-1])
                continue
            gender = utterance["gender"]
            rows.append({
                "path": str(wav.resolve()),
                "corpus": NAME,
                "speaker": f"{NAME}:Ses{session:02d}{gender}",
                "gender": gender.lower(),
                "emotion": emotions[match["label"]],
                "native_label": match["label"],
                "utterance": match["utterance"],
                "session": session,
                "dialog": utterance["dialog"],
                "improvised": "_impro" in utterance["dialog"],
                "start": float(match["start"]),
                "end": float(match["end"]),
                "valence": float(match["v"]),
                "activation": float(match["a"]),
                "dominance": float(match["d"]),
            })
    extra = ("session", "dialog", "improvised", "start", "end", "valence", "activation", "dominance")
    df = make_table(rows, NAME, root, skipped, extra=extra, reason="(label lines that do not parse, or missing WAVs)",
                    language=LANGUAGE, faults={"missing_file": missing})
    df.attrs["excluded_other"] = excluded
    return df
