"""Evaluation: every model of a declaration scored on the same untouched holdout, overall and per segment."""

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from asset_platform.declaration import ModelDeclaration
from asset_platform.lifecycle.names import EVALUATION, FEATURE_PIPELINE, HOLDOUT_SET, LifecycleNames


class EvaluationConfig(dg.Config):
    threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Classification: score at or above which a row is predicted positive."
    )


def evaluation_asset(declaration: ModelDeclaration, names: LifecycleNames) -> dg.AssetsDefinition:
    model_names = [spec.asset_name for spec in declaration.models]
    ins = {name: dg.AssetIn(key=names.key(name)) for name in model_names}
    ins["holdout_set"] = dg.AssetIn(key=names.key(HOLDOUT_SET))
    ins["feature_pipeline"] = dg.AssetIn(key=names.key(FEATURE_PIPELINE))

    @dg.asset(
        key=names.key(EVALUATION),
        group_name=names.group("models"),
        kinds={"pandas"},
        code_version="3",
        ins=ins,
        description=f"{declaration.name}: holdout {declaration.metric_name} and every other metric of each model, "
        "overall and per segment, with curves.",
    )
    def evaluation(config: EvaluationConfig, **inputs: Any) -> dg.MaterializeResult:
        from asset_platform.ml.features import FeaturePipeline
        from asset_platform.ml.metrics import METRIC_DIRECTION, task_metrics

        holdout: pd.DataFrame = inputs["holdout_set"]
        pipeline = FeaturePipeline.from_dict(inputs["feature_pipeline"])
        models = {name: inputs[name] for name in model_names}
        labels = holdout[declaration.label_column].to_numpy()
        scores = {name: model.predict(holdout) for name, model in models.items()}
        table = pd.DataFrame(
            [
                {"model": name, "flavor": models[name].flavor, **task_metrics(declaration.task, labels, s)}
                for name, s in scores.items()
            ]
        )
        metric = declaration.gate_metric
        ranked = table[metric] * METRIC_DIRECTION[metric]
        metadata: dict[str, Any] = {
            "comparison": dg.MetadataValue.md(table.round(4).to_markdown(index=False)),
            "holdout_rows": dg.MetadataValue.int(len(holdout)),
            "metric": metric,
            "best_model": str(table.loc[ranked.idxmax(), "model"]) if np.isfinite(ranked).any() else "n/a",
            "segments": dg.MetadataValue.md(_segments(declaration, pipeline, holdout, labels, scores)),
            **_charts(declaration, labels, scores, config.threshold),
        }
        for row in table.to_dict("records"):
            for name, value in row.items():
                if name not in ("model", "flavor"):
                    metadata[f"{row['model']}/{name}"] = dg.MetadataValue.float(float(value))
        return dg.MaterializeResult(value=table, metadata=metadata)

    return evaluation


def _charts(declaration: ModelDeclaration, labels, scores: dict[str, np.ndarray], threshold: float) -> dict:
    from asset_platform.reports.plots import curves_markdown

    if declaration.task == "regression":
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


def _segments(declaration, pipeline, holdout: pd.DataFrame, labels, scores: dict[str, np.ndarray]) -> str:
    """The declared metric of each model per segment value, to show where each model errs."""
    from asset_platform.ml.metrics import task_metrics

    if not declaration.segments:
        return "no segments declared"
    metric, rows = declaration.metric_name, []
    for column in declaration.segments:
        values = pipeline.decode(column, holdout[column].to_numpy())
        for segment in pd.unique(values):
            index = np.flatnonzero(values == segment)
            row: dict[str, Any] = {"segment": f"{column}={segment}", "rows": len(index)}
            for name, s in scores.items():
                row[f"{name} {metric}"] = round(task_metrics(declaration.task, labels[index], s[index])[metric], 4)
            rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False)
