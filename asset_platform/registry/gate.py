"""The promotion gate: is the challenger better than the champion, beyond noise?

Both models score the same rows; a paired bootstrap (resampling rows, scoring
both models on each resample) gives a confidence interval for the metric's
improvement that accounts for their correlation. The challenger passes when the
interval's lower bound clears the configured margin. Improvement is oriented so
that positive is better whatever the metric (AUC up, RMSE down).

A multiclass model is compared the same way: its scores are a probability matrix
(one column per class), each resample takes whole rows, and the declared metric
(macro one-vs-rest AUC, log loss, accuracy or macro F1) is computed on both.

A classifier's holdout with too few positives (or negatives) decides nothing:
resampling a handful of positives gives an interval of noise. `class_shortage`
says so, with the counts, and the gate records "insufficient" instead; a
multiclass holdout needs `min_positives` rows of every class
(`multiclass_shortage`), since each class's one-vs-rest AUC and F1 count alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from asset_platform.ml.metrics import METRIC_DIRECTION, RANKING_METRICS, metric


@dataclass(frozen=True)
class GateComparison:
    """Challenger vs champion on one evaluation window."""

    window: str
    metric: str
    rows: int
    champion_value: float
    challenger_value: float
    improvement: float
    ci_low: float
    ci_high: float
    margin: float

    @property
    def passed(self) -> bool:
        return self.ci_low > self.margin

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    def describe(self) -> str:
        verdict = "beats" if self.passed else "does not beat"
        return (
            f"on {self.window} ({self.rows} rows) the challenger {verdict} the champion: {self.metric} "
            f"{self.challenger_value:.4f} vs {self.champion_value:.4f}, improvement {self.improvement:+.4f} "
            f"(95% CI {self.ci_low:+.4f} to {self.ci_high:+.4f}, margin {self.margin})"
        )


def class_shortage(labels: np.ndarray, min_positives: int, min_negatives: int) -> str | None:
    """Why a binary holdout is too small to decide on (its counts and the minimums), or None when it is not."""
    positives = int((np.asarray(labels) == 1).sum())
    negatives = len(labels) - positives
    short = [
        f"{count} {kind} (needs {needed})"
        for kind, count, needed in (("positives", positives, min_positives), ("negatives", negatives, min_negatives))
        if count < needed
    ]
    if not short:
        return None
    return (
        f"the holdout ({len(labels)} rows) holds {' and '.join(short)}: too few to tell the models apart; "
        "land more labeled history, raise the holdout share (retraining.holdout_fraction) or lower "
        "gate.min_positives / gate.min_negatives"
    )


def multiclass_shortage(labels: np.ndarray, classes: list[str], min_rows: int) -> str | None:
    """Why a multiclass holdout is too small to decide on (the classes it holds too few rows of), or None."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes))
    short = [f"{count} of {name!r}" for name, count in zip(classes, counts, strict=True) if count < min_rows]
    if not short:
        return None
    return (
        f"the holdout ({len(labels)} rows) holds {', '.join(short)} (needs {min_rows} of each class): too few to "
        "tell the models apart; land more labeled history, raise the holdout share (retraining.holdout_fraction) "
        "or lower gate.min_positives"
    )


def bootstrap_indices(rows: int, resamples: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The gate's resamples: row indices drawn with replacement. The fairness rule draws the same ones."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield rng.integers(0, rows, rows)


def compare(
    window: str,
    labels: np.ndarray,
    champion_scores: np.ndarray,
    challenger_scores: np.ndarray,
    metric_name: str = "auc",
    margin: float = 0.0,
    resamples: int = 300,
    seed: int = 0,
    recall: float | None = None,
) -> GateComparison:
    """Paired bootstrap 95% interval of the challenger's improvement over the champion on the same rows.

    `recall` is the declared `metric_recall`, for `precision_at_recall`. Scores of a multiclass model are
    rows x K probability matrices and `labels` their class codes.
    """
    labels = np.asarray(labels, dtype=np.float64)
    champion_scores = np.asarray(champion_scores, dtype=np.float64)
    challenger_scores = np.asarray(challenger_scores, dtype=np.float64)
    direction = METRIC_DIRECTION[metric_name]
    improvements = []
    for index in bootstrap_indices(len(labels), resamples, seed):
        sample = labels[index]
        if metric_name in RANKING_METRICS and sample.min() == sample.max():
            continue  # a ranking of one class is undefined
        difference = metric(metric_name, sample, challenger_scores[index], recall) - metric(
            metric_name, sample, champion_scores[index], recall
        )
        improvements.append(direction * difference)
    champion_value = metric(metric_name, labels, champion_scores, recall)
    challenger_value = metric(metric_name, labels, challenger_scores, recall)
    low, high = np.percentile(improvements, [2.5, 97.5]) if improvements else (float("nan"), float("nan"))
    return GateComparison(
        window=window,
        metric=metric_name,
        rows=len(labels),
        champion_value=champion_value,
        challenger_value=challenger_value,
        improvement=direction * (challenger_value - champion_value),
        ci_low=float(low),
        ci_high=float(high),
        margin=margin,
    )
