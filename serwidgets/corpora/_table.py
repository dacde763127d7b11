"""What every corpus loader shares: the table's columns, file scanning and skip reporting."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

#: Columns every corpus table starts with, in this order; loaders may add more after them.
COLUMNS = ("path", "corpus", "speaker", "gender", "emotion", "native_label", "utterance")

#: Extensions the public corpora ship (RAVDESS may be re-encoded as FLAC).
CORPUS_AUDIO = (".wav", ".flac")

#: Extensions the generic folder and CSV corpora accept (decoded by serwidgets.audio).
ANY_AUDIO = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".webm")

#: How many skipped names the warning quotes.
_EXAMPLES = 5


class CorpusWarning(UserWarning):
    """Files under a corpus root that the loader could not interpret."""


def audio_files(root: Path, extensions=CORPUS_AUDIO) -> list[Path]:
    """Audio files under ``root`` (recursive, sorted); hidden files such as ``._x.wav`` are left out."""
    from tqdm.auto import tqdm

    found = []
    # A progress bar per folder: big trees (CREMA-D, IEMOCAP) take a while on network disks.
    folders = tqdm(os.walk(root), desc=f"scanning {root.name}", unit=" dirs", disable=None, leave=False)
    for folder, dirs, files in folders:
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and name.lower().endswith(extensions):
                found.append(Path(folder) / name)
    return sorted(found)


def make_table(
    rows: list[dict],
    corpus: str,
    root: Path,
    skipped: list[str],
    extra=(),
    reason: str = "(names that do not follow the corpus naming)",
) -> pd.DataFrame:
    """The corpus DataFrame from parsed ``rows``, with ``extra`` columns after :data:`COLUMNS`.

    ``attrs`` holds ``corpus``, ``root`` and ``skipped`` (file names relative to ``root``);
    a non-empty ``skipped`` is also warned about, with its count, ``reason`` and examples.
    """
    columns = list(COLUMNS) + [c for c in extra if c not in COLUMNS]
    df = pd.DataFrame(rows, columns=columns)
    # Unknown gender stays None (pandas would turn it into NaN in a string column).
    df["gender"] = pd.Series([row["gender"] for row in rows], dtype=object)
    df = df.sort_values("path", kind="stable").reset_index(drop=True)
    df.attrs.update(corpus=corpus, root=str(root), skipped=list(skipped))
    if skipped:
        examples = ", ".join(skipped[:_EXAMPLES]) + (", ..." if len(skipped) > _EXAMPLES else "")
        warnings.warn(
            f"{corpus}: skipped {len(skipped)} file(s) under {root} {reason}: {examples} "
            "(listed in df.attrs['skipped'])",
            CorpusWarning,
            stacklevel=4,
        )
    return df


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a string (for skip lists)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
