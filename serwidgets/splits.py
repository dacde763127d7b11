"""Train/test splits, a classifier's validation speakers, and the leakage guard every training entry point calls.

Three families of protocol:

* **Speaker-independent** (:func:`loso`, :func:`speaker_kfold`): no test speaker is heard
  in training. This is what a deployed model faces, and the protocol serwidgets reports.
* **Speaker-dependent** (:func:`random_split`): a random split stratified by emotion. It lets
  the same speaker (and sentence) appear on both sides and scores higher; it exists only to
  compare with papers that use it.
* **Cross-corpus** (:func:`loco`, leave one corpus out): each corpus is the test set once and
  the model is trained on all the others -- new speakers, and also a new language, recording
  setup and actors' style. Speakers are corpus-prefixed, so it is speaker-independent too.

:func:`check_leakage` rejects a split in which a test or validation speaker appears in
training (speaker-independent mode), or in which the same *source utterance* is on two
sides (any mode). The source of a row is its ``source`` column when present (augmented
copies carry the path of the recording they came from), else its ``path``; when a
``sha256`` column exists, byte-identical files count as the same source too. That catches
the mistake behind the seed app's 99.3 % "accuracy": noisy copies added *before* a random
split put a copy of each test recording in training. It also catches RAVDESS'
``Actor_07/03-01-03-01-02-01-07`` and ``...-02-07``, which are byte-identical files.

Indices in a :class:`Split` are positional (``df.iloc``), so they stay valid whatever the
DataFrame's index is.

Examples
--------
>>> from serwidgets import splits
>>> for split in splits.loso(df):                            # doctest: +SKIP
...     splits.check_leakage(df, split)
...     train, test = df.iloc[split.train], df.iloc[split.test]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Split", "LeakageError", "loso", "speaker_kfold", "loco", "random_split", "validation_split",
           "check_leakage"]

# How many offending speakers/sources a LeakageError message lists before "... and N more".
_SHOWN = 5


class LeakageError(RuntimeError):
    """A split shares speakers or source utterances between training and evaluation."""


@dataclass(frozen=True, eq=False)
class Split:
    """One train/validation/test partition of a DataFrame, as positional row indices.

    Parameters
    ----------
    name : str
        What the split is, e.g. ``"loso:emodb:03"`` or ``"speaker-kfold:2/6"``.
    train, test : array-like of int
        Positional indices (``df.iloc``) of the training and test rows.
    val : array-like of int, optional
        Positional indices of the validation rows (empty by default).

    Examples
    --------
    >>> s = Split("toy", train=[0, 1, 2], test=[3])
    >>> s.val.size, s.test.dtype
    (0, dtype('int64'))
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __post_init__(self):
        for part in ("train", "test", "val"):
            idx = np.asarray(getattr(self, part), dtype=np.int64)
            if idx.ndim != 1:
                raise ValueError(f"Split.{part} must be a 1-D array of row positions")
            object.__setattr__(self, part, idx)

    def __repr__(self) -> str:
        return (
            f"Split({self.name!r}, train={self.train.size}, val={self.val.size}, "
            f"test={self.test.size})"
        )


def _speaker_table(df: pd.DataFrame) -> pd.Series:
    """Gender per speaker (sorted by speaker); ``None`` everywhere when there is no gender."""
    if "speaker" not in df.columns:
        raise ValueError("a speaker-independent split needs a 'speaker' column")
    if "gender" in df.columns:
        return df.groupby("speaker", sort=True)["gender"].first()
    return pd.Series(None, index=pd.Index(sorted(df["speaker"].unique()), name="speaker"))


def _by_gender(speakers: pd.Series, rng: np.random.Generator) -> list[list]:
    """Speakers grouped by gender (unknown = one group), each group and their order shuffled."""
    groups = {}
    for speaker, gender in speakers.items():
        groups.setdefault("?" if pd.isna(gender) else str(gender), []).append(speaker)
    keys = sorted(groups)
    return [
        [groups[key][j] for j in rng.permutation(len(groups[key]))]
        for key in (keys[i] for i in rng.permutation(len(keys)))
    ]


def _interleaved(groups: list[list]) -> list:
    """m, f, m, f, ...: the first ``k`` speakers are a gender-balanced choice."""
    return [g[rank] for rank in range(max(map(len, groups))) for g in groups if rank < len(g)]


def _speaker_split(df, name, test_speakers, val_speakers=0, rng=None) -> Split:
    """The rows of ``test_speakers`` to test, ``val_speakers`` of the others (gender-balanced,
    drawn with ``rng``) to validate, the rest to train."""
    speaker = df["speaker"].to_numpy()
    rest = _speaker_table(df)
    rest = rest[~rest.index.isin(test_speakers)]
    if val_speakers < 0 or val_speakers >= len(rest):
        raise ValueError(
            f"val_speakers={val_speakers} must leave at least one of the {len(rest)} "
            "training speakers for training"
        )
    val = _interleaved(_by_gender(rest, rng))[:val_speakers] if val_speakers else []
    is_test = np.isin(speaker, list(test_speakers))
    is_val = np.isin(speaker, val)
    return Split(
        name,
        train=np.flatnonzero(~is_test & ~is_val),
        test=np.flatnonzero(is_test),
        val=np.flatnonzero(is_val),
    )


def validation_split(df: pd.DataFrame, val_speakers: int, seed: int = 0) -> Split:
    """A training table's validation speakers: ``val_speakers`` of them held out, gender-balanced.

    How a classifier that stops early (:class:`serwidgets.train.NetClassifier`) splits the
    table it is given to ``fit``: no test side (``test`` is empty), and no speaker on both sides.

    Parameters
    ----------
    df : pandas.DataFrame
        Needs a ``speaker`` column; a ``gender`` column makes the choice alternate genders.
    val_speakers : int
        Speakers to hold out; 0: none (every row trains).
    seed : int

    Examples
    --------
    >>> df = pd.DataFrame({"speaker": ["a", "a", "b", "c", "c"], "gender": ["f", "f", "m", "f", "f"]})
    >>> split = validation_split(df, 1, seed=2)
    >>> sorted(df.iloc[split.val]["speaker"].unique()), split.train.size + split.val.size, split.test.size
    (['c'], 5, 0)
    >>> validation_split(df, 0).val.size
    0
    """
    if val_speakers == 0:
        return Split("validation", train=np.arange(len(df)), test=[])
    return _speaker_split(df, "validation", [], val_speakers, np.random.default_rng(seed))


def loso(df: pd.DataFrame) -> Iterator[Split]:
    """Leave-one-speaker-out: one split per speaker (``df`` needs a ``speaker`` column), that
    speaker alone is the test set; named ``"loso:<speaker>"``, in sorted speaker order.

    Examples
    --------
    >>> df = pd.DataFrame({"speaker": ["a", "b", "a", "c"]})
    >>> [(s.name, s.train.tolist(), s.test.tolist()) for s in loso(df)][:2]
    [('loso:a', [1, 3], [0, 2]), ('loso:b', [0, 2, 3], [1])]
    """
    for speaker in _speaker_table(df).index:
        yield _speaker_split(df, f"loso:{speaker}", [speaker])


def speaker_kfold(df: pd.DataFrame, n_folds: int, seed: int = 0) -> Iterator[Split]:
    """Speaker-independent k-fold: speakers dealt into ``n_folds`` groups of equal size.

    Folds are balanced by *speaker count* (sizes differ by at most one speaker) and, when a
    ``gender`` column exists, by gender: RAVDESS' 24 actors give 6 folds of 2 women and 2
    men. Which speaker lands in which fold depends only on ``seed``.

    Parameters
    ----------
    df : pandas.DataFrame
        Needs a ``speaker`` column; ``gender`` is used when present.
    n_folds : int
        Number of folds, between 2 and the number of speakers.
    seed : int
        Seed for the fold assignment.

    Yields
    ------
    Split
        Named ``"speaker-kfold:<k>/<n_folds>"`` (k counts from 1).

    Examples
    --------
    >>> [s.name for s in speaker_kfold(df, 6)][:2]               # doctest: +SKIP
    ['speaker-kfold:1/6', 'speaker-kfold:2/6']
    """
    speakers = _speaker_table(df)
    if not 2 <= n_folds <= len(speakers):
        raise ValueError(f"n_folds={n_folds} must be between 2 and {len(speakers)} (speakers)")
    # Dealing the speakers round-robin, one gender after the other, balances fold sizes and
    # genders at once.
    order = sum(_by_gender(speakers, np.random.default_rng(seed)), [])
    for k in range(n_folds):
        yield _speaker_split(df, f"speaker-kfold:{k + 1}/{n_folds}", order[k::n_folds])


def loco(df: pd.DataFrame) -> Iterator[Split]:
    """Leave one corpus out: one split per corpus, that corpus alone is the test set.

    Training uses every other corpus; the test corpus's classes may include some that no
    training corpus has (they are then never predicted, and score recall 0).

    Parameters
    ----------
    df : pandas.DataFrame
        Needs ``corpus`` and ``speaker`` columns and at least two corpora.

    Yields
    ------
    Split
        Named ``"loco:<corpus>"``, in sorted corpus order.

    Examples
    --------
    >>> [s.name for s in loco(df)]                  # doctest: +SKIP
    ['loco:ased', 'loco:emodb', 'loco:emovo']
    """
    if "corpus" not in df.columns:
        raise ValueError("leave-one-corpus-out needs a 'corpus' column")
    corpus = df["corpus"].astype(str).to_numpy()
    names = sorted(set(corpus))
    if len(names) < 2:
        raise ValueError(f"leave-one-corpus-out needs at least two corpora, got {names}")
    for name in names:
        split = _speaker_split(df, f"loco:{name}", sorted(df.loc[corpus == name, "speaker"].unique()))
        # Speaker ids are corpus-prefixed; a table where they are not must still hold out
        # exactly the corpus.
        if not np.array_equal(split.test, np.flatnonzero(corpus == name)):
            raise ValueError(f"corpus {name!r} shares speaker ids with another corpus; "
                             "speakers must be unique across corpora (e.g. 'emodb:03')")
        yield split


def random_split(df: pd.DataFrame, test_size: float = 0.2, seed: int = 0) -> Split:
    """Speaker-dependent random split, stratified by emotion (for comparison with papers).

    Speakers and sentences appear on both sides, so scores are higher than speaker-independent
    ones and do not predict accuracy on a new voice. Rows are drawn individually: augmented
    copies of one recording are *not* kept together, and :func:`check_leakage` rejects the
    result if the DataFrame holds such copies (or, with a ``sha256`` column, duplicate files).

    Parameters
    ----------
    df : pandas.DataFrame
        Needs an ``emotion`` column.
    test_size : float
        Fraction of the rows for the test set.
    seed : int
        Random seed; the same seed gives the same split.

    Returns
    -------
    Split
        Named ``"random:seed=<seed>"``.

    Examples
    --------
    >>> s = random_split(df, test_size=0.2)                       # doctest: +SKIP
    """
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size}: need 0 < test_size < 1")
    train, test = train_test_split(np.arange(len(df)), test_size=test_size, stratify=df["emotion"].to_numpy(),
                                   random_state=seed)
    return Split(f"random:seed={seed}", train=np.sort(train), test=np.sort(test))


def _source_keys(df: pd.DataFrame) -> pd.Series:
    if "path" in df.columns:
        keys = df["path"].astype("string")
        if "source" in df.columns:
            keys = df["source"].astype("string").fillna(keys)
    elif "source" in df.columns:
        keys = df["source"].astype("string")
    else:
        raise ValueError("the leakage guard needs a 'source' or 'path' column")
    return keys.reset_index(drop=True)


def _shared(a: pd.Series, b: pd.Series) -> list:
    return sorted(set(a.dropna()) & set(b.dropna()), key=str)


def _describe(what: str, left: str, right: str, items: list) -> str:
    shown = ", ".join(map(str, items[:_SHOWN]))
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"{len(items)} {what} in both {left} and {right}: {shown}{more}"


def check_leakage(df: pd.DataFrame, split: Split, speaker_independent: bool = True) -> None:
    """Raise :class:`LeakageError` if any information is shared across the split.

    Checked for every pair of sides (train/test, train/val, val/test):

    * the same row (positional index) on two sides;
    * the same source utterance: ``source`` if present (filled from ``path`` where missing),
      else ``path``; and the same file content when a ``sha256`` column exists (RAVDESS
      ``Actor_07`` has two byte-identical recordings);
    * with ``speaker_independent=True``, the same ``speaker``.

    Parameters
    ----------
    df : pandas.DataFrame
        The DataFrame the split indexes (positional).
    split : Split
        The split to check.
    speaker_independent : bool
        Also require disjoint speakers (the LOSO and speaker k-fold protocols).

    Raises
    ------
    LeakageError
        Naming the shared speakers, sources or rows.
    ValueError
        If indices are out of range or a needed column is missing.

    Examples
    --------
    >>> check_leakage(df, random_split(df), speaker_independent=False)  # doctest: +SKIP
    """
    n = len(df)
    parts = {"train": split.train, "val": split.val, "test": split.test}
    for part, idx in parts.items():
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"split {split.name!r}: {part} indices outside 0..{n - 1}")

    columns = {"source": _source_keys(df)}
    if "sha256" in df.columns:
        columns["file content (sha256)"] = df["sha256"].reset_index(drop=True)
    if speaker_independent:
        if "speaker" not in df.columns:
            raise ValueError("a speaker-independent check needs a 'speaker' column")
        columns["speaker"] = df["speaker"].reset_index(drop=True)

    problems = []
    for left, right in (("train", "test"), ("train", "val"), ("val", "test")):
        a, b = parts[left], parts[right]
        if not (a.size and b.size):
            continue
        rows = np.intersect1d(a, b)
        if rows.size:
            problems.append(_describe("rows", left, right, rows.tolist()))
        for what, values in columns.items():
            shared = _shared(values.iloc[a], values.iloc[b])
            if shared:
                label = "speakers" if what == "speaker" else f"{what} values"
                problems.append(_describe(label, left, right, shared))
    if problems:
        raise LeakageError(f"split {split.name!r} leaks: " + "; ".join(problems))
