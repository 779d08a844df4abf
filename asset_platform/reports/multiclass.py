"""A multiclass evaluation for the UI: each model's confusion matrix and its per-class figures.

The confusion matrix is recorded twice: as numbers (`CONFUSION_VALUES`, per model the classes and a
K x K count table, rows actual and columns predicted), which pages and `models compare` can redraw for any
version, and as markdown (a table per model and one small heatmap PNG), which Dagster's UI shows inline.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

CONFUSION_VALUES = "confusion_matrix_values"
# More classes than this make a heatmap's labels unreadable at the UI's image size: the tables remain.
_MAX_DRAWN_CLASSES = 12


def confusion_values(classes: list[str], labels: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per model: {"classes": [...], "counts": K x K}, rows the actual class and columns the predicted one."""
    from asset_platform.ml.metrics import confusion_counts

    return {
        name: {"classes": list(classes), "counts": confusion_counts(labels, s).tolist()} for name, s in scores.items()
    }


def multiclass_evaluation_metadata(
    classes: list[str], labels: np.ndarray, scores: dict[str, np.ndarray], best: str | None
) -> dict[str, Any]:
    """The evaluation's multiclass metadata: confusion matrices (numbers, tables, the best model's heatmap) and
    each class's one-vs-rest AUC, precision, recall and F1 per model."""
    values = confusion_values(classes, labels, scores)
    tables = [
        f"**{name}** (rows: actual, columns: predicted)\n\n{confusion_markdown(found['classes'], found['counts'])}"
        for name, found in values.items()
    ]
    drawn = best if best in values else next(iter(values), None)
    if drawn is not None and len(classes) <= _MAX_DRAWN_CLASSES:
        tables.append(confusion_heatmap(classes, np.asarray(values[drawn]["counts"]), f"{drawn}: confusion matrix"))
    return {
        CONFUSION_VALUES: dg.MetadataValue.json(values),
        "confusion_matrices": dg.MetadataValue.md("\n\n".join(tables)),
        "per_class": dg.MetadataValue.md(per_class_table(classes, labels, scores).to_markdown(index=False)),
    }


def confusion_markdown(classes: list[str], counts: list[list[int]]) -> str:
    frame = pd.DataFrame(counts, index=[f"actual {c}" for c in classes], columns=[f"pred {c}" for c in classes])
    return frame.to_markdown()


def confusion_text(classes: list[str], counts: list[list[int]]) -> list[str]:
    """A confusion matrix as aligned plain text (a terminal's): a row per actual class with its total, a
    column per predicted class."""
    corner, names = "actual \\ predicted", [str(c) for c in classes]
    width = max(len(corner), *(len(n) for n in names))
    cell = max(6, *(len(n) for n in names), *(len(str(v)) for row in counts for v in row))
    lines = [f"{corner:<{width}} " + " ".join(f"{n:>{cell}}" for n in [*names, "rows"])]
    for name, row in zip(names, counts, strict=True):
        lines.append(f"{name:<{width}} " + " ".join(f"{v:>{cell}}" for v in [*row, sum(row)]))
    return lines


def per_class_table(classes: list[str], labels: np.ndarray, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per (model, class): its holdout rows, one-vs-rest AUC, precision, recall and F1."""
    from asset_platform.ml.metrics import confusion_counts, per_class_auc

    rows = []
    for name, s in scores.items():
        counts = confusion_counts(labels, s)
        aucs = per_class_auc(labels, s)
        for index, class_name in enumerate(classes):
            hits, actual, predicted = counts[index, index], counts[index].sum(), counts[:, index].sum()
            precision = hits / predicted if predicted else float("nan")
            recall = hits / actual if actual else float("nan")
            both = precision + recall
            rows.append(
                {
                    "model": name,
                    "class": class_name,
                    "rows": int(actual),
                    "auc_ovr": round(aucs[index], 4),
                    "precision": round(precision, 4),
                    "recall": round(recall, 4),
                    "f1": round(2 * precision * recall / both, 4) if both else 0.0,
                }
            )
    return pd.DataFrame(rows)


def confusion_heatmap(classes: list[str], counts: np.ndarray, title: str) -> str:
    """A small heatmap of row-normalized counts (each actual class's share per predicted class), counts written,
    as markdown (Dagster's UI shows it inline)."""
    from asset_platform.reports.plots import png_markdown

    return png_markdown(_heatmap_figure(classes, counts, title), title)


def confusion_heatmap_uri(classes: list[str], counts: np.ndarray, title: str) -> str:
    """The same heatmap as a PNG `data:` URI, for an HTML page's <img>."""
    from asset_platform.reports.plots import png_data_uri

    return png_data_uri(_heatmap_figure(classes, counts, title))


def _heatmap_figure(classes: list[str], counts: np.ndarray, title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(counts)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)
    size = 1.4 + 0.55 * len(classes)
    figure, axis = plt.subplots(figsize=(size + 0.8, size))
    axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = range(len(classes))
    axis.set_xticks(ticks, [str(c)[:12] for c in classes], rotation=45, ha="right", fontsize=7)
    axis.set_yticks(ticks, [str(c)[:12] for c in classes], fontsize=7)
    axis.set_xlabel("predicted", fontsize=8)
    axis.set_ylabel("actual", fontsize=8)
    axis.set_title(title, fontsize=9)
    for row in ticks:
        for column in ticks:
            colour = "white" if shares[row, column] > 0.6 else "black"
            axis.text(column, row, str(int(counts[row, column])), ha="center", va="center", fontsize=7, color=colour)
    return figure
