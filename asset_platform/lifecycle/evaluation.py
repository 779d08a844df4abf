"""Evaluation: every model of a declaration scored on the same untouched holdout, overall and per segment."""

from typing import Any

import dagster as dg
from pydantic import Field

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import DATASET, EVALUATION, FEATURE_PIPELINE, HOLDOUT_SET, LifecycleNames
from asset_platform.lifecycle.frames import Frame


class EvaluationConfig(dg.Config):
    threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Classification: score at or above which a row is predicted positive."
    )


def evaluation_asset(declaration: ModelDeclaration, names: LifecycleNames) -> dg.AssetsDefinition:
    model_names = [spec.asset_name for spec in declaration.models]
    ins = {name: dg.AssetIn(key=names.key(name)) for name in model_names}
    ins["holdout_set"] = dg.AssetIn(key=names.key(HOLDOUT_SET))
    ins["feature_pipeline"] = dg.AssetIn(key=names.key(FEATURE_PIPELINE))
    if declaration.fairness.attributes:
        # Audited attributes need not be features: their raw values come from the dataset, joined by id.
        ins["dataset"] = dg.AssetIn(key=names.key(DATASET))

    @dg.asset(
        key=names.key(EVALUATION),
        group_name=names.group("models"),
        kinds={"pandas"},
        code_version="4",
        ins=ins,
        description=f"{declaration.name}: holdout {declaration.metric_name} and every other metric of each model, "
        "overall and per segment, with curves.",
    )
    def evaluation(config: EvaluationConfig, **inputs: Any) -> dg.MaterializeResult:
        import numpy as np
        import pandas as pd

        from asset_platform.ml.features import FeaturePipeline
        from asset_platform.ml.metrics import METRIC_DIRECTION, task_metrics
        from asset_platform.reports.evaluation import CURVE_VALUES, curve_values, evaluation_charts, segment_table

        holdout: Frame = inputs["holdout_set"]
        pipeline = FeaturePipeline.from_dict(inputs["feature_pipeline"])
        models = {name: inputs[name] for name in model_names}
        labels = holdout[declaration.label_column].to_numpy()
        scores = {name: model.predict(holdout) for name, model in models.items()}
        table = pd.DataFrame(
            [
                {
                    "model": name,
                    "flavor": models[name].flavor,
                    **task_metrics(declaration.task, labels, s, declaration.metric_recall),
                }
                for name, s in scores.items()
            ]
        )
        metric = declaration.gate_metric
        ranked = table[metric] * METRIC_DIRECTION[metric]
        best = str(table.loc[ranked.idxmax(), "model"]) if np.isfinite(ranked).any() else "n/a"
        metadata: dict[str, Any] = {
            "comparison": dg.MetadataValue.md(table.round(4).to_markdown(index=False)),
            "holdout_rows": dg.MetadataValue.int(len(holdout)),
            "metric": metric,
            "best_model": best,
            "segments": dg.MetadataValue.md(segment_table(declaration, pipeline, holdout, labels, scores)),
        }
        if declaration.task == "multiclass":
            from asset_platform.reports.multiclass import multiclass_evaluation_metadata

            # A class per column, no threshold: confusion matrices at the most probable class, per-class figures.
            metadata.update(multiclass_evaluation_metadata(pipeline.classes, labels, scores, best))
        else:
            metadata.update(evaluation_charts(declaration.task, labels, scores, config.threshold))
            # The same curves as numbers: the model page overlays versions evaluated in different runs.
            metadata[CURVE_VALUES] = dg.MetadataValue.json(curve_values(declaration.task, labels, scores))
        metadata.update(_fairness_and_explanations(holdout, inputs.get("dataset"), scores, models))
        from asset_platform.reports.numbers import shown

        for row in table.to_dict("records"):
            for name, value in row.items():
                if name not in ("model", "flavor"):
                    metadata[f"{row['model']}/{name}"] = dg.MetadataValue.float(shown(value))
        return dg.MaterializeResult(value=table, metadata=metadata)

    def _fairness_and_explanations(holdout, dataset, scores, models) -> dict[str, Any]:
        from asset_platform.fairness.audit import evaluation_metadata, holdout_attribute_rows

        attributes = holdout_attribute_rows(declaration, holdout, dataset) if dataset is not None else None
        return evaluation_metadata(declaration, holdout, attributes, scores, models)

    return evaluation
