"""Models: one asset per declared model family, each trained on the same split and scored on the holdout."""

from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration, ModelFamilySpec
from asset_platform.declaration.names import FEATURE_PIPELINE, HOLDOUT_SET, TRAINING_SET, LifecycleNames
from asset_platform.lifecycle.frames import Frame

# The training step's Kubernetes requests, and the GPU a family such as torch asks for, are the family's
# (ml/families/base.py); the names stay importable here, where deployments and their tests look for them.
from asset_platform.ml.families.base import TORCH_GPU_ENV_VAR as TORCH_GPU_ENV_VAR
from asset_platform.ml.families.base import TRAINING_OP_TAGS as TRAINING_OP_TAGS
from asset_platform.ml.families.base import gpu_op_tags as torch_op_tags  # noqa: F401 - see above

_TOP_FEATURES = 15
# Metrics that count something (rounds, epochs, iterations) show as integers in the UI.
_COUNTS = ("best_iteration", "epochs", "iterations")


def model_assets(declaration: ModelDeclaration, names: LifecycleNames) -> list[dg.AssetsDefinition]:
    return [_model_asset(declaration, names, spec) for spec in declaration.models]


def _model_asset(declaration: ModelDeclaration, names: LifecycleNames, spec: ModelFamilySpec) -> dg.AssetsDefinition:
    from asset_platform.ml.families.registry import family

    what = spec.estimator or spec.trainer or spec.family
    trained = family(spec.family)
    trained.declare(spec)
    ins = {
        "training_set": dg.AssetIn(key=names.key(TRAINING_SET)),
        "holdout_set": dg.AssetIn(key=names.key(HOLDOUT_SET)),
        "feature_pipeline": dg.AssetIn(key=names.key(FEATURE_PIPELINE)),
    }
    if spec.tuning is not None:
        # Trains with the best params of its tuning asset (lifecycle/tuning.py), which lineage then shows.
        ins["tuning"] = dg.AssetIn(key=names.tuning_key(spec.asset_name))

    asset = dg.asset(
        key=names.key(spec.asset_name),
        group_name=names.group("models"),
        kinds=set(trained.kinds),
        code_version="1",
        op_tags=trained.op_tags(),
        ins=ins,
        description=f"{declaration.name}: {what} ({declaration.task.replace('_', ' ')}), early stopping on the "
        "newest training days, scored on the untouched holdout.",
        metadata={"asset_platform/family": spec.family},
    )

    def model(training_set: Frame, holdout_set: Frame, feature_pipeline: dict) -> dg.MaterializeResult:
        return model_result(
            *train_model(
                declaration.name,
                declaration.task,
                spec,
                training_set,
                holdout_set,
                feature_pipeline,
                recall=declaration.metric_recall,
            ),
            explain_on=_explained_rows(declaration, holdout_set),
        )

    def tuned_model(
        training_set: Frame, holdout_set: Frame, feature_pipeline: dict, tuning: dict
    ) -> dg.MaterializeResult:
        return model_result(
            *train_model(
                declaration.name,
                declaration.task,
                spec,
                training_set,
                holdout_set,
                feature_pipeline,
                tuning,
                recall=declaration.metric_recall,
            ),
            explain_on=_explained_rows(declaration, holdout_set),
        )

    return asset(model if spec.tuning is None else tuned_model)


def train_model(
    model_name: str,
    task: str,
    spec: ModelFamilySpec,
    training_set: Frame,
    holdout_set: Frame,
    feature_pipeline: dict,
    tuning: dict | None = None,
    recall: float | None = None,
) -> tuple[Any, Any]:
    """Train `spec` on the split and score it: (the family's Fit, the resources it used).

    Shared by the model assets and `reproduce`, which passes the spec recorded in
    the model rather than today's declaration. `tuning` (the tuning asset's value)
    overrides the params with the study's best and is recorded with the spec. `recall` (the declared
    `metric_recall`) adds precision at that recall to the scores, and is recorded too.
    """
    from asset_platform.ml.families import TrainingData, train_family, validation_split
    from asset_platform.ml.features import FeaturePipeline
    from asset_platform.registry.tracking import track_training

    if tuning is not None:
        from asset_platform.lifecycle.tuning import tuned_spec

        spec = tuned_spec(spec, tuning)
    pipeline = FeaturePipeline.from_dict(feature_pipeline)
    fit, valid = validation_split(training_set, pipeline.time_column)
    with track_training() as usage:
        trained = train_family(spec, TrainingData(pipeline, task, fit, valid))
    trained.model.extra["declaration"] = {"model": model_name, "family": spec.model_dump()}
    if recall is not None:  # recorded only where declared, so models without it keep their bytes
        trained.model.extra["declaration"]["metric_recall"] = recall
    if tuning is not None:
        trained.model.extra["declaration"]["tuned_from"] = {"study": tuning["study"], "trial": int(tuning["trial"])}
    splits = {"train": fit, "valid": valid, "holdout": holdout_set}
    trained.model.metrics = {**score_splits(trained.model, pipeline.label_column, splits, recall), **trained.counts}
    # The label-free estimator is part of the model version: a batch is always estimated with the estimator
    # of the model that scored it, whichever model is champion and whenever the reference profile is rebuilt.
    from asset_platform.lifecycle.scoring import fit_model_estimator

    trained.model.extra["estimation"] = fit_model_estimator(trained.model, holdout_set, pipeline.label_column)
    return trained, usage


def score_splits(model: Any, label: str, splits: dict[str, Frame], recall: float | None = None) -> dict[str, float]:
    """Metrics of `model` on each named split, as flat `<split>_<metric>` numbers."""
    from asset_platform.ml.metrics import task_metrics

    metrics = {}
    for split, frame in splits.items():
        for name, value in task_metrics(model.task, frame[label].to_numpy(), model.predict(frame), recall).items():
            metrics[f"{split}_{name}"] = value
    return metrics


def _explained_rows(declaration: ModelDeclaration, holdout_set: Frame) -> Frame | None:
    """The holdout rows a model's attributions are shown on (a sample), or None when explanations are off."""
    if not declaration.explanations.enabled:
        return None
    from asset_platform.ml.explain import sample_rows

    return sample_rows(holdout_set, declaration.explanations.sample_rows)


def model_result(trained: Any, usage: Any, explain_on: Frame | None = None) -> dg.MaterializeResult:
    """The materialization of a model: the model as value; params, metrics and tracking as metadata.

    With `explain_on` (featurized rows), its mean |attribution| per feature too (table and chart).
    """
    from asset_platform.registry.tracking import git_commit, library_versions
    from asset_platform.reports import line_chart_markdown

    model = trained.model
    top = dict(sorted(trained.importance.items(), key=lambda item: -abs(item[1]))[:_TOP_FEATURES])
    model.extra["feature_importance"] = top
    # Resource usage stays out of the stored model: it differs run to run, and the
    # model's bytes must not, so that a rebuild can be byte-identical.
    metadata: dict[str, Any] = {
        "flavor": model.flavor,
        "task": model.task,
        "params": dg.MetadataValue.json(model.params),
        "seed": dg.MetadataValue.int(int(model.params.get("seed", model.params.get("random_state", 0)) or 0)),
        "feature_count": dg.MetadataValue.int(len(model.feature_names)),
        **{f"metrics/{name}": _number(name, value) for name, value in model.metrics.items()},
        "training/wall_s": dg.MetadataValue.float(usage.wall_s),
        "training/cpu_s": dg.MetadataValue.float(usage.cpu_s),
        "training/peak_rss_mb": dg.MetadataValue.float(usage.peak_rss_mb),
        "library_versions": dg.MetadataValue.json(library_versions()),
        "git_commit": git_commit() or "unknown (not a git checkout)",
    }
    tuned_from = model.extra.get("declaration", {}).get("tuned_from")
    if tuned_from:
        # Lineage to the tuning evidence: the study and trial whose params this model trained with.
        metadata["tuning/study"] = dg.MetadataValue.text(tuned_from["study"])
        metadata["tuning/trial"] = dg.MetadataValue.int(tuned_from["trial"])
    if top:
        import pandas as pd

        metadata["feature_importance"] = dg.MetadataValue.md(
            pd.DataFrame({"feature": list(top), "importance": list(top.values())}).round(4).to_markdown(index=False)
        )
    if trained.curve and all(trained.curve.values()):
        metadata["learning_curve"] = dg.MetadataValue.md(
            line_chart_markdown(trained.curve, f"{model.flavor} learning curve", *trained.curve_axes)
        )
        metadata["learning_curve_values"] = dg.MetadataValue.json(trained.curve)
    if explain_on is not None and len(explain_on):
        from asset_platform.fairness.audit import model_explanation_metadata

        metadata.update(model_explanation_metadata(model, explain_on))
    return dg.MaterializeResult(value=model, metadata=metadata)


def _number(name: str, value: float) -> dg.MetadataValue:
    return dg.MetadataValue.int(int(value)) if name in _COUNTS else dg.MetadataValue.float(float(value))
