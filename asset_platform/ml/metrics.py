"""Classification metrics used for training, evaluation and the promotion gate."""

from __future__ import annotations

import numpy as np


def classification_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC, log loss, Brier score and expected calibration error of scores in [0, 1]."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    labels = np.asarray(labels)
    scores = np.clip(np.asarray(scores, dtype=np.float64), 1e-7, 1 - 1e-7)
    both_classes = len(np.unique(labels)) == 2
    return {
        "auc": float(roc_auc_score(labels, scores)) if both_classes else float("nan"),
        "log_loss": float(log_loss(labels, scores, labels=[0, 1])),
        "brier": float(brier_score_loss(labels, scores)),
        "ece": expected_calibration_error(labels, scores),
        "positive_rate": float(labels.mean()),
        "mean_score": float(scores.mean()),
    }


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for index in range(bins):
        in_bin = which == index
        if in_bin.any():
            error += in_bin.mean() * abs(labels[in_bin].mean() - scores[in_bin].mean())
    return float(error)
