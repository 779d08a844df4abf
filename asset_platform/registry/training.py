"""Training one declared model family on a split: the model version the registry stores, and its scores.

Shared by the model assets (lifecycle/training.py), which add the Dagster metadata, and
`reproduce`, which retrains a stored version from its recorded spec and inputs and compares
the bytes: everything that ends up in the stored model is written here, so both agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asset_platform.declaration import ModelFamilySpec

# Frames are pandas DataFrames; pandas is imported where used (see lifecycle/frames.py).
Frame = Any

# The features whose importance the stored model records.
TOP_FEATURES = 15


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
    from asset_platform.ml.scoring import fit_model_estimator
    from asset_platform.registry.tracking import track_training

    if tuning is not None:
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
    trained.model.extra["estimation"] = fit_model_estimator(trained.model, holdout_set, pipeline.label_column)
    # Last, as it always was: the order of `extra` is part of the stored bytes.
    top = sorted(trained.importance.items(), key=lambda item: -abs(item[1]))[:TOP_FEATURES]
    trained.model.extra["feature_importance"] = dict(top)
    return trained, usage


def tuned_spec(spec: ModelFamilySpec, tuning: dict[str, Any]) -> ModelFamilySpec:
    """`spec` with the tuning asset's best params over the declared ones."""
    return spec.model_copy(update={"params": {**spec.params, **tuning["best_params"]}})


def score_splits(model: Any, label: str, splits: dict[str, Frame], recall: float | None = None) -> dict[str, float]:
    """Metrics of `model` on each named split, as flat `<split>_<metric>` numbers."""
    from asset_platform.ml.metrics import task_metrics

    metrics = {}
    for split, frame in splits.items():
        for name, value in task_metrics(model.task, frame[label].to_numpy(), model.predict(frame), recall).items():
            metrics[f"{split}_{name}"] = value
    return metrics
