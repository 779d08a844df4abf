"""The promotion gate: is the challenger better than the champion, beyond noise?

Both models score the same rows; a paired bootstrap (resampling rows, scoring
both models on each resample) gives a confidence interval for the AUC
difference that accounts for their correlation. The challenger passes when the
interval's lower bound clears the configured margin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class GateComparison:
    """Challenger vs champion on one evaluation window."""

    window: str
    rows: int
    champion_auc: float
    challenger_auc: float
    delta_auc: float
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
            f"on {self.window} ({self.rows} rows) the challenger {verdict} the champion: AUC "
            f"{self.challenger_auc:.4f} vs {self.champion_auc:.4f}, difference {self.delta_auc:+.4f} "
            f"(95% CI {self.ci_low:+.4f} to {self.ci_high:+.4f}, margin {self.margin})"
        )


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, with ties averaged."""
    from scipy.stats import rankdata

    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def compare(
    window: str,
    labels: np.ndarray,
    champion_scores: np.ndarray,
    challenger_scores: np.ndarray,
    margin: float = 0.0,
    resamples: int = 300,
    seed: int = 0,
) -> GateComparison:
    """Paired bootstrap 95% interval of AUC(challenger) - AUC(champion) on the same rows."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(resamples):
        index = rng.integers(0, len(labels), len(labels))
        sample = labels[index]
        if sample.min() == sample.max():
            continue
        deltas.append(auc(sample, challenger_scores[index]) - auc(sample, champion_scores[index]))
    champion_auc, challenger_auc = auc(labels, champion_scores), auc(labels, challenger_scores)
    low, high = np.percentile(deltas, [2.5, 97.5]) if deltas else (float("nan"), float("nan"))
    return GateComparison(
        window=window,
        rows=len(labels),
        champion_auc=champion_auc,
        challenger_auc=challenger_auc,
        delta_auc=challenger_auc - champion_auc,
        ci_low=float(low),
        ci_high=float(high),
        margin=margin,
    )
