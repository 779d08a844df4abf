"""What the three model assets share: the validation split and the metadata they record."""


from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from asset_platform.ml import TrainedModel
from asset_platform.ml.metrics import classification_metrics
from asset_platform.reports import line_chart_markdown
from asset_platform.validation.columns import LABEL_COLUMN

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


def model_result(model: TrainedModel, curve: dict[str, list[float]], curve_metric: str, step_name: str) -> Any:
    """The materialization of a model: the model as value, params and metrics as metadata."""
    metadata: dict[str, Any] = {
        "flavor": model.flavor,
        "params": dg.MetadataValue.json(model.params),
        "feature_count": dg.MetadataValue.int(len(model.feature_names)),
        **{f"metrics/{name}": dg.MetadataValue.float(value) for name, value in model.metrics.items()},
    }
    if curve and all(curve.values()):
        metadata["learning_curve"] = dg.MetadataValue.md(
            line_chart_markdown(curve, f"{model.flavor} learning curve", step_name, curve_metric)
        )
    return dg.MaterializeResult(value=model, metadata=metadata)
