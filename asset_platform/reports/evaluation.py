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


# Points kept of each curve in the metadata values: enough to draw it, small in the event log.
_CURVE_POINTS = 60
_RESIDUAL_BINS = 30
CURVE_VALUES = "curve_values"


def curve_values(task: str, labels: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, Any]:
    """The evaluation's curves as numbers, per model, so pages can overlay versions evaluated in different runs:
    ROC and calibration for a classifier, predicted-vs-actual deciles and the residual histogram (shared
    bins across the models) for a regression model. {} where a classifier's holdout has one class."""
    labels = np.asarray(labels, dtype=np.float64)
    if task == "regression":
        residuals = {name: labels - np.asarray(s, dtype=np.float64) for name, s in scores.items()}
        pooled = np.concatenate(list(residuals.values())) if residuals else np.array([])
        pooled = pooled[np.isfinite(pooled)]
        if pooled.size == 0:
            return {}
        edges = np.histogram_bin_edges(pooled, bins=_RESIDUAL_BINS)
        found: dict[str, Any] = {}
        for name, s in scores.items():
            predicted, actual = _decile_means(labels, np.asarray(s, dtype=np.float64))
            counts, _ = np.histogram(residuals[name], bins=edges)
            found[name] = {
                "predicted_vs_actual": {"predicted": _rounded(predicted), "actual": _rounded(actual)},
                "residuals": {"edges": _rounded(edges), "counts": counts.tolist()},
            }
        return found
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    if len(np.unique(labels)) < 2:
        return {}
    found = {}
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(labels, s)
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), _CURVE_POINTS)).round().astype(int))
        observed, predicted = calibration_curve(labels, s, n_bins=10, strategy="quantile")
        found[name] = {
            "roc": {"fpr": _rounded(fpr[keep]), "tpr": _rounded(tpr[keep])},
            "calibration": {"predicted": _rounded(predicted), "observed": _rounded(observed)},
        }
    return found


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


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
