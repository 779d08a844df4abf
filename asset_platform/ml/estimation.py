"""Performance before labels: confidence-based estimation from the model's own calibrated scores.

A calibrated classifier's score is the probability that the row is positive, so
the expected confusion matrix at every threshold, and with it the expected ROC
curve and AUC, follow from the scores alone (the idea of NannyML's CBPE). The
scores are first calibrated with an isotonic map fitted on the champion's
holdout, where labels are known, and stored as a small piecewise-linear table
with the reference profile. The estimate tracks performance changes caused by
covariate shift; a concept change that leaves the scores' distribution alone is
invisible to it and shows only when labels land.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_POINTS = 64


def fit_calibration(scores: np.ndarray, labels: np.ndarray, points: int = _POINTS) -> dict[str, list[float]]:
    """An isotonic map from score to observed positive rate, as at most `points` (x, y) knots."""
    from sklearn.isotonic import IsotonicRegression

    scores = np.asarray(scores, dtype=np.float64)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, labels)
    knots = np.unique(np.quantile(scores, np.linspace(0, 1, points)))
    return {"x": knots.round(6).tolist(), "y": np.asarray(isotonic.predict(knots)).round(6).tolist()}


def calibrate(scores: np.ndarray, calibration: dict[str, Any] | None) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if not calibration or len(calibration.get("x", [])) < 2:
        return np.clip(scores, 0.0, 1.0)
    return np.interp(scores, calibration["x"], calibration["y"])


def estimated_auc(probabilities: np.ndarray) -> float:
    """The AUC expected if each row is positive with its (calibrated) probability."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size < 2:
        return float("nan")
    order = np.argsort(-p, kind="stable")
    positives, negatives = np.cumsum(p[order]), np.cumsum(1.0 - p[order])
    if positives[-1] <= 0 or negatives[-1] <= 0:
        return float("nan")
    tpr = np.concatenate([[0.0], positives / positives[-1]])
    fpr = np.concatenate([[0.0], negatives / negatives[-1]])
    return float(np.trapezoid(tpr, fpr))


def estimate(metric: str, scores: np.ndarray, calibration: dict[str, Any] | None) -> float | None:
    """The label-free estimate of `metric` for a batch, or None where none exists (regression)."""
    if metric != "auc":
        return None
    return estimated_auc(calibrate(scores, calibration))
