"""What every corpus loader shares: the table's columns, file scanning and fault reporting."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

#: Columns every corpus table starts with, in this order; loaders may add more after them.
COLUMNS = ("path", "corpus", "speaker", "gender", "emotion", "native_label", "utterance", "language")

#: Extensions the public corpora ship (RAVDESS may be re-encoded as FLAC).
CORPUS_AUDIO = (".wav", ".flac")

#: Extensions of the re-encoded shared copies (ASED, EMOVO, URDU, emotiontts, nEMO: Ogg Opus).
OPUS_AUDIO = (".opus", ".ogg", ".wav", ".flac")

#: Extensions the generic folder and CSV corpora accept (decoded by serwidgets.audio).
ANY_AUDIO = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".webm")

#: Fault causes a loader reports in ``df.attrs["faults"]`` (cause -> file names relative to
#: the root). The first four leave the file out of the table (or, for ``missing_file``, it
#: was never there); ``label_conflict`` files are left out too (their label is ambiguous);
#: ``gender_conflict`` files are kept, with the speaker's majority gender.
FAULT_CAUSES = (
    "unparseable_name",   # the file name does not follow the corpus naming
    "unknown_label",      # it does, but the emotion code (or folder) is not one the corpus defines
    "empty_file",         # zero bytes
    "missing_file",       # listed in the corpus's MANIFEST.sha256 (or label file) but absent
    "label_conflict",     # the folder and the file name give different emotions
    "gender_conflict",    # a speaker's files disagree on the speaker's gender (kept: majority)
)

#: Causes that keep the file in the table (reported, not warned about).
KEPT_CAUSES = ("gender_conflict",)

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


def manifest_missing(root: Path, extensions=ANY_AUDIO) -> list[str]:
    """Audio files listed in ``root/MANIFEST.sha256`` (``sha256sum`` format) that do not exist.

    The shared copies of the corpora ship such a manifest; without one nothing is reported.
    """
    manifest = Path(root) / "MANIFEST.sha256"
    if not manifest.is_file():
        return []
    missing = []
    for line in manifest.read_text(errors="replace").splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) != 2:
            continue
        name = parts[1].lstrip("*")
        if name.lower().endswith(extensions) and not (root / name).exists():
            missing.append(str(Path(name)))
    return missing


def _group_faults(skipped, faults) -> dict[str, list[str]]:
    """``faults`` with every cause present (possibly empty); legacy ``skipped`` names with no
    cause of their own count as ``unparseable_name``."""
    out = {cause: [] for cause in FAULT_CAUSES}
    for cause, names in (faults or {}).items():
        out.setdefault(cause, []).extend(names)
    known = {name for cause, names in out.items() if cause not in KEPT_CAUSES for name in names}
    out["unparseable_name"].extend(s for s in skipped if s not in known)
    return {cause: list(dict.fromkeys(names)) for cause, names in out.items()}


def make_table(
    rows: list[dict],
    corpus: str,
    root: Path,
    skipped: list[str],
    extra=(),
    reason: str = "(names that do not follow the corpus naming)",
    *,
    language: str | None = None,
    faults: dict[str, list[str]] | None = None,
    check_manifest: bool = True,
) -> pd.DataFrame:
    """The corpus DataFrame from parsed ``rows``, with ``extra`` columns after :data:`COLUMNS`.

    Parameters
    ----------
    rows : list of dict
        One per recording, with the :data:`COLUMNS` keys (``language`` may be left out).
    corpus : str
    root : Path
    skipped : list of str
        Names (relative to ``root``) the loader left out.
    extra : sequence of str
        Further columns, after :data:`COLUMNS`.
    reason : str
        Why files were skipped, for the warning.
    language : str, optional
        ISO 639-1 code filling ``language`` where a row has none.
    faults : dict, optional
        Cause (:data:`FAULT_CAUSES`) -> names; skipped names without a cause count as
        ``unparseable_name``.
    check_manifest : bool
        Report files listed in ``root/MANIFEST.sha256`` that are missing.

    Rows whose file has zero bytes are left out as ``empty_file``. ``attrs`` holds
    ``corpus``, ``root``, ``skipped`` (every file left out, relative to ``root``) and
    ``faults`` (cause -> names, every cause of :data:`FAULT_CAUSES` present). Faults that
    leave files out are warned about in one :class:`CorpusWarning` with their counts by cause.
    """
    skipped = list(skipped)
    faults = {cause: list(names) for cause, names in (faults or {}).items()}
    kept = []
    for row in rows:
        if os.path.getsize(row["path"]) == 0:
            name = relative(Path(row["path"]), Path(root).resolve())
            faults.setdefault("empty_file", []).append(name)
            skipped.append(name)
        else:
            kept.append(row)
    rows = kept
    if check_manifest and Path(root).is_dir():
        faults.setdefault("missing_file", []).extend(manifest_missing(Path(root)))
    faults = _group_faults(skipped, faults)

    columns = list(COLUMNS) + [c for c in extra if c not in COLUMNS]
    df = pd.DataFrame(rows, columns=columns)
    # Unknown gender stays None (pandas would turn it into NaN in a string column).
    df["gender"] = pd.Series([row["gender"] for row in rows], dtype=object)
    df["language"] = pd.Series([row.get("language") or language for row in rows], dtype=object)
    df = df.sort_values("path", kind="stable").reset_index(drop=True)
    df.attrs.update(corpus=corpus, root=str(root), skipped=skipped, faults=faults)
    counted = {c: len(n) for c, n in faults.items() if n and c not in KEPT_CAUSES}
    if counted:
        causes = ", ".join(f"{c} {n}" for c, n in counted.items())
        examples = [n for c, names in faults.items() if c not in KEPT_CAUSES for n in names]
        shown = ", ".join(examples[:_EXAMPLES]) + (", ..." if len(examples) > _EXAMPLES else "")
        head = (f"{corpus}: skipped {len(skipped)} file(s) under {root} {reason}"
                if skipped else f"{corpus}: {sum(counted.values())} fault(s) under {root}")
        warnings.warn(
            f"{head}: {shown} (by cause: {causes}; listed in df.attrs['faults'])",
            CorpusWarning,
            stacklevel=4,
        )
    return df


def majority_gender(rows: list[dict], root: Path) -> list[str]:
    """Give every speaker of ``rows`` their most frequent gender (in place).

    Returns the names (relative to ``root``) of files whose own gender code disagreed: the
    ``gender_conflict`` fault. Ties keep the alphabetically first gender.
    """
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        if row["gender"] is not None:
            per = counts.setdefault(row["speaker"], {})
            per[row["gender"]] = per.get(row["gender"], 0) + 1
    majority = {s: sorted(per, key=lambda g: (-per[g], g))[0] for s, per in counts.items()}
    conflicts = []
    for row in rows:
        gender = majority.get(row["speaker"])
        if row["gender"] is not None and row["gender"] != gender:
            conflicts.append(relative(Path(row["path"]), Path(root).resolve()))
        row["gender"] = gender
    return sorted(conflicts)


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a string (for skip lists)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
