"""Evaluation: every model scored on the same untouched holdout."""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from asset_platform.ml import TrainedModel
from asset_platform.ml.metrics import classification_metrics
from asset_platform.reports.plots import curves_markdown
from asset_platform.validation.columns import LABEL_COLUMN

SEGMENT_COLUMNS = ("device", "channel")


class EvaluationConfig(dg.Config):
    threshold: float = Field(
        default=0.25, gt=0, lt=1, description="Score above which a session is predicted to convert."
    )


@dg.asset(group_name="models", kinds={"pandas"}, code_version="2")
def model_evaluation(
    config: EvaluationConfig,
    lgbm_model: TrainedModel,
    sklearn_model: TrainedModel,
    torch_model: TrainedModel,
    holdout_set: pd.DataFrame,
) -> dg.MaterializeResult:
    """Holdout AUC, log loss and calibration of each model, overall and per segment, with curves."""
    models = {"lgbm_model": lgbm_model, "sklearn_model": sklearn_model, "torch_model": torch_model}
    labels = holdout_set[LABEL_COLUMN].to_numpy()
    scores = {name: model.predict_proba(holdout_set) for name, model in models.items()}
    table = pd.DataFrame(
        [
            {"model": name, "flavor": models[name].flavor, **classification_metrics(labels, s)}
            for name, s in scores.items()
        ]
    )
    metadata = {
        "comparison": dg.MetadataValue.md(table.round(4).to_markdown(index=False)),
        "holdout_rows": dg.MetadataValue.int(len(holdout_set)),
        "best_model": str(table.loc[table["auc"].idxmax(), "model"]) if np.isfinite(table["auc"]).any() else "n/a",
        "roc_curves": dg.MetadataValue.md(_roc_chart(labels, scores)),
        "calibration": dg.MetadataValue.md(_calibration_chart(labels, scores)),
        "confusion_matrices": dg.MetadataValue.md(_confusion_tables(labels, scores, config.threshold)),
        "segments": dg.MetadataValue.md(_segment_table(holdout_set, labels, scores).to_markdown(index=False)),
    }
    for row in table.to_dict("records"):
        for metric in ("auc", "log_loss", "brier", "ece"):
            metadata[f"{row['model']}/{metric}"] = dg.MetadataValue.float(float(row[metric]))
    return dg.MaterializeResult(value=table, metadata=metadata)


def _roc_chart(labels: np.ndarray, scores: dict[str, np.ndarray]) -> str:
    from sklearn.metrics import roc_curve

    curves = {name: roc_curve(labels, s)[:2] for name, s in scores.items()}
    return curves_markdown(curves, "ROC on the holdout", ("false positive rate", "true positive rate"))


def _calibration_chart(labels: np.ndarray, scores: dict[str, np.ndarray]) -> str:
    from sklearn.calibration import calibration_curve

    curves = {}
    for name, s in scores.items():
        observed, predicted = calibration_curve(labels, s, n_bins=10, strategy="quantile")
        curves[name] = (predicted, observed)
    return curves_markdown(curves, "Calibration (quantile bins)", ("mean predicted", "observed rate"))


def _confusion_tables(labels: np.ndarray, scores: dict[str, np.ndarray], threshold: float) -> str:
    from sklearn.metrics import confusion_matrix

    parts = [f"Threshold {threshold}: rows are actual (0, 1), columns predicted (0, 1)."]
    for name, s in scores.items():
        (tn, fp), (fn, tp) = confusion_matrix(labels, (s >= threshold).astype(int), labels=[0, 1])
        header = "| | pred 0 | pred 1 |\n|---|---|---|"
        parts.append(f"**{name}**\n\n{header}\n| actual 0 | {tn} | {fp} |\n| actual 1 | {fn} | {tp} |")
    return "\n\n".join(parts)


def _segment_table(holdout: pd.DataFrame, labels: np.ndarray, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """AUC and log loss per segment value, to show where each model errs."""
    rows = []
    for column in SEGMENT_COLUMNS:
        for segment, index in holdout.groupby(column).indices.items():
            row = {"segment": f"{column}={segment}", "rows": len(index)}
            for name, s in scores.items():
                metrics = classification_metrics(labels[index], s[index])
                row[f"{name} auc"] = round(metrics["auc"], 4)
                row[f"{name} log_loss"] = round(metrics["log_loss"], 4)
            rows.append(row)
    return pd.DataFrame(rows)
