"""Group metrics as weighted sums, so one code path gives point estimates and every bootstrap resample.

A bootstrap resample is a vector of row counts (how often each row was drawn);
with all counts 1 it is the sample itself. Every metric here is a ratio of
weighted sums over a group's rows, so a chunk of resamples is one matrix
product: (resamples x rows) @ (rows,). fairlearn's `MetricFrame(n_boot=...)`
calls a Python metric per group per resample on row subsets it draws itself;
it could not reuse the promotion gate's resamples (the fairness rule must be
paired with the metric gate), and on a 3,000-row holdout with 4 groups and
300 resamples it is about two orders of magnitude slower (see
benchmarks/fairness.py, which measures both). Point estimates are checked
against fairlearn in tests/fairness.
"""

from __future__ import annotations

import numpy as np

# Per-group metrics reported beside the task's own metric, by task.
CLASSIFIER_EXTRAS = ("tpr", "fpr", "selection_rate", "calibration")
REGRESSION_METRICS = ("rmse", "mae")
# A multiclass model predicts its most probable class (no threshold): its groups' accuracy and macro F1.
MULTICLASS_EXTRAS = ("accuracy", "macro_f1")
MULTICLASS_METRICS = ("macro_auc", "log_loss", "accuracy", "macro_f1")
# +1: higher is better; -1: lower is better; 0: neither (a gap is a disparity either way).
GROUP_METRIC_DIRECTION = {
    "auc": 1,
    "average_precision": 1,
    "log_loss": -1,
    "brier": -1,
    "rmse": -1,
    "mae": -1,
    "tpr": 1,
    "fpr": -1,
    "selection_rate": 0,
    "calibration": 0,
    "macro_auc": 1,
    "accuracy": 1,
    "macro_f1": 1,
}


def group_metric_names(task: str, metric: str) -> tuple[str, ...]:
    """The declared metric first, then the task's other per-group metrics."""
    if task == "regression":
        return (metric, *(name for name in REGRESSION_METRICS if name != metric))
    if task == "multiclass":
        return (metric, *(name for name in MULTICLASS_EXTRAS if name != metric))
    return (metric, *CLASSIFIER_EXTRAS)


def weighted_metric(
    name: str, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float = 0.5
) -> np.ndarray:
    """`name` for each row of `weights` (resamples x rows of one group): NaN where undefined.

    Scores of two dimensions are a multiclass model's probabilities (rows x classes), its labels class codes.
    """
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if scores.ndim == 2:
        return _weighted_multiclass(name, labels.astype(np.int64), scores, weights)
    if name == "auc":
        return _weighted_auc(labels, scores, weights)
    if name == "average_precision":
        return _weighted_average_precision(labels, scores, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = weights.sum(axis=1)
        if name == "rmse":
            return np.sqrt(weights @ (scores - labels) ** 2 / total)
        if name == "mae":
            return weights @ np.abs(scores - labels) / total
        if name == "calibration":  # mean predicted minus observed rate: > 0 over-predicts the group
            return weights @ (scores - labels) / total
        clipped = np.clip(scores, 1e-7, 1 - 1e-7)
        if name == "log_loss":
            return weights @ -(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)) / total
        if name == "brier":
            return weights @ (clipped - labels) ** 2 / total
        predicted = (scores >= threshold).astype(np.float64)
        if name == "selection_rate":
            return weights @ predicted / total
        if name == "tpr":
            return weights @ (labels * predicted) / (weights @ labels)
        if name == "fpr":
            return weights @ ((1 - labels) * predicted) / (weights @ (1 - labels))
    raise ValueError(f"unknown group metric {name!r}; use one of {sorted(GROUP_METRIC_DIRECTION)}")


def _weighted_multiclass(name: str, codes: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A multiclass metric (ml/metrics.py's, there for one sample) with row weights, for every resample at once."""
    classes = scores.shape[1]
    if name == "macro_auc":
        # Each class one-vs-rest; a class a resample lacks (or holds alone) has no AUC and leaves the mean.
        per_class = np.column_stack(
            [_weighted_auc((codes == k).astype(np.float64), scores[:, k], weights) for k in range(classes)]
        )
        defined = np.isfinite(per_class)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(defined, per_class, 0.0).sum(axis=1) / defined.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = weights.sum(axis=1)
        if name == "log_loss":
            chosen = scores[np.arange(len(codes)), codes]
            return weights @ -np.log(np.clip(chosen, 1e-7, 1.0)) / total
        predicted = scores.argmax(axis=1)
        if name == "accuracy":
            return weights @ (predicted == codes).astype(np.float64) / total
        if name == "macro_f1":
            actual_hot, predicted_hot = np.eye(classes)[codes], np.eye(classes)[predicted]
            hits = weights @ (actual_hot * predicted_hot)
            both = weights @ actual_hot + weights @ predicted_hot
            # Over the classes present in the labels or the predictions of the resample, as scikit-learn's.
            present = both > 0
            f1 = np.where(present, 2 * hits / np.where(present, both, 1.0), 0.0)
            return f1.sum(axis=1) / present.sum(axis=1)
    raise ValueError(f"unknown multiclass group metric {name!r}; use one of {', '.join(MULTICLASS_METRICS)}")


def _weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC with row weights, ties counted half, for every resample at once.

    Rows are sorted by score once; tied scores form one level, and per level the
    resampled positive and negative weights are summed with `np.add.reduceat`.
    """
    if len(labels) == 0:
        return np.full(len(weights), np.nan)
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    sorted_weights = weights[:, order]
    positive = labels[order] == 1
    pos = np.add.reduceat(sorted_weights * positive, starts, axis=1)
    neg = np.add.reduceat(sorted_weights * ~positive, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def _weighted_average_precision(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision with row weights (scikit-learn's with `sample_weight`), for every resample at once.

    Rows are sorted by score, highest first; tied scores form one threshold, as in `_weighted_auc`.
    """
    if len(labels) == 0:
        return np.full(len(weights), np.nan)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    sorted_weights = weights[:, order]
    positive = labels[order] == 1
    pos = np.add.reduceat(sorted_weights * positive, starts, axis=1)
    both = np.add.reduceat(sorted_weights, starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.cumsum(pos, axis=1) / np.cumsum(both, axis=1)
        # A threshold that adds no positive adds no recall: its term is 0 even where no row is drawn yet.
        return np.where(pos > 0, pos * precision, 0.0).sum(axis=1) / pos.sum(axis=1)
