"""Metrics of every task, for training, evaluation, the promotion gate and monitoring.

`METRIC_DIRECTION` says which way is better (+1 higher, -1 lower); everything
that compares two models (the gate, the realized-metric alarm) reads it rather
than assuming AUC.

A multiclass model's scores are a matrix, one column per declared class in the
declaration's order, each row summing to 1; its labels are the classes' codes
(0..K-1, the index of the class in that order). `metric` tells the two kinds of
scores apart by their shape, so `log_loss` is one name for both classifiers.
"""

from __future__ import annotations

import numpy as np

METRIC_DIRECTION = {
    "auc": 1,
    "average_precision": 1,
    "precision_at_recall": 1,
    "log_loss": -1,
    "brier": -1,
    "macro_auc": 1,
    "accuracy": 1,
    "macro_f1": 1,
    "rmse": -1,
    "mae": -1,
}
# Metrics that rank rows: undefined on a sample holding one class only.
# The per-row loss a shadow period compares champion and challenger by, per task (registry/sequential.py
# `paired_loss_differences`), and the range of one row's difference of it, champion minus challenger.
PAIRED_LOSS = {"binary_classification": "brier", "multiclass": "multiclass_brier", "regression": "squared_error"}
PAIRED_LOSS_BOUNDS = {
    "brier": (-1.0, 1.0),
    "log_loss": (-1.0, 1.0),
    "squared_error": (-1.0, 1.0),
    "multiclass_brier": (-2.0, 2.0),  # a sum over the classes of squares in [0, 1], at most 2 per row
}
RANKING_METRICS = frozenset({"auc", "average_precision", "precision_at_recall", "macro_auc"})
# Multiclass probabilities are clipped as binary scores are before a logarithm.
_EPS = 1e-7


def task_metrics(task: str, labels: np.ndarray, scores: np.ndarray, recall: float | None = None) -> dict[str, float]:
    """Every metric of `task` (binary_classification, multiclass or regression) for these labels and scores.

    `recall` (the declared `metric_recall`) adds `precision_at_recall` to a binary classifier's metrics.
    """
    if task == "regression":
        return regression_metrics(labels, scores)
    if task == "multiclass":
        return multiclass_metrics(labels, scores)
    found = classification_metrics(labels, scores)
    if recall is not None:
        found["precision_at_recall"] = precision_at_recall(np.asarray(labels), np.asarray(scores), recall)
    return found


def classification_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC, average precision, log loss, Brier score and expected calibration error of scores in [0, 1]."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    labels = np.asarray(labels)
    scores = np.clip(np.asarray(scores, dtype=np.float64), 1e-7, 1 - 1e-7)
    both_classes = len(np.unique(labels)) == 2
    if len(labels) == 0:
        nan = float("nan")
        return {
            "auc": nan,
            "average_precision": nan,
            "log_loss": nan,
            "brier": nan,
            "ece": nan,
            "positive_rate": nan,
            "mean_score": nan,
        }
    return {
        "auc": float(roc_auc_score(labels, scores)) if both_classes else float("nan"),
        "average_precision": average_precision(labels, scores),
        "log_loss": float(log_loss(labels, scores, labels=[0, 1])),
        "brier": float(brier_score_loss(labels, scores)),
        "ece": expected_calibration_error(labels, scores),
        "positive_rate": float(labels.mean()),
        "mean_score": float(scores.mean()),
    }


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R², plus the mean label and mean prediction (a shift shows there first)."""
    labels = np.asarray(labels, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    if len(labels) == 0:
        nan = float("nan")
        return {"rmse": nan, "mae": nan, "r2": nan, "mean_label": nan, "mean_prediction": nan}
    errors = predictions - labels
    variance = float(((labels - labels.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1 - float((errors**2).sum()) / variance if variance > 0 else float("nan"),
        "mean_label": float(labels.mean()),
        "mean_prediction": float(predictions.mean()),
    }


def multiclass_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Macro one-vs-rest AUC, log loss, accuracy and macro F1 of class codes `labels` and a probability
    matrix (one column per class), plus the share of the most frequent class and the mean top probability."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(labels) == 0:
        nan = float("nan")
        names = ("macro_auc", "log_loss", "accuracy", "macro_f1", "majority_share", "mean_confidence")
        return dict.fromkeys(names, nan)
    return {
        "macro_auc": macro_auc(labels, probabilities),
        "log_loss": multiclass_log_loss(labels, probabilities),
        "accuracy": accuracy(labels, probabilities),
        "macro_f1": macro_f1(labels, probabilities),
        # What always answering the commonest class scores as accuracy: the floor accuracy is read against.
        "majority_share": float(np.bincount(labels).max() / len(labels)),
        "mean_confidence": float(probabilities.max(axis=1).mean()),
    }


def macro_auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean over classes of each class's one-vs-rest AUC (its probability ranking its rows above the
    rest), every class weighted alike. A class absent from `labels` (or the only one there) has no AUC and
    is left out of the mean; NaN when no class has one."""
    defined = [value for value in per_class_auc(labels, probabilities) if value == value]
    return float(np.mean(defined)) if defined else float("nan")


def per_class_auc(labels: np.ndarray, probabilities: np.ndarray) -> list[float]:
    """Each class's one-vs-rest AUC, in class order (NaN where undefined)."""
    labels = np.asarray(labels)
    return [auc(labels == code, probabilities[:, code]) for code in range(probabilities.shape[1])]


def multiclass_log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean -log of the probability each row gave its true class (clipped at 1e-7, as binary scores)."""
    labels = np.asarray(labels, dtype=np.int64)
    chosen = np.asarray(probabilities, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(chosen, _EPS, 1.0))))


def predicted_classes(probabilities: np.ndarray) -> np.ndarray:
    """Each row's most probable class code (the first of tied ones, in class order)."""
    return np.asarray(probabilities).argmax(axis=1)


def accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The share of rows whose most probable class is their true class."""
    return float(np.mean(predicted_classes(probabilities) == np.asarray(labels)))


def macro_f1(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean over classes of each class's F1 at the predicted (most probable) class, over the classes that
    occur in the labels or the predictions (scikit-learn's `f1_score(average="macro")`); a class predicted
    but never true, or true but never predicted, counts as 0."""
    matrix = confusion_counts(labels, probabilities)
    true_positives = np.diag(matrix).astype(np.float64)
    actual, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    present = (actual + predicted) > 0
    if not present.any():
        return float("nan")
    f1 = 2 * true_positives[present] / (actual[present] + predicted[present])
    return float(f1.mean())


def confusion_counts(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """K x K counts: row i, column j is the rows of true class i whose most probable class is j."""
    classes = np.asarray(probabilities).shape[1]
    codes = np.asarray(labels, dtype=np.int64) * classes + predicted_classes(probabilities)
    return np.bincount(codes, minlength=classes * classes).reshape(classes, classes)


def metric(name: str, labels: np.ndarray, scores: np.ndarray, recall: float | None = None) -> float:
    """One metric, computed directly (the gate's bootstrap calls this hundreds of times).

    `precision_at_recall` needs `recall`, the declared `metric_recall`. Scores of two dimensions are a
    multiclass model's probabilities (labels: class codes).
    """
    if np.ndim(scores) == 2:
        return _multiclass_metric(name, labels, scores)
    if name == "auc":
        return auc(labels, scores)
    if name == "average_precision":
        return average_precision(labels, scores)
    if name == "precision_at_recall":
        if recall is None:
            raise ValueError("precision_at_recall needs the recall it is read at (the declared metric_recall)")
        return precision_at_recall(labels, scores, recall)
    if name == "rmse":
        return float(np.sqrt(np.mean((scores - labels) ** 2)))
    if name == "mae":
        return float(np.mean(np.abs(scores - labels)))
    clipped = np.clip(scores, 1e-7, 1 - 1e-7)
    if name == "log_loss":
        return float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)))
    if name == "brier":
        return float(np.mean((clipped - labels) ** 2))
    raise ValueError(f"unknown metric {name!r}; use one of {sorted(METRIC_DIRECTION)}")


_MULTICLASS = {"macro_auc": macro_auc, "log_loss": multiclass_log_loss, "accuracy": accuracy, "macro_f1": macro_f1}


def _multiclass_metric(name: str, labels: np.ndarray, probabilities: np.ndarray) -> float:
    if name not in _MULTICLASS:
        raise ValueError(f"{name!r} is not a multiclass metric; use one of {', '.join(_MULTICLASS)}")
    return _MULTICLASS[name](np.asarray(labels).astype(np.int64), probabilities)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, with ties averaged."""
    from scipy.stats import rankdata

    positives = np.asarray(labels) == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _precision_recall_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(precision, recall) at every distinct score taken as the threshold, highest first; None without
    positives. The same points as scikit-learn's `precision_recall_curve`, without its input checks
    (the gate's bootstrap calls this hundreds of times)."""
    positives = np.asarray(labels) == 1
    total = int(positives.sum())
    if total == 0:
        return None
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    # Rows with tied scores are classified together: one point per distinct score, at its last row.
    last = np.r_[np.flatnonzero(ordered[1:] != ordered[:-1]), len(ordered) - 1]
    true_positives = np.cumsum(positives[order])[last]
    return true_positives / (last + 1), true_positives / total


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (scikit-learn's `average_precision_score`): precision at each threshold weighted
    by the recall it adds. Its baseline is the positive rate, so it shows ranking quality among the few
    positives where AUC, dominated by the many negatives, barely moves. NaN without positives."""
    points = _precision_recall_points(labels, scores)
    if points is None:
        return float("nan")
    precision, recall = points
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def precision_at_recall(labels: np.ndarray, scores: np.ndarray, recall: float) -> float:
    """The best precision of any threshold that finds at least `recall` of the positives. NaN without positives."""
    points = _precision_recall_points(labels, scores)
    if points is None:
        return float("nan")
    precision, reached = points
    return float(precision[reached >= recall - 1e-12].max())


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


def degradation(name: str, reference: float, realized: float) -> float:
    """How much worse `realized` is than `reference`: absolute for AUC (and the other higher-is-better
    classifier metrics), relative for error metrics.

    AUC lives on a fixed [0.5, 1] scale, so an absolute drop reads the same for
    every model; an RMSE of 3 is good for minutes and bad for probabilities, so
    error metrics are compared as a share of the reference.
    """
    if METRIC_DIRECTION[name] > 0:
        return reference - realized
    return (realized - reference) / reference if reference > 0 else float("nan")


def label_shift_effect(
    task: str, label_mean: float, reference_mean: float, reference_std: float | None
) -> float | None:
    """How far labels moved from the champion's training labels, as an effect size: Cohen's h
    between positive rates (classification), or the mean's shift in the training labels'
    standard deviations (regression; None without a spread). 0.2 is Cohen's "small effect"
    on both scales, the default `monitoring.max_label_shift`."""
    import math

    if task == "binary_classification":
        rates = [min(max(rate, 0.0), 1.0) for rate in (label_mean, reference_mean)]
        return abs(2 * math.asin(math.sqrt(rates[0])) - 2 * math.asin(math.sqrt(rates[1])))
    if reference_std is None or not reference_std > 0:
        return None
    return abs(label_mean - reference_mean) / reference_std


def class_shift_effect(labels: np.ndarray, reference_shares: list[float]) -> tuple[float, list[float]]:
    """How far a multiclass batch's class proportions moved from the champion's training labels: the largest
    Cohen's h between a class's share in the batch (class codes `labels`) and its `reference_shares` entry,
    and the batch's shares. One class against the rest, as the binary label shift, so
    `monitoring.max_label_shift` (0.2, Cohen's "small effect") reads the same for every classifier."""
    import math

    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(reference_shares))
    shares = (counts / counts.sum()).tolist() if counts.sum() else [float("nan")] * len(reference_shares)
    effects = [
        abs(2 * math.asin(math.sqrt(min(max(now, 0.0), 1.0))) - 2 * math.asin(math.sqrt(min(max(then, 0.0), 1.0))))
        for now, then in zip(shares, reference_shares, strict=True)
        if now == now
    ]
    return (max(effects) if effects else float("nan")), [float(share) for share in shares]
