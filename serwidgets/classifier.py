"""The contract every trainable classifier keeps, and the code they share (:class:`Classifier`).

A classifier is a scikit-learn estimator trained on the rows of a corpus table
(:mod:`serwidgets.corpora`): ``fit(df)`` trains on every row (validation speakers, if its recipe
wants them, are held out inside, through :func:`serwidgets.splits.validation_split`);
``predict_proba(df)`` gives probabilities in the order of ``classes_`` (uniform for a file that
cannot be used, which ``skipped_files(df)`` names); ``save(directory, task=...)`` writes a bundle
with one card that :func:`serwidgets.model.load_model` reads. ``__init__`` only stores its
parameters, so :func:`sklearn.base.clone` makes an unfitted copy (evaluate fits one per fold);
what ``fit`` learns ends in ``_``. The three: :class:`serwidgets.train.NetClassifier`,
:class:`serwidgets.baseline.BaselineClassifier`, :class:`serwidgets.embedding_classifier.EmbeddingClassifier`.

Examples
--------
>>> import pandas as pd
>>> class Majority(Classifier):
...     name = "majority"
...     def __init__(self, labels):
...         self.labels = labels
...     def to_recipe(self):
...         return {}
...     def fit(self, df):
...         self.prior_ = np.bincount(self._targets(df), minlength=len(self.labels)) / len(df)
...         self._fitted(df, share=float(self.prior_.max()))
...         return self
...     def predict_proba(self, df):
...         self._check_fitted("predicting")
...         return self._uniform_where(np.ones(len(df), bool), np.tile(self.prior_, (len(df), 1)))
>>> df = pd.DataFrame({"emotion": ["sad", "sad", "angry"], "speaker": ["a", "a", "b"], "corpus": "toy"})
>>> clf = Majority(("angry", "sad")).fit(df)
>>> clf.predict_proba(df[:1]).round(2), clf.chosen_, clf.training_["counts"]
(array([[0.33, 0.67]]), {'share': 0.6666666666666666}, {'toy/angry': 1, 'toy/sad': 2})
>>> Majority(("angry",)).fit(df)
Traceback (most recent call last):
...
ValueError: emotions ['sad'] are not in the labels ('angry',)
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["Classifier"]


class Classifier(BaseEstimator):
    """Base of the trainable classifiers (see the module docstring for the contract).

    A subclass writes ``__init__`` (storing ``labels`` and its other parameters), :meth:`to_recipe`,
    ``fit`` (calling :meth:`_fitted`), ``predict_proba``, ``skipped_files`` and ``_save``. :meth:`_fitted`
    sets ``classes_`` (the labels in output order), ``chosen_`` (what ``fit`` chose on its training
    side: ``C``, ``layers``, ``best_epoch``, ``n_val``; results record it per fold) and ``training_``
    (the card's ``training``: corpora, clips, speakers, counts per ``corpus/emotion``, recipe, chosen).
    """

    #: The learner kind, as results files and the command line name it.
    name: ClassVar[str] = ""

    def to_recipe(self) -> dict:
        """The parameters that shape the fit, as JSON (what results files record as ``recipe``).

        :meth:`from_recipe` makes the same classifier again from it.
        """
        raise NotImplementedError

    @classmethod
    def from_recipe(cls, labels, recipe: dict, **options) -> Classifier:
        """The classifier whose :meth:`to_recipe` is ``recipe`` (``options``: its other parameters)."""
        return cls(labels, **recipe, **options)

    # -- what fit shares -------------------------------------------------------------------------
    def _targets(self, df) -> np.ndarray:
        """Index into ``labels`` of each row's emotion; an emotion outside them is refused."""
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = sorted(set(df["emotion"]) - set(index))
        if unknown:
            raise ValueError(f"emotions {unknown} are not in the labels {tuple(self.labels)}")
        return df["emotion"].map(index).to_numpy(np.int64)

    def _fitted(self, df, **chosen) -> None:
        """Record what a fit on ``df`` learnt besides its weights: classes, choices, training data."""
        counts = df.groupby(["corpus", "emotion"]).size()
        self.classes_ = tuple(self.labels)
        self.chosen_ = chosen
        self.training_ = {
            "corpora": sorted(map(str, df["corpus"].unique())), "clips": int(len(df)),
            "speakers": int(df["speaker"].nunique()),
            "counts": {f"{c}/{e}": int(n) for (c, e), n in counts.items()},
            "recipe": self.to_recipe(), "chosen": chosen,
        }

    def _choose(self, candidates, fit_predict, y, speakers, n_folds: int):
        """``(best, {candidate: UA})``: the candidate with the best UA in a speaker-grouped CV.

        ``fit_predict(candidate, train, test)`` returns the labels a model of ``candidate`` fitted
        on rows ``train`` (positions into ``y``) predicts for rows ``test``; UA is scored on the
        pooled out-of-fold predictions of ``n_folds`` folds (fewer with fewer speakers); ties go
        to the first candidate.
        """
        from sklearn.metrics import balanced_accuracy_score
        from sklearn.model_selection import GroupKFold

        folds = list(GroupKFold(min(n_folds, len(np.unique(speakers)))).split(y, y, speakers))
        scores = {}
        for candidate in candidates:
            predicted = np.empty_like(y)
            for train, test in folds:
                predicted[test] = fit_predict(candidate, train, test)
            scores[candidate] = float(balanced_accuracy_score(y, predicted))
        return max(scores, key=scores.get), scores

    def _check_fitted(self, doing: str) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError(f"fit the classifier before {doing}")

    def _uniform_where(self, usable, probabilities) -> np.ndarray:
        """``(len(usable), k)``: ``probabilities`` on the usable rows, uniform on the others
        (a file that cannot be used says nothing about the emotion)."""
        k = len(self.classes_)
        out = np.full((len(usable), k), 1.0 / k)
        out[np.asarray(usable, bool)] = probabilities
        return out

    # -- saving ----------------------------------------------------------------------------------
    def save(self, directory, *, task: str, metrics: dict | None = None, name: str | None = None,
             description: str = "") -> Path:
        """Write the fitted classifier as a bundle in ``directory`` (created): its files and one card.

        ``task`` names the labels (:data:`serwidgets.labels.TASKS`); ``metrics``: held-out scores of
        the same recipe (e.g. a cross-validation's); ``name`` defaults to the folder's name.
        Returns ``directory`` as a :class:`~pathlib.Path`.
        """
        self._check_fitted("saving it")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save(directory, name=name or directory.name, description=description, task=task,
                   labels=self.classes_, training=self.training_, metrics=metrics or {})
        return directory

    def _save(self, directory: Path, **card_fields) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot be saved as a bundle")
