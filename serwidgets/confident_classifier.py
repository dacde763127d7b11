"""ConfidentClassifier: a classifier whose confidence is calibrated for strangers inside its own training side.

A meta-estimator in the manner of scikit-learn's ``CalibratedClassifierCV``: ``fit(df)`` fits the
classifier on every row, and fits a :class:`~serwidgets.confidence.Confidence` on *out-of-corpus*
predictions of the same rows -- each training corpus predicted by a clone fitted on the other
training corpora (:func:`out_of_corpus_predictions`) -- so nothing of a test corpus shapes it. In
a leave-one-corpus-out evaluation (:func:`serwidgets.evaluate.evaluate` clones it per fold) the
confidence of every fold is thus fitted on an inner leave-one-corpus-out of its training side.

Each calibration state of :data:`serwidgets.confidence.STATES` gets its rule, fitted on
predictions made in that state: the heads as they are; calibrated to each speaker with
``clips`` unlabelled clips drawn round-robin over their emotions (as the dashboard's prompts ask
for them; those clips are not scored); the same clips with their emotion as a label, where the
rule's signal is the head's leave-one-out accuracy on them (:data:`RULE_SIGNALS`).

:meth:`ConfidentClassifier.predict_proba` returns the rescaled probabilities; ``save`` writes the
classifier's bundle with the confidence in its card, which :func:`serwidgets.model.load_model`
applies (:class:`serwidgets.model.EncoderModel`).

Examples
--------
>>> from serwidgets.embedding_classifier import EmbeddingClassifier
>>> clf = ConfidentClassifier(EmbeddingClassifier(("angry", "neutral", "sad")))
>>> clf.name, clf.labels, clf.to_recipe()["confidence"]
('whisper', ('angry', 'neutral', 'sad'), {'target_accuracy': 0.75, 'clips': 10})
>>> clf.fit(train_df).predict_proba(test_df)                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from serwidgets.calibration import GOOD_CALIBRATION_CLIPS
from serwidgets.classifier import Classifier
from serwidgets.confidence import STATES, TARGET_ACCURACY, Confidence, fit_rule

__all__ = ["ConfidentClassifier", "out_of_corpus_predictions", "fit_confidence", "RULE_SIGNALS"]

#: The signals of each state's rule. Measured (research report of issue 18): per-clip signals
#: (typicality, class distance, entropy) did not beat one temperature uncalibrated; the head's
#: accuracy on the speaker's labelled takes did (leave one corpus out, ECE max 0.29 -> 0.11).
RULE_SIGNALS = {"uncalibrated": (), "calibrated": (), "calibrated_labelled": ("takes_accuracy_logit",)}

# Fitted confidences by parameters and training rows: the protocols of one run (uncalibrated,
# calibrated, labelled) fit the same folds, and the heads under them are memoised the same way.
_DONE: dict = {}
_DONE_MAX = 16


def out_of_corpus_predictions(df, estimator, *, trained_on=None, clips: int = GOOD_CALIBRATION_CLIPS, seed: int = 0,
                              log=None) -> dict:
    """Predictions of every corpus of ``df`` by a clone of ``estimator`` that never saw it, per calibration state.

    Parameters
    ----------
    df : pandas.DataFrame
        A corpus table (usable rows only) of the estimator's task.
    estimator : Classifier
        Cloned and fitted per corpus; it must be calibratable (``calibrate``, ``calibration_head``).
    trained_on : sequence of str, optional
        The corpora the model is trained on (default: all of ``df``'s). A corpus among them is
        predicted by a clone fitted on the *others*; a corpus outside them by a clone fitted on
        all of them (the model itself).
    clips : int
        Calibration clips per speaker (round-robin over their emotions; not scored).
    seed : int
        Of the calibration draws.
    log : callable, optional
        Progress messages.

    Returns
    -------
    dict
        State -> ``(probabilities (n, k), y (n,), signals (n, m), corpus (n,))``, the signals those
        of :data:`RULE_SIGNALS` (states with no scored clip are left out).
    """
    from sklearn.base import clone

    from serwidgets.confidence import SIGNALS
    from serwidgets.evaluate import CalibrationDraw, calibrate_test_speakers

    corpus = df["corpus"].astype(str).to_numpy()
    speakers = df["speaker"].to_numpy()
    trained_on = sorted(set(corpus)) if trained_on is None else sorted(trained_on)
    y = df["emotion"].map({label: i for i, label in enumerate(estimator.labels)}).to_numpy()
    parts = {state: [] for state in STATES}
    for c in sorted(set(corpus)):
        train = np.isin(corpus, trained_on) & (corpus != c)
        if not train.any():
            continue
        fitted = clone(estimator).fit(df[train])
        test = np.flatnonzero(corpus == c)
        p = fitted.predict_proba(df.iloc[test])
        parts["uncalibrated"].append((p, y[test], np.zeros((len(test), 0)), corpus[test]))
        for state, labelled in (("calibrated", False), ("calibrated_labelled", True)):
            scored, calibrations, _ = calibrate_test_speakers(fitted, df, test, CalibrationDraw(clips, labelled=labelled),
                                                              seed)
            if not scored.size:
                continue
            head = fitted.calibration_head
            values = {s: [SIGNALS[name](cal, head) for name in RULE_SIGNALS[state]] for s, cal in calibrations.items()}
            signals = np.array([values[s] for s in speakers[scored]], np.float64).reshape(len(scored), -1)
            parts[state].append((fitted.predict_proba(df.iloc[scored], calibrations=calibrations), y[scored], signals,
                                 corpus[scored]))
        if log is not None:
            log(f"out-of-corpus predictions of {c} (by a model of {', '.join(sorted(set(corpus[train])))})")
    if not parts["uncalibrated"]:
        raise ValueError("out-of-corpus predictions need at least two corpora (one to train on, one to predict)")
    return {state: tuple(np.concatenate([part[i] for part in chunks]) for i in range(4))
            for state, chunks in parts.items() if chunks}


def fit_confidence(predictions: dict, *, target_accuracy: float = TARGET_ACCURACY, fitted_on: dict | None = None
                   ) -> Confidence:
    """A :class:`~serwidgets.confidence.Confidence` fitted on :func:`out_of_corpus_predictions`.

    Each state's rule (signals :data:`RULE_SIGNALS`) is fitted with every held-out corpus
    weighing the same, its threshold chosen for ``target_accuracy`` among the clips shown as sure.
    """
    rules, provenance = {}, dict(fitted_on or {})
    for state, (p, y, signals, groups) in predictions.items():
        rules[state] = fit_rule(p, y, signals, names=RULE_SIGNALS[state], groups=groups,
                                target_accuracy=target_accuracy)
        provenance[state] = {"clips": int(len(y)), "corpora": sorted(map(str, set(groups)))}
    return Confidence(rules, target_accuracy=target_accuracy, fitted_on=provenance)


class ConfidentClassifier(Classifier):
    """A calibratable classifier with confidence calibrated for strangers (see the module docstring).

    Parameters
    ----------
    estimator : Classifier
        What classifies, e.g. :class:`~serwidgets.embedding_classifier.EmbeddingClassifier`; it must
        be calibratable to a speaker.
    target_accuracy : float
        Accuracy among the clips shown as sure that each rule's threshold is chosen for.
    clips : int
        Calibration clips per speaker in the calibrated states' fitting predictions.

    Attributes
    ----------
    estimator_ : Classifier
        ``estimator`` fitted on every row.
    confidence_ : serwidgets.confidence.Confidence
    """

    def __init__(self, estimator, target_accuracy: float = TARGET_ACCURACY, clips: int = GOOD_CALIBRATION_CLIPS):
        self.estimator = estimator
        self.target_accuracy = target_accuracy
        self.clips = clips

    @property
    def name(self) -> str:
        return self.estimator.name

    @property
    def labels(self):
        return self.estimator.labels

    def to_recipe(self) -> dict:
        return {**self.estimator.to_recipe(),
                "confidence": {"target_accuracy": self.target_accuracy, "clips": self.clips}}

    @classmethod
    def from_recipe(cls, labels, recipe: dict, estimator_class=None, **options) -> ConfidentClassifier:
        """The classifier of :meth:`to_recipe`'s ``recipe`` around ``estimator_class`` (default:
        :class:`~serwidgets.embedding_classifier.EmbeddingClassifier`)."""
        if estimator_class is None:
            from serwidgets.embedding_classifier import EmbeddingClassifier as estimator_class
        recipe = dict(recipe)
        confidence = recipe.pop("confidence")
        return cls(estimator_class.from_recipe(labels, recipe, **options), **confidence)

    def skipped_files(self, df) -> dict:
        return self.estimator.skipped_files(df)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, df):
        """Fit the estimator on ``df``, and the confidence on out-of-corpus predictions of ``df``."""
        from sklearn.base import clone

        self.estimator_ = clone(self.estimator).fit(df)
        rows = [list(map(str, df[column])) for column in ("path", "emotion", "speaker", "corpus")]
        key = hashlib.sha256(json.dumps([repr(sorted(self.get_params().items())), rows]).encode()).hexdigest()
        if key not in _DONE:
            _DONE[key] = fit_confidence(out_of_corpus_predictions(df, self.estimator, clips=self.clips),
                                        target_accuracy=self.target_accuracy,
                                        fitted_on={"predictions": "leave one training corpus out of the training side"})
            while len(_DONE) > _DONE_MAX:
                _DONE.pop(next(iter(_DONE)))
        self.confidence_ = _DONE[key]
        chosen = {**getattr(self.estimator_, "chosen_", {}), "confidence": {
            state: {"temperature": round(float(np.exp(rule.intercept)), 4), "threshold": round(rule.threshold, 4)}
            for state, rule in self.confidence_.rules.items()}}
        self._fitted(df, **chosen)
        return self

    # -- using it --------------------------------------------------------------------------
    @property
    def calibration_head(self):
        return self.estimator_.calibration_head

    def calibrate(self, df, labels=None):
        """The estimator's :meth:`calibrate` (a speaker's calibration belongs to the encoder, not to this)."""
        self._check_fitted("calibrating")
        return self.estimator_.calibrate(df, labels=labels)

    def predict_proba(self, df, calibrations: dict | None = None) -> np.ndarray:
        """The estimator's probabilities, rescaled by the rule of each speaker's calibration state."""
        self._check_fitted("predicting")
        p = (self.estimator_.predict_proba(df, calibrations=calibrations) if calibrations
             else self.estimator_.predict_proba(df))
        out = self.confidence_.probabilities(p)
        speakers = df["speaker"].to_numpy()
        head = self.calibration_head if calibrations else None
        for speaker, calibration in (calibrations or {}).items():
            rows = speakers == speaker
            if rows.any():
                out[rows] = self.confidence_.probabilities(p[rows], calibration, head)
        return out

    def _save(self, directory, **card_fields) -> None:
        from serwidgets.card import EncoderHeadCard

        self.estimator_._save(directory, **card_fields)
        card = EncoderHeadCard.read(directory)
        card.confidence = self.confidence_
        card.write(directory)
