"""Emotion vocabulary: canonical names, each corpus's native labels, and tasks.

Every corpus loader (:mod:`serwidgets.corpora`) maps its native labels to one canonical
vocabulary, so ``"angry"`` means the same thing whatever the corpus. A *task* is a tuple of
canonical emotions a model is trained on; task names are the same strings in code, on the
command line (``--task``) and in model cards.

Mapping choices (native label -> canonical emotion):

- EmoDB: W (Wut) angry, L (Langeweile) boredom, E (Ekel) disgust, A (Angst) fear,
  F (Freude) happy, T (Trauer) sad, N neutral.
- RAVDESS: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful -> fear, 07 disgust,
  08 surprised -> surprise. Calm is kept as its own emotion, not merged into neutral: the
  actors were asked for two different states, and merging would double neutral's weight.
- CREMA-D: ANG angry, DIS disgust, FEA fear, HAP happy, NEU neutral, SAD sad.
- TESS: angry, disgust, fear, happy, neutral, sad; ``ps`` (pleasant surprise) -> surprise.
- SAVEE: a angry, d disgust, f fear, h happy, n neutral, sa sad, su surprise.
- IEMOCAP: ang angry, hap happy, exc excited, fru frustrated, neu neutral, sad sad,
  sur surprise, fea fear, dis disgust, oth other, xxx no_agreement (the annotators had no
  majority; the loader leaves oth and xxx out unless asked).

Tasks (:data:`TASKS`):

- ``"emotion6"`` (default): angry, disgust, fear, happy, neutral, sad -- the six emotions
  every public acted corpus above shares. It drops EmoDB boredom, RAVDESS calm and
  surprised, TESS pleasant surprise and SAVEE surprise.
- ``"emodb7"``, ``"ravdess8"``: each corpus's full native set.
- ``"iemocap6"``: angry, excited, frustrated, happy, neutral, sad.
- ``"iemocap4"``: angry, happy, neutral, sad with excited merged into happy (the usual
  setting in the IEMOCAP literature).

Other choices are one argument away: :func:`select_task` takes any tuple of emotions and
``mapping_overrides`` to relabel (e.g. calm as neutral) before filtering.

Examples
--------
>>> from serwidgets import labels
>>> labels.TASKS["emotion6"]
('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad')
>>> labels.NATIVE_LABELS["emodb"]["W"]
'angry'
>>> df6 = labels.select_task(df, "emotion6")   # doctest: +SKIP
>>> df6.attrs["dropped"]                       # doctest: +SKIP
{'boredom': 81}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Canonical emotion names (the ``emotion`` column of every corpus table).
EMOTIONS = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sad",
    "boredom",
    "calm",
    "surprise",
    "excited",
    "frustrated",
    "other",
    "no_agreement",
)

#: Per corpus: native label (as written in the file name or label file) -> canonical emotion.
NATIVE_LABELS: dict[str, dict[str, str]] = {
    "emodb": {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy", "T": "sad", "N": "neutral"},
    "ravdess": {
        "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
        "05": "angry", "06": "fear", "07": "disgust", "08": "surprise",
    },
    "cremad": {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"},
    "tess": {
        "angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
        "neutral": "neutral", "sad": "sad", "ps": "surprise",
    },
    "savee": {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprise"},
    "iemocap": {
        "ang": "angry", "hap": "happy", "exc": "excited", "fru": "frustrated", "neu": "neutral",
        "sad": "sad", "sur": "surprise", "fea": "fear", "dis": "disgust",
        "oth": "other", "xxx": "no_agreement",
    },
}

#: Task name -> the emotions it classifies, in the order of the model's outputs.
TASKS: dict[str, tuple[str, ...]] = {
    "emotion6": ("angry", "disgust", "fear", "happy", "neutral", "sad"),
    "emodb7": ("angry", "boredom", "disgust", "fear", "happy", "neutral", "sad"),
    "ravdess8": ("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    "iemocap6": ("angry", "excited", "frustrated", "happy", "neutral", "sad"),
    "iemocap4": ("angry", "happy", "neutral", "sad"),
}

#: Task name -> relabelling applied before filtering (emotion -> emotion it counts as).
TASK_MERGES: dict[str, dict[str, str]] = {
    "iemocap4": {"excited": "happy"},
}

DEFAULT_TASK = "emotion6"

# Spellings met in folder names and CSV files -> canonical name (see `canonical_emotion`).
_SYNONYMS = {
    "anger": "angry", "ang": "angry", "mad": "angry",
    "disgusted": "disgust", "dis": "disgust",
    "fearful": "fear", "afraid": "fear", "fea": "fear",
    "happiness": "happy", "joy": "happy", "hap": "happy",
    "neu": "neutral",
    "sadness": "sad",
    "bored": "boredom",
    "surprised": "surprise", "sur": "surprise", "ps": "surprise",
    "pleasant_surprise": "surprise", "pleasant_surprised": "surprise",
    "exc": "excited", "excitement": "excited",
    "fru": "frustrated", "frustration": "frustrated",
}


def canonical_emotion(name: str) -> str:
    """The canonical spelling of a free-form emotion name (folder names, CSV files).

    Lower-cases, turns spaces and dashes into underscores and maps common synonyms
    ("anger", "fearful", "happiness", ...). Names it does not know are returned normalised
    but otherwise unchanged, so a custom vocabulary still works.

    Examples
    --------
    >>> canonical_emotion("Anger")
    'angry'
    >>> canonical_emotion("pleasant surprise")
    'surprise'
    """
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return _SYNONYMS.get(key, key)


def task_labels(task: str | Sequence[str]) -> tuple[str, ...]:
    """The emotions of ``task``: a name from :data:`TASKS` or a sequence of emotions.

    Examples
    --------
    >>> task_labels("iemocap4")
    ('angry', 'happy', 'neutral', 'sad')
    >>> task_labels(["sad", "happy"])
    ('sad', 'happy')
    """
    if isinstance(task, str):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
        return TASKS[task]
    emotions = tuple(task)
    if not emotions or len(set(emotions)) != len(emotions):
        raise ValueError(f"a task needs distinct emotions, got {emotions!r}")
    return emotions


def select_task(df, task: str | Sequence[str] = DEFAULT_TASK, mapping_overrides: Mapping | None = None):
    """Rows of ``df`` whose emotion belongs to ``task``, relabelled where the task merges.

    Parameters
    ----------
    df : pandas.DataFrame
        A corpus table (:func:`serwidgets.corpora.load_corpus`) with ``emotion`` (and, for
        per-corpus overrides, ``corpus`` and ``native_label``) columns.
    task : str or sequence of str
        A name from :data:`TASKS` or a custom tuple of canonical emotions.
    mapping_overrides : mapping, optional
        Relabelling applied after the task's own merges and before filtering. Keys are
        canonical emotions (``{"calm": "neutral"}`` relabels calm everywhere) or
        ``(corpus, native_label)`` pairs (``{("ravdess", "02"): "neutral"}``); a value of
        ``None`` drops those rows.

    Returns
    -------
    pandas.DataFrame
        The kept rows with a fresh 0..n-1 index (split indices are positional). ``attrs``
        keeps the input's and adds ``task`` (the name, or None for a custom tuple),
        ``labels`` (the task's emotions) and ``dropped`` (emotion -> rows dropped).
        Rows whose emotion was changed keep the original in ``native_label``.

    Examples
    --------
    >>> df6 = select_task(df, "emotion6")                            # doctest: +SKIP
    >>> df6.attrs["dropped"]                                         # doctest: +SKIP
    {'boredom': 81}
    >>> select_task(df, ("angry", "neutral"), {"calm": "neutral"})   # doctest: +SKIP
    """
    labels = task_labels(task)
    emotion = df["emotion"].copy()
    merges = dict(TASK_MERGES.get(task, {})) if isinstance(task, str) else {}
    for source, target in merges.items():
        emotion[emotion == source] = target
    for key, target in (mapping_overrides or {}).items():
        if isinstance(key, tuple):
            corpus, native = key
            mask = (df["corpus"] == corpus) & (df["native_label"].astype(str) == str(native))
        else:
            mask = df["emotion"] == key
        emotion[mask] = target
    keep = emotion.isin(labels)
    dropped = df.loc[~keep, "emotion"].fillna("<none>").value_counts().sort_index()
    out = df.loc[keep].copy()
    out["emotion"] = emotion[keep]
    out = out.reset_index(drop=True)
    out.attrs = dict(df.attrs)
    out.attrs.update(
        task=task if isinstance(task, str) else None,
        labels=labels,
        dropped={str(k): int(v) for k, v in dropped.items()},
    )
    return out
