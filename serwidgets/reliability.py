"""Whether a model's confidence means something: calibration error, reliability and risk-coverage.

Three measures on the top probability of each clip and whether its top label is right:

- :func:`expected_calibration_error` (ECE): the mean gap between confidence and accuracy over
  :data:`ECE_BINS` equal-width bins of the top probability, weighted by the clips in each bin
  (0: a model that says 80 % is right 80 % of the time);
- :func:`reliability_table`: those bins themselves (what a reliability diagram draws,
  :func:`serwidgets.plots.reliability_diagram`);
- :func:`risk_coverage`: accuracy among the most confident share of the clips, for each share
  (what "not sure" below a threshold buys; :func:`serwidgets.plots.risk_coverage`), and
  :func:`selective`: accuracy among the clips shown as sure, and their share.

Numpy only. :func:`serwidgets.results.confidence_by_corpus` applies them to a result's saved
predictions, per held-out corpus.

Examples
--------
>>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
>>> y = np.array([0, 1, 0, 1])
>>> round(expected_calibration_error(p, y), 3)           # (0.1 + 0.8 + 0.4 + 0.3) / 4
0.4
>>> risk_coverage(p.max(1), p.argmax(1) == y, coverages=(0.25, 1.0))
{0.25: 1.0, 1.0: 0.75}
"""

from __future__ import annotations

import numpy as np

__all__ = ["expected_calibration_error", "reliability_table", "risk_coverage", "selective", "ECE_BINS", "COVERAGES"]

#: Equal-width bins of the top probability (the issue's ECE definition).
ECE_BINS = 10
#: Shares of the clips :func:`risk_coverage` reports by default.
COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _top(probabilities, y):
    p = np.asarray(probabilities, np.float64)
    return p.max(1), p.argmax(1) == np.asarray(y)


def _bins(confidence, bins):
    # (b/bins, (b+1)/bins]: a top probability of exactly 0.8 falls in the 0.7-0.8 bin
    return np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)


def expected_calibration_error(probabilities, y, bins: int = ECE_BINS) -> float:
    """ECE of ``(n, k)`` probabilities against true class indices ``y`` (top probability, ``bins`` bins).

    Examples
    --------
    >>> expected_calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]))
    0.4
    """
    confidence, correct = _top(probabilities, y)
    index = _bins(confidence, bins)
    total = sum((index == b).mean() * abs(correct[index == b].mean() - confidence[index == b].mean())
                for b in range(bins) if np.any(index == b))
    return round(float(total), 12)


def reliability_table(probabilities, y, bins: int = ECE_BINS) -> list[dict]:
    """Per non-empty bin of the top probability: its edges, clips, mean confidence and accuracy.

    Examples
    --------
    >>> reliability_table(np.array([[0.95, 0.05], [0.55, 0.45]]), np.array([0, 1]), bins=2)
    [{'bin': [0.5, 1.0], 'n': 2, 'confidence': 0.75, 'accuracy': 0.5}]
    """
    confidence, correct = _top(probabilities, y)
    index = _bins(confidence, bins)
    return [{"bin": [b / bins, (b + 1) / bins], "n": int(np.sum(index == b)),
             "confidence": round(float(confidence[index == b].mean()), 4),
             "accuracy": round(float(correct[index == b].mean()), 4)}
            for b in range(bins) if np.any(index == b)]


def risk_coverage(confidence, correct, coverages=COVERAGES) -> dict:
    """Accuracy among the most confident ``c`` share of the clips, for each ``c`` of ``coverages``.

    Examples
    --------
    >>> risk_coverage(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 0]), coverages=(0.5, 1.0))
    {0.5: 1.0, 1.0: 0.5}
    """
    order = np.argsort(-np.asarray(confidence, np.float64), kind="stable")
    correct = np.asarray(correct, float)[order]
    return {c: float(correct[:max(1, int(round(c * len(correct))))].mean()) for c in coverages}


def selective(sure, correct) -> dict:
    """``accuracy`` among the clips shown as sure (NaN when none is) and their share, ``coverage``.

    Examples
    --------
    >>> selective(np.array([True, True, False, False]), np.array([1, 0, 0, 0]))
    {'accuracy': 0.5, 'coverage': 0.5}
    """
    sure, correct = np.asarray(sure, bool), np.asarray(correct, bool)
    return {"accuracy": float(correct[sure].mean()) if sure.any() else float("nan"),
            "coverage": float(sure.mean()) if len(sure) else float("nan")}
