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
from asset_platform.registry.training import train_model

# The Dagster concurrency pool of every training step (model assets here, tuning workers in
# lifecycle/tuning.py): the instance's limit on it (`concurrency: pools:` in its dagster.yaml, or
# `dagster instance concurrency set`) caps how many trainings run at once across all runs, so a
# burst of retraining runs queues for the training machines instead of sharing them to a crawl.
TRAINING_POOL = "asset_platform/training"

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
        pool=TRAINING_POOL,
        ins=ins,
        description=f"{declaration.name}: {what} ({declaration.task.replace('_', ' ')}), early stopping on the "
        "newest training days, scored on the untouched holdout.",
        # The model page `asset-platform serve` adds beside this UI (asset_platform/app/pages/).
        metadata={
            "asset_platform/family": spec.family,
            "asset_platform/page": dg.MetadataValue.url(f"/platform/models/{declaration.name}"),
        },
    )

    def trained(
        training_set: Frame, holdout_set: Frame, feature_pipeline: dict, tuning: dict | None = None
    ) -> dg.MaterializeResult:
        fit = train_model(
            declaration.name,
            declaration.task,
            spec,
            training_set,
            holdout_set,
            feature_pipeline,
            tuning,
            recall=declaration.metric_recall,
        )
        # Rows used of rows available: fewer than all when `training.max_rows` sampled the window.
        available = feature_pipeline.get("rows_available") or len(training_set)
        rows = (len(training_set), available)
        return model_result(*fit, explain_on=_explained_rows(declaration, holdout_set), training_rows=rows)

    # Two signatures because Dagster reads the asset's inputs from its function's parameters.
    def model(training_set: Frame, holdout_set: Frame, feature_pipeline: dict) -> dg.MaterializeResult:
        return trained(training_set, holdout_set, feature_pipeline)

    def tuned_model(
        training_set: Frame, holdout_set: Frame, feature_pipeline: dict, tuning: dict
    ) -> dg.MaterializeResult:
        return trained(training_set, holdout_set, feature_pipeline, tuning)

    return asset(model if spec.tuning is None else tuned_model)


def _explained_rows(declaration: ModelDeclaration, holdout_set: Frame) -> Frame | None:
    """The holdout rows a model's attributions are shown on (a sample), or None when explanations are off."""
    if not declaration.explanations.enabled:
        return None
    from asset_platform.ml.explain import sample_rows

    return sample_rows(holdout_set, declaration.explanations.sample_rows)


def model_result(
    trained: Any, usage: Any, explain_on: Frame | None = None, training_rows: tuple[int, int] | None = None
) -> dg.MaterializeResult:
    """The materialization of a model trained by `train_model`: the model as value; params, metrics and
    tracking as metadata, with `training_rows`: (rows trained on, rows available in its learning window).

    With `explain_on` (featurized rows), its mean |attribution| per feature too (table and chart).
    """
    from asset_platform.registry.tracking import git_commit, library_versions
    from asset_platform.reports import line_chart_markdown
    from asset_platform.reports.numbers import shown

    model = trained.model
    # The stored model's top features, recorded by `train_model`.
    top = model.extra.get("feature_importance", {})
    # Resource usage stays out of the stored model: it differs run to run, and the
    # model's bytes must not, so that a rebuild can be byte-identical.
    metadata: dict[str, Any] = {
        "flavor": model.flavor,
        "task": model.task,
        "params": dg.MetadataValue.json(model.params),
        "seed": dg.MetadataValue.int(int(model.params.get("seed", model.params.get("random_state", 0)) or 0)),
        "feature_count": dg.MetadataValue.int(len(model.feature_names)),
        **{f"metrics/{name}": _number(name, value) for name, value in model.metrics.items()},
        "training/wall_s": dg.MetadataValue.float(shown(usage.wall_s)),
        "training/cpu_s": dg.MetadataValue.float(shown(usage.cpu_s)),
        "training/peak_rss_mb": dg.MetadataValue.float(shown(usage.peak_rss_mb)),
        "library_versions": dg.MetadataValue.json(library_versions()),
        "git_commit": git_commit() or "unknown (not a git checkout)",
    }
    if training_rows is not None:
        metadata["training/rows_used"] = dg.MetadataValue.int(training_rows[0])
        metadata["training/rows_available"] = dg.MetadataValue.int(training_rows[1])
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
    from asset_platform.reports.numbers import shown

    # Shown to four significant digits; the stored model keeps its metrics at full precision.
    return dg.MetadataValue.int(int(value)) if name in _COUNTS else dg.MetadataValue.float(shown(value))
