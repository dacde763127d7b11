"""New tasks from a few takes: accuracy against takes per class, for three kinds of learner.

What notebook 05 ("A new task from five examples") plots: tasks the shipped model was never
trained for, taught from 1 to 20 takes per class, scored on clips of *other* speakers (or, where
the task is the speaker, of other sentences):

``intensity``     RAVDESS normal vs strong intensity (every emotion but neutral, which has no strong);
                  actors in two halves (half the men, half the women each): takes from one, test on the other
``calm-neutral``  RAVDESS calm vs neutral; the same actor split
``speaker``       which of 6 RAVDESS actors (3 men, 3 women, drawn per seed) is speaking: takes from one
                  of the two sentences, test on the other
``language``      German / Italian / Polish (EmoDB / EMOVO / nEMO), each corpus's speakers in two halves;
                  language is confounded with corpus (microphone, room, sentences): a contrast, not a result

Learners (:data:`LEARNERS`):

``encoder``  the frozen encoder's pooled states + :class:`~serwidgets.personal.PersonalClassifier`
             (what :func:`serwidgets.teach` fits, without the emotion prior: the shipped head that
             gives it was trained on RAVDESS's actors)
``egemaps``  eGeMAPS functionals + standardisation + logistic regression (C = 0.1, fixed in advance)
``stats``    the package's "stats" functionals + the same
``cnn``      the Zhao 2019 log-mel CNN-LSTM trained from scratch (the package's recipe, ``epochs`` epochs)

Each seed redraws the split and the takes; the test side is at most ``test`` clips per task
(stratified, the same clips for every learner and number of takes). The full run is committed
(``results/new-tasks.csv``, ``scripts/run_new_tasks.py``); :func:`load_curves` reads it,
:func:`serwidgets.plots.accuracy_vs_takes` draws it and :func:`serwidgets.results.new_tasks_table`
tabulates it.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"target": ["a", "a", "a", "b", "b"], "x": range(5)})
>>> sorted(draw(rows, 2, seed=0).target)              # 2 takes per class (fewer if a class has fewer)
['a', 'a', 'b', 'b']
>>> curves = load_curves()                            # the committed full run
>>> sorted(curves.learner.unique()), sorted(curves.takes.unique().tolist())
(['cnn', 'egemaps', 'encoder', 'stats'], [1, 2, 3, 5, 10, 20])
>>> ua = curves.groupby(["task", "learner", "takes"]).ua.mean()   # over draws (serwidgets.results.new_tasks_table)
>>> bool(ua["speaker", "encoder", 5] > ua["speaker", "cnn", 5])
True
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["TASKS", "TITLES", "TAKES", "LEARNERS", "task_table", "split", "draw", "run", "load_curves"]

#: Tasks, and the number of classes each has (chance is one over it).
TASKS = {"intensity": 2, "calm-neutral": 2, "speaker": 6, "language": 3}
#: What each task asks, in a figure's words.
TITLES = {"intensity": "RAVDESS: normal vs strong intensity", "calm-neutral": "RAVDESS: calm vs neutral",
          "speaker": "RAVDESS: which of 6 actors (other sentence)",
          "language": "German / Italian / Polish (= corpus)"}
#: Takes per class along the curve.
TAKES = (1, 2, 3, 5, 10, 20)
LEARNERS = ("encoder", "egemaps", "stats", "cnn")
_COLUMNS = ["task", "learner", "takes", "seed", "ua", "n_train", "n_test", "seconds"]


def task_table(name: str, df):
    """The rows of corpus table ``df`` that task ``name`` uses, its classes in a ``target`` column."""
    ravdess = df[df.corpus == "ravdess"]
    if name == "intensity":
        t = ravdess[ravdess.emotion != "neutral"].assign(target=lambda d: d.intensity)
    elif name == "calm-neutral":
        t = ravdess[ravdess.emotion.isin(["calm", "neutral"])].assign(target=lambda d: d.emotion)
    elif name == "speaker":
        t = ravdess.assign(target=lambda d: d.speaker)
    elif name == "language":
        t = df[df.corpus.isin(["emodb", "emovo", "nemo"])].assign(target=lambda d: d.language)
    else:
        raise ValueError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
    return t.reset_index(drop=True)


def _half(speakers, rng, gender=None) -> set:
    speakers = sorted(speakers)
    if gender is None:
        rng.shuffle(speakers)
        return set(speakers[: len(speakers) // 2])
    out = set()
    for g in sorted(set(gender.values())):
        group = [s for s in speakers if gender[s] == g]
        rng.shuffle(group)
        out |= set(group[: len(group) // 2])
    return out


def split(name: str, t, seed: int):
    """``(pool, test)``: where takes are drawn from, and the clips they are scored on (disjoint
    speakers; for ``speaker``, disjoint sentences)."""
    rng = np.random.default_rng(seed)
    if name == "speaker":
        gender = t.groupby("speaker").gender.first().to_dict()
        actors = [a for g in ("m", "f")
                  for a in rng.choice(sorted(s for s in gender if gender[s] == g), 3, replace=False)]
        t = t[t.speaker.isin(actors)]
        statements = sorted(t.statement.unique())
        taught = statements[rng.integers(2)]
        return t[t.statement == taught], t[t.statement != taught]
    if name == "language":
        train = set()
        for _, g in t.groupby("corpus"):
            train |= _half(g.speaker.unique(), rng)
    else:
        train = _half(t.speaker.unique(), rng, t.groupby("speaker").gender.first().to_dict())
    return t[t.speaker.isin(train)], t[~t.speaker.isin(train)]


def draw(t, n: int, seed: int):
    """At most ``n`` rows of each class of ``t`` (its ``target``), drawn at random (seeded)."""
    rng = np.random.default_rng(seed)
    keep = [i for _, g in t.groupby("target")
            for i in rng.choice(g.index.to_numpy(), min(len(g), n), replace=False)]
    return t.loc[keep].reset_index(drop=True)


def _ua(y, predicted) -> float:
    y, predicted = np.asarray(y), np.asarray(predicted)
    return float(np.mean([(predicted[y == c] == c).mean() for c in np.unique(y)]))


# -- learners: fit on train's target, the labels of test ------------------------------------------

def _encoder(train, test, labels, seed, options):
    from serwidgets import embeddings
    from serwidgets.personal import PersonalClassifier

    X, X_test = (embeddings.cached_embeddings(d, progress=False, log=None) for d in (train, test))
    usable = ~np.isnan(X.reshape(len(X), -1)).any(1)
    clf = PersonalClassifier(labels=labels, min_takes=1, std_floor=options["std_floor"])
    clf.fit(X[usable], train.target[usable])
    return clf.predict(np.nan_to_num(X_test))  # a test clip that cannot be encoded is scored as zeros


def _functionals(feature_set):
    def learn(train, test, labels, seed, options):
        from serwidgets.baseline import BaselineClassifier

        clf = BaselineClassifier(labels, feature_set=feature_set, C=0.1, seed=seed)
        clf.fit(train.assign(emotion=train.target))
        return [labels[j] for j in clf.predict_proba(test.assign(emotion=test.target)).argmax(1)]
    return learn


def _cnn(train, test, labels, seed, options):
    from serwidgets.train import NetClassifier, Recipe

    recipe = Recipe(epochs=options["epochs"], batch_size=16, seed=seed)
    clf = NetClassifier(labels, recipe=recipe, verbose=0).fit(train.assign(emotion=train.target))
    return [labels[j] for j in clf.predict_proba(test.assign(emotion=test.target)).argmax(1)]


_LEARN = {"encoder": _encoder, "egemaps": _functionals("egemaps"), "stats": _functionals("stats"), "cnn": _cnn}


def run(tasks=tuple(TASKS), learners=LEARNERS, takes=TAKES, seeds=(0, 1, 2), *, test: int = 300,
        epochs: int = 20, data_dir=None, log=print):
    """The curves: one row per task, learner, takes per class and seed (UA on the test side).

    Parameters
    ----------
    tasks, learners : sequence of str
        From :data:`TASKS` and :data:`LEARNERS`.
    takes : sequence of int
        Takes per class.
    seeds : sequence of int
        Each redraws the split and the takes.
    test : int
        At most this many test clips per task (as many of each class as can be).
    epochs : int
        Of the CNN.
    data_dir : str, optional
        The corpora's folder (default ``$SER_DATA``).
    log : callable or None
        Called with each row as it is measured.

    Returns
    -------
    pandas.DataFrame
        Columns ``task, learner, takes, seed, ua, n_train, n_test, seconds``.
    """
    import pandas as pd

    from serwidgets import corpora
    from serwidgets.model import load_model

    unknown = sorted(set(tasks) - set(TASKS)) + sorted(set(learners) - set(LEARNERS))
    if unknown:
        raise ValueError(f"unknown tasks or learners {unknown}; tasks {list(TASKS)}, learners {list(LEARNERS)}")
    names = ["ravdess"] + (["emodb", "emovo", "nemo"] if "language" in tasks else [])
    df = corpora.load_corpora(names, data_dir=data_dir).reset_index(drop=True)
    # The std floor teach uses: a share of the shipped model's training speakers' typical std.
    options = {"epochs": epochs, "std_floor": load_model().head.std_floor_ if "encoder" in learners else None}
    rows = []
    for name in tasks:
        t = task_table(name, df)
        for seed in seeds:
            pool, held = split(name, t, seed)
            labels = sorted(pool.target.unique())
            held = draw(held, max(1, test // held.target.nunique()), seed)
            for n in takes:
                train = draw(pool, n, 1000 * seed + n)
                for learner in learners:
                    start = time.time()
                    predicted = _LEARN[learner](train, held, labels, seed, options)
                    rows.append({"task": name, "learner": learner, "takes": n, "seed": seed,
                                 "ua": _ua(held.target, predicted), "n_train": len(train), "n_test": len(held),
                                 "seconds": round(time.time() - start, 2)})
                    if log is not None:
                        log(rows[-1])
    return pd.DataFrame(rows, columns=_COLUMNS)


def load_curves(directory=None):
    """The committed full run: :data:`serwidgets.results.NEW_TASKS` in ``directory`` (default: the
    checkout's ``results/``)."""
    import pandas as pd

    from serwidgets.results import NEW_TASKS, default_directory

    return pd.read_csv(Path(directory or default_directory()) / NEW_TASKS)
