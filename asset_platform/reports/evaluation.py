"""Evaluation charts and tables for the UI: curves per model, confusion matrices, per-segment metrics."""

from __future__ import annotations

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd


def evaluation_charts(task: str, labels: np.ndarray, scores: dict[str, np.ndarray], threshold: float) -> dict:
    """ROC, calibration and confusion matrices (classification) or predicted vs actual (regression)."""
    from asset_platform.reports.plots import curves_markdown

    if task == "regression":
        curves = {name: _decile_means(labels, s) for name, s in scores.items()}
        chart = curves_markdown(
            curves, "Predicted vs actual (prediction deciles)", ("mean predicted", "mean actual"), diagonal=False
        )
        return {"predicted_vs_actual": dg.MetadataValue.md(chart)}
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    if len(np.unique(labels)) < 2:
        return {}
    roc = {name: roc_curve(labels, s)[:2] for name, s in scores.items()}
    calibration = {}
    for name, s in scores.items():
        observed, predicted = calibration_curve(labels, s, n_bins=10, strategy="quantile")
        calibration[name] = (predicted, observed)
    return {
        "roc_curves": dg.MetadataValue.md(
            curves_markdown(roc, "ROC on the holdout", ("false positive rate", "true positive rate"))
        ),
        "calibration": dg.MetadataValue.md(
            curves_markdown(calibration, "Calibration (quantile bins)", ("mean predicted", "observed rate"))
        ),
        "confusion_matrices": dg.MetadataValue.md(_confusion_tables(labels, scores, threshold)),
    }


def _decile_means(labels: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(predictions, kind="stable")
    chunks = [chunk for chunk in np.array_split(order, 10) if len(chunk)]
    return np.array([predictions[c].mean() for c in chunks]), np.array([labels[c].mean() for c in chunks])


def _confusion_tables(labels: np.ndarray, scores: dict[str, np.ndarray], threshold: float) -> str:
    from sklearn.metrics import confusion_matrix

    parts = [f"Threshold {threshold}: rows are actual (0, 1), columns predicted (0, 1)."]
    for name, s in scores.items():
        (tn, fp), (fn, tp) = confusion_matrix(labels, (s >= threshold).astype(int), labels=[0, 1])
        header = "| | pred 0 | pred 1 |\n|---|---|---|"
        parts.append(f"**{name}**\n\n{header}\n| actual 0 | {tn} | {fp} |\n| actual 1 | {fn} | {tp} |")
    return "\n\n".join(parts)


def segment_table(
    declaration, pipeline, holdout: pd.DataFrame, labels: np.ndarray, scores: dict[str, np.ndarray]
) -> str:
    """The declared metric of each model per segment value, to show where each model errs."""
    from asset_platform.ml.metrics import task_metrics

    if not declaration.segments:
        return "no segments declared"
    from asset_platform.access.masking import mask_value, sensitive_columns

    metric, rows, sensitive = declaration.metric_name, [], sensitive_columns(declaration)
    for column in declaration.segments:
        values = pipeline.decode(column, holdout[column].to_numpy())
        for segment in pd.unique(values):
            index = np.flatnonzero(values == segment)
            shown = mask_value(segment) if column in sensitive else segment  # a PII segment is named by hash
            row: dict[str, Any] = {"segment": f"{column}={shown}", "rows": len(index)}
            for name, s in scores.items():
                row[f"{name} {metric}"] = round(
                    task_metrics(declaration.task, labels[index], s[index], declaration.metric_recall)[metric], 4
                )
            rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False)
