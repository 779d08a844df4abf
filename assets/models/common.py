"""What the three model assets share: the validation split and the metadata they record."""

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from asset_platform.ml import TrainedModel
from asset_platform.ml.metrics import classification_metrics
from asset_platform.registry.tracking import TrainingUsage, git_commit, library_versions
from asset_platform.reports import line_chart_markdown
from asset_platform.validation.columns import LABEL_COLUMN

_TOP_FEATURES = 15

# Training assets ask Kubernetes for more memory than the default step pod.
TRAINING_OP_TAGS = {
    "dagster-k8s/config": {"container_config": {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}}
}


def validation_split(training_set: pd.DataFrame, fraction: float = 0.15) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest `fraction` of the training window validates early stopping; the holdout stays untouched."""
    ordered = training_set.sort_values("event_time", kind="stable")
    cut = int(len(ordered) * (1 - fraction))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def xy(frame: pd.DataFrame, feature_columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return frame[feature_columns].to_numpy(dtype=np.float32), frame[LABEL_COLUMN].to_numpy()


def score_splits(model: TrainedModel, splits: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Metrics of `model` on each named split, as flat `<split>_<metric>` numbers."""
    metrics = {}
    for split, frame in splits.items():
        for name, value in classification_metrics(frame[LABEL_COLUMN].to_numpy(), model.predict_proba(frame)).items():
            metrics[f"{split}_{name}"] = value
    return metrics


# Metrics that count something (rounds, epochs, iterations) show as integers in the UI.
_COUNT_METRICS = ("best_iteration", "epochs", "iterations")


def _number(name: str, value: float) -> dg.MetadataValue:
    return dg.MetadataValue.int(int(value)) if name in _COUNT_METRICS else dg.MetadataValue.float(float(value))


def model_result(
    model: TrainedModel,
    usage: TrainingUsage,
    importance: dict[str, float],
    curve: dict[str, list[float]],
    curve_axes: tuple[str, str],
) -> dg.MaterializeResult:
    """The materialization of a model: the model as value; params, metrics and tracking as metadata."""
    top = dict(sorted(importance.items(), key=lambda item: -abs(item[1]))[:_TOP_FEATURES])
    model.extra["feature_importance"] = top
    # Resource usage stays out of the stored model: it differs run to run, and the
    # model's bytes must not, so that a rebuild can be byte-identical.
    metadata: dict[str, Any] = {
        "flavor": model.flavor,
        "params": dg.MetadataValue.json(model.params),
        "seed": dg.MetadataValue.int(int(model.params.get("seed", 0))),
        "feature_count": dg.MetadataValue.int(len(model.feature_names)),
        **{f"metrics/{name}": _number(name, value) for name, value in model.metrics.items()},
        "feature_importance": dg.MetadataValue.md(
            pd.DataFrame({"feature": list(top), "importance": list(top.values())}).round(4).to_markdown(index=False)
        ),
        "training/wall_s": dg.MetadataValue.float(usage.wall_s),
        "training/cpu_s": dg.MetadataValue.float(usage.cpu_s),
        "training/peak_rss_mb": dg.MetadataValue.float(usage.peak_rss_mb),
        "library_versions": dg.MetadataValue.json(library_versions()),
        "git_commit": git_commit() or "unknown (not a git checkout)",
    }
    if curve and all(curve.values()):
        metadata["learning_curve"] = dg.MetadataValue.md(
            line_chart_markdown(curve, f"{model.flavor} learning curve", *curve_axes)
        )
        metadata["learning_curve_values"] = dg.MetadataValue.json(curve)
    return dg.MaterializeResult(value=model, metadata=metadata)
