"""Evaluation: every model scored on the same untouched holdout."""


import dagster as dg
import numpy as np
import pandas as pd

from asset_platform.ml import TrainedModel
from asset_platform.ml.metrics import classification_metrics
from asset_platform.validation.columns import LABEL_COLUMN

SEGMENT_COLUMN = "device"


@dg.asset(group_name="models", kinds={"pandas"}, code_version="1")
def model_evaluation(
    lgbm_model: TrainedModel, sklearn_model: TrainedModel, torch_model: TrainedModel, holdout_set: pd.DataFrame
) -> dg.MaterializeResult:
    """Holdout AUC, log loss and calibration of each model, overall and per device segment."""
    labels = holdout_set[LABEL_COLUMN].to_numpy()
    rows = []
    for name, model in {"lgbm_model": lgbm_model, "sklearn_model": sklearn_model, "torch_model": torch_model}.items():
        scores = model.predict_proba(holdout_set)
        row = {"model": name, "flavor": model.flavor, **classification_metrics(labels, scores)}
        for segment, index in holdout_set.groupby(SEGMENT_COLUMN).indices.items():
            row[f"auc[{SEGMENT_COLUMN}={segment}]"] = classification_metrics(labels[index], scores[index])["auc"]
        rows.append(row)
    table = pd.DataFrame(rows)
    metadata = {
        "comparison": dg.MetadataValue.md(table.round(4).to_markdown(index=False)),
        "holdout_rows": dg.MetadataValue.int(len(holdout_set)),
        "best_model": str(table.loc[table["auc"].idxmax(), "model"]) if np.isfinite(table["auc"]).any() else "n/a",
    }
    for row in rows:
        for metric in ("auc", "log_loss", "brier", "ece"):
            metadata[f"{row['model']}/{metric}"] = dg.MetadataValue.float(float(row[metric]))
    return dg.MaterializeResult(value=table, metadata=metadata)
