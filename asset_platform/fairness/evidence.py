"""Per-group figures of several models on the same rows, with bootstrap intervals, and their largest gaps.

Every model is scored on the same resamples (the promotion gate's, see
`registry.gate.bootstrap_indices`), so differences between models are paired:
the fairness rule compares the champion's and the challenger's gap resample by
resample, as the metric gate compares their metric.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from asset_platform.fairness.weighted import GROUP_METRIC_DIRECTION, group_metric_names, weighted_metric

MISSING_GROUP = "missing"
# Resamples turned into row-count matrices at a time: bounds memory at chunk x rows floats.
_CHUNK = 64


def group_labels(values: pd.Series | np.ndarray) -> np.ndarray:
    """Each row's group within one attribute, as text; missing values form their own group."""
    series = pd.Series(values)
    labels = series.astype(str).to_numpy(dtype=object)
    labels[series.isna().to_numpy()] = MISSING_GROUP
    return labels


@dataclass(frozen=True)
class GroupFigure:
    """One group of one attribute for one model: its rows and each metric with a 95 % interval."""

    attribute: str
    group: str
    rows: int
    sufficient: bool
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.attribute}={self.group}"


@dataclass(frozen=True)
class Gap:
    """The largest difference of one metric between the sufficient groups of one attribute."""

    attribute: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    low_group: str
    high_group: str

    @property
    def worst_group(self) -> str:
        """The group at the bad end of the gap (for a metric without a better direction: the high end)."""
        return self.low_group if GROUP_METRIC_DIRECTION[self.metric] > 0 else self.high_group

    def to_dict(self) -> dict:
        return {**asdict(self), "worst_group": self.worst_group}


@dataclass
class ModelFairness:
    """Everything per group for one model: figures of every group, and the gap of every metric."""

    model: str
    groups: list[GroupFigure]
    gaps: list[Gap]

    @property
    def insufficient(self) -> list[GroupFigure]:
        return [figure for figure in self.groups if not figure.sufficient]

    def gap(self, attribute: str, metric: str) -> Gap:
        return next(g for g in self.gaps if g.attribute == attribute and g.metric == metric)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "groups": [asdict(figure) for figure in self.groups],
            "gaps": [gap.to_dict() for gap in self.gaps],
            "insufficient": [f"{f.name} ({f.rows} rows)" for f in self.insufficient],
        }


@dataclass
class FairnessEvidence:
    """Point figures and bootstrap draws of every model, group and metric, on one set of rows."""

    task: str
    metrics: tuple[str, ...]
    attributes: tuple[str, ...]
    min_group_size: int
    rows: int
    # [model][attribute][group] -> {metric: value}; draws: the same, each value an array over resamples.
    points: dict[str, dict[str, dict[str, dict[str, float]]]]
    draws: dict[str, dict[str, dict[str, dict[str, np.ndarray]]]]
    sizes: dict[str, dict[str, int]]

    def sufficient(self, attribute: str) -> list[str]:
        return [g for g, n in self.sizes[attribute].items() if n >= self.min_group_size]

    def gap_draws(self, model: str, attribute: str, metric: str) -> np.ndarray:
        """Largest minus smallest group value in each resample (NaN where fewer than two groups have one)."""
        groups = self.sufficient(attribute)
        if len(groups) < 2:
            return np.full(0, np.nan)
        stacked = np.vstack([self.draws[model][attribute][g][metric] for g in groups])
        finite = np.isfinite(stacked)
        gaps = np.where(finite, stacked, -np.inf).max(axis=0) - np.where(finite, stacked, np.inf).min(axis=0)
        # A resample where fewer than two groups have a value (AUC of a one-class draw) has no gap.
        return np.where(finite.sum(axis=0) >= 2, gaps, np.nan)

    def report(self, model: str) -> ModelFairness:
        figures = []
        for attribute in self.attributes:
            for group, size in self.sizes[attribute].items():
                draws = self.draws[model][attribute].get(group, {})
                figures.append(
                    GroupFigure(
                        attribute,
                        group,
                        size,
                        size >= self.min_group_size,
                        self.points[model][attribute][group],
                        {metric: _interval(values) for metric, values in draws.items()},
                    )
                )
        gaps = [self._gap(model, a, m) for a in self.attributes for m in self.metrics]
        return ModelFairness(model, figures, gaps)

    def _gap(self, model: str, attribute: str, metric: str) -> Gap:
        values = {g: self.points[model][attribute][g][metric] for g in self.sufficient(attribute)}
        values = {g: v for g, v in values.items() if np.isfinite(v)}
        if len(values) < 2:
            return Gap(attribute, metric, float("nan"), float("nan"), float("nan"), "", "")
        low, high = min(values, key=values.__getitem__), max(values, key=values.__getitem__)
        ci = _interval(self.gap_draws(model, attribute, metric))
        return Gap(attribute, metric, values[high] - values[low], *ci, f"{attribute}={low}", f"{attribute}={high}")


def evaluate_groups(
    attributes: Mapping[str, np.ndarray],
    labels: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    task: str,
    metric: str,
    threshold: float = 0.5,
    min_group_size: int = 50,
    resamples: int = 300,
    seed: int = 0,
) -> FairnessEvidence:
    """Per-group metrics of every model in `scores` on the same rows and the same bootstrap resamples.

    `attributes` maps each audited attribute to the rows' group labels (`group_labels`).
    Groups with fewer than `min_group_size` rows get point figures but no interval and
    no place in any gap: they are reported as insufficient.
    """
    from asset_platform.registry.gate import bootstrap_indices

    labels = np.asarray(labels, dtype=np.float64)
    metrics = group_metric_names(task, metric)
    masks = {a: {g: np.flatnonzero(v == g) for g in sorted(pd.unique(v))} for a, v in attributes.items()}
    sizes = {a: {g: len(index) for g, index in groups.items()} for a, groups in masks.items()}
    points = {
        model: {
            a: {
                g: {m: float(weighted_metric(m, labels[i], s[i], np.ones(len(i)), threshold)[0]) for m in metrics}
                for g, i in groups.items()
            }
            for a, groups in masks.items()
        }
        for model, s in scores.items()
    }
    chunks: dict = {model: {a: {} for a in masks} for model in scores}
    for weights in _weight_chunks(bootstrap_indices(len(labels), resamples, seed), len(labels)):
        for attribute, groups in masks.items():
            for group, index in groups.items():
                if len(index) < min_group_size:
                    continue
                part, y = weights[:, index], labels[index]
                for model, s in scores.items():
                    bucket = chunks[model][attribute].setdefault(group, {m: [] for m in metrics})
                    for m in metrics:
                        bucket[m].append(weighted_metric(m, y, s[index], part, threshold))
    draws = {
        model: {
            a: {g: {m: np.concatenate(parts) for m, parts in per_metric.items()} for g, per_metric in groups.items()}
            for a, groups in per_model.items()
        }
        for model, per_model in chunks.items()
    }
    return FairnessEvidence(task, metrics, tuple(attributes), min_group_size, len(labels), points, draws, sizes)


def _weight_chunks(indices: Iterator[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    batch: list[np.ndarray] = []
    for index in indices:
        batch.append(np.bincount(index, minlength=rows))
        if len(batch) == _CHUNK:
            yield np.vstack(batch).astype(np.float64)
            batch = []
    if batch:
        yield np.vstack(batch).astype(np.float64)


def _interval(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)
