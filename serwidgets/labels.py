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
- ASED (Amharic): n1 neutral, f2 (fearful) fear, h3 happy, s4 sad, a5 angry.
- EMOVO (Italian): dis disgust, gio (gioia, joy) happy, neu neutral, pau (paura) fear,
  rab (rabbia, anger) angry, sor (sorpresa) surprise, tri (tristezza, sadness) sad.
- URDU (natural talk-show speech): A angry, H happy, N neutral, S sad.
- korean-emotiontts (Korean): utterance hundreds 0 neutral, 1 happy, 2 angry, 3 sad.
- nEMO (Polish): anger angry, fear fear, happiness happy, neutral neutral, sadness sad,
  surprised surprise.

Tasks (:data:`TASKS`):

- ``"emotion6"`` (default): angry, disgust, fear, happy, neutral, sad -- the six emotions
  every public acted corpus above shares. It drops EmoDB boredom, RAVDESS calm and
  surprised, TESS pleasant surprise and SAVEE surprise.
- ``"emotion4"``: angry, happy, neutral, sad -- the four emotions *every* corpus has, URDU and
  the Korean emotiontts included: the task for comparing corpora (leave one corpus out) without
  classes a held-out corpus lacks or that no training corpus has.
- ``"emodb7"``, ``"ravdess8"``: each corpus's full native set.
- ``"iemocap6"``: angry, excited, frustrated, happy, neutral, sad.
- ``"iemocap4"``: angry, happy, neutral, sad with excited merged into happy (the usual
  setting in the IEMOCAP literature).

Which corpora contribute which classes (:func:`task_coverage` counts them in a table;
:func:`corpus_classes` reads them off the label maps). A corpus lacking a class simply
contributes none of it; ``emotion6``:

==================  =====  =======  ====  =====  =======  ===
corpus              angry  disgust  fear  happy  neutral  sad
==================  =====  =======  ====  =====  =======  ===
emodb               x      x        x     x      x        x
ravdess             x      x        x     x      x        x
cremad, tess, savee x      x        x     x      x        x
iemocap             x      x        x     x      x        x
ased                x               x     x      x        x
emovo               x      x        x     x      x        x
urdu                x                     x      x        x
korean-emotiontts   x                     x      x        x
nemo                x               x     x      x        x
==================  =====  =======  ====  =====  =======  ===

(IEMOCAP's fear and disgust are a handful of clips.) Surprise (EMOVO, nEMO, RAVDESS, TESS,
SAVEE) is in no shared task; ``emotion6`` drops it.

Mixing corpora: :func:`balance_weights` gives per-row sample weights so that neither the
largest corpus nor the most frequent class dominates a classifier's loss.

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
    "ased": {"n1": "neutral", "f2": "fear", "h3": "happy", "s4": "sad", "a5": "angry"},
    "emovo": {
        "dis": "disgust", "gio": "happy", "neu": "neutral", "pau": "fear",
        "rab": "angry", "sor": "surprise", "tri": "sad",
    },
    "urdu": {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"},
    "korean-emotiontts": {"0": "neutral", "1": "happy", "2": "angry", "3": "sad"},
    "nemo": {
        "anger": "angry", "fear": "fear", "happiness": "happy", "neutral": "neutral",
        "sadness": "sad", "surprised": "surprise",
    },
}

#: Task name -> the emotions it classifies, in the order of the model's outputs.
TASKS: dict[str, tuple[str, ...]] = {
    "emotion6": ("angry", "disgust", "fear", "happy", "neutral", "sad"),
    "emotion4": ("angry", "happy", "neutral", "sad"),
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


def corpus_classes(
    task: str | Sequence[str] = DEFAULT_TASK, corpora: Sequence[str] | None = None
) -> dict[str, tuple[str, ...]]:
    """Which of ``task``'s classes each corpus *can* contribute, read from :data:`NATIVE_LABELS`.

    The task's merges count (``iemocap4``: IEMOCAP's excited counts as happy). Use
    :func:`task_coverage` for the counts in an actual table.

    Parameters
    ----------
    task : str or sequence of str
    corpora : sequence of str, optional
        Corpus names (default: every corpus with a label map).

    Returns
    -------
    dict
        Corpus -> the task's emotions it has, in the task's order.

    Examples
    --------
    >>> corpus_classes("emotion6", ["urdu", "ased"])
    {'urdu': ('angry', 'happy', 'neutral', 'sad'), 'ased': ('angry', 'fear', 'happy', 'neutral', 'sad')}
    """
    labels = task_labels(task)
    merges = TASK_MERGES.get(task, {}) if isinstance(task, str) else {}
    out = {}
    for corpus in corpora if corpora is not None else NATIVE_LABELS:
        have = {merges.get(e, e) for e in NATIVE_LABELS[corpus].values()}
        out[corpus] = tuple(e for e in labels if e in have)
    return out


def task_coverage(df, task: str | Sequence[str] = DEFAULT_TASK):
    """Clips per corpus and class of ``task`` in a corpus table: which corpora contribute what.

    Parameters
    ----------
    df : pandas.DataFrame
        A corpus table (``corpus`` and ``emotion`` columns), before or after
        :func:`select_task` (the task's merges are applied here too).
    task : str or sequence of str

    Returns
    -------
    pandas.DataFrame
        One row per corpus (in order of appearance), one column per class of the task, in the
        task's order; 0 where a corpus has none of a class. A ``total`` column adds the clips
        the task keeps.

    Examples
    --------
    >>> import pandas as pd
    >>> toy = pd.DataFrame({"corpus": ["a", "a", "b"], "emotion": ["sad", "calm", "angry"]})
    >>> task_coverage(toy, ("angry", "sad")).to_dict("index")
    {'a': {'angry': 0, 'sad': 1, 'total': 1}, 'b': {'angry': 1, 'sad': 0, 'total': 1}}
    """
    import pandas as pd

    labels = task_labels(task)
    merges = TASK_MERGES.get(task, {}) if isinstance(task, str) else {}
    emotion = df["emotion"].replace(merges) if merges else df["emotion"]
    emotion = emotion.where(emotion.isin(labels))  # other classes are not counted (NaN)
    corpora = list(dict.fromkeys(df["corpus"]))
    table = pd.crosstab(pd.Categorical(df["corpus"], categories=corpora),
                        pd.Categorical(emotion, categories=labels), dropna=False)
    table = table.reindex(index=corpora, columns=list(labels), fill_value=0).astype(int)
    table.index.name, table.columns.name = "corpus", None
    table["total"] = table.sum(axis=1)
    return table


#: Schemes of :func:`balance_weights`.
BALANCE_SCHEMES = ("emotion-corpus", "cell", "corpus", "emotion")


def balance_weights(df, scheme: str = "emotion-corpus", normalize: bool = True):
    """Per-row sample weights that keep the largest corpus (and class) from dominating.

    Schemes (each is a different answer to "what should count equally?"):

    ``"emotion-corpus"`` (default)
        Every emotion gets the same total weight; within an emotion, every corpus that has
        it gets an equal share; within a (corpus, emotion) cell every clip the same. The
        classes are balanced, which is what UA (the headline metric) rewards, and no corpus
        drowns the others inside a class: nEMO's 390 happy clips weigh as much in all as
        URDU's 100. Weight of a clip = 1 / (K * C_e * n_ce) for K classes, C_e corpora having
        emotion e, n_ce clips in the cell.
    ``"cell"``
        Every (corpus, emotion) cell gets the same total weight. Classes that more corpora
        share weigh more in all.
    ``"corpus"``
        Every corpus gets the same total weight, split equally between its classes.
    ``"emotion"``
        Classic class balance, ignoring corpora (sklearn's ``class_weight="balanced"``).

    Parameters
    ----------
    df : pandas.DataFrame
        ``emotion`` and (except for ``"emotion"``) ``corpus`` columns; usually after
        :func:`select_task`.
    scheme : str
        One of :data:`BALANCE_SCHEMES`.
    normalize : bool
        Scale so the weights average 1 (sum = number of rows), the scale of unweighted
        training: a regularisation strength keeps its meaning. Otherwise they sum to 1.

    Returns
    -------
    numpy.ndarray
        float64, one weight per row of ``df`` (positional), e.g. for sklearn's
        ``fit(X, y, sample_weight=...)``.

    Examples
    --------
    >>> import pandas as pd
    >>> toy = pd.DataFrame({"corpus": ["big"] * 4 + ["small"] * 2,
    ...                     "emotion": ["sad", "sad", "sad", "angry", "sad", "angry"]})
    >>> balance_weights(toy, normalize=False).round(4).tolist()
    [0.0833, 0.0833, 0.0833, 0.25, 0.25, 0.25]
    """
    import numpy as np
    import pandas as pd

    if scheme not in BALANCE_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {BALANCE_SCHEMES}")
    if len(df) == 0:
        return np.zeros(0)
    emotion = df["emotion"].astype(str).reset_index(drop=True)
    if scheme == "emotion":
        weight = 1.0 / (emotion.nunique() * emotion.map(emotion.value_counts()))
    else:
        corpus = df["corpus"].astype(str).reset_index(drop=True)
        cells = pd.DataFrame({"corpus": corpus, "emotion": emotion})
        cell_size = cells.groupby(["corpus", "emotion"])["emotion"].transform("size")
        if scheme == "cell":
            weight = 1.0 / (len(cells.drop_duplicates()) * cell_size)
        elif scheme == "corpus":
            classes = cells.groupby("corpus")["emotion"].transform("nunique")
            weight = 1.0 / (corpus.nunique() * classes * cell_size)
        else:
            sharing = cells.groupby("emotion")["corpus"].transform("nunique")
            weight = 1.0 / (emotion.nunique() * sharing * cell_size)
    weight = weight.to_numpy(dtype=float)
    return weight * len(weight) if normalize else weight
