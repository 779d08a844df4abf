"""Per-group tables and small charts (markdown with embedded PNGs) for the evaluation and champion pages."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from asset_platform.fairness.evidence import ModelFairness
from asset_platform.fairness.rule import FairnessDecision


def _cell(value: float, interval: tuple[float, float] | None) -> str:
    if not math.isfinite(value):
        return "n/a"
    if interval is None or not all(math.isfinite(v) for v in interval):
        return f"{value:.3f}"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def group_table_markdown(reports: Sequence[ModelFairness]) -> str:
    """One row per model and group: rows, status, and each metric with its 95 % interval."""
    rows = []
    for report in reports:
        for figure in report.groups:
            row = {"model": report.model, "group": figure.name, "rows": figure.rows}
            row["status"] = "ok" if figure.sufficient else "insufficient"
            for metric, value in figure.values.items():
                row[metric] = _cell(value, figure.intervals.get(metric))
            rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False) if rows else "no groups"


def gap_table_markdown(reports: Sequence[ModelFairness]) -> str:
    """The largest gap of each metric per attribute and model, with its interval and the groups at its ends."""
    rows = [
        {
            "model": report.model,
            "attribute": gap.attribute,
            "metric": gap.metric,
            "gap": _cell(gap.value, (gap.ci_low, gap.ci_high)),
            "between": f"{gap.low_group} / {gap.high_group}" if gap.low_group else "fewer than two sufficient groups",
        }
        for report in reports
        for gap in report.gaps
    ]
    return pd.DataFrame(rows).to_markdown(index=False) if rows else "no gaps"


def decision_markdown(decision: FairnessDecision) -> str:
    """The fairness rule's verdict per attribute, as a short list."""
    verdict = "blocks the challenger" if decision.blocked else "passes"
    return f"**Fairness rule {verdict}.**\n\n" + "\n".join(f"- {v.describe()}" for v in decision.verdicts)


def group_metric_chart(reports: Sequence[ModelFairness], attribute: str, metric: str) -> str:
    """Each sufficient group's `metric` with its 95 % interval as error bars, one marker series per model."""
    from asset_platform.reports.plots import png_markdown

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.2, 2.6))
    width = 0.8 / max(len(reports), 1)
    groups: list[str] = []
    for report in reports:
        for f in report.groups:
            if f.attribute == attribute and f.sufficient and f.group not in groups:
                groups.append(f.group)
    for position, report in enumerate(reports):
        figures = {f.group: f for f in report.groups if f.attribute == attribute and f.sufficient}
        x = np.arange(len(groups)) + (position - (len(reports) - 1) / 2) * width
        values = np.array([figures[g].values[metric] if g in figures else np.nan for g in groups])
        low = np.array([figures[g].intervals.get(metric, (np.nan,))[0] if g in figures else np.nan for g in groups])
        high = np.array([figures[g].intervals.get(metric, (0, np.nan))[1] if g in figures else np.nan for g in groups])
        errors = np.nan_to_num(np.vstack([values - low, high - values]), nan=0.0).clip(min=0)
        axis.errorbar(x, values, yerr=errors, fmt="o", capsize=3, markersize=4, label=report.model)
    axis.set_xticks(np.arange(len(groups)), groups, fontsize=7, rotation=20)
    title = f"{metric} by {attribute} (95% CI)"
    axis.set_title(title, fontsize=9)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    return png_markdown(figure, title)


def attribution_chart(
    attributions: Mapping[str, Mapping[str, float]], top: int = 10, title: str = "Mean |attribution| (model margin)"
) -> str:
    """Mean |attribution| of the top features, one bar per model (or class) and feature (horizontal)."""
    from asset_platform.reports.plots import png_markdown

    plt = _pyplot()
    first = next(iter(attributions.values()), {})
    features = sorted(first, key=lambda name: -first[name])[:top][::-1]
    figure, axis = plt.subplots(figsize=(4.2, 0.4 + 0.22 * max(len(features), 1) * max(len(attributions), 1) ** 0.5))
    height = 0.8 / max(len(attributions), 1)
    for position, (model, values) in enumerate(attributions.items()):
        y = np.arange(len(features)) + (position - (len(attributions) - 1) / 2) * height
        axis.barh(y, [values.get(name, 0.0) for name in features], height=height, label=model)
    axis.set_yticks(np.arange(len(features)), features, fontsize=7)
    axis.set_title(title, fontsize=9)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3, axis="x")
    return png_markdown(figure, title)


def attribution_table_markdown(attributions: Mapping[str, Mapping[str, float]], top: int = 15) -> str:
    """Mean |attribution| per feature (rows) and model (columns), largest first by the first model."""
    frame = pd.DataFrame(attributions)
    if frame.empty:
        return "no attributions"
    frame = frame.sort_values(frame.columns[0], ascending=False).head(top)
    return frame.round(4).rename_axis("feature").to_markdown()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
