"""Assemble one declaration's lifecycle: assets, checks, jobs and sensors under its name."""

from __future__ import annotations

import warnings
from typing import Any

import dagster as dg

from asset_platform.access.mutations import REQUIRED_ROLE_TAG
from asset_platform.access.policy import Role
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import (
    BATCHES,
    CHAMPION,
    DRIFT,
    PERFORMANCE,
    PREDICTIONS,
    REFERENCE_PROFILE,
    SHADOW_COMPARISON,
    LifecycleNames,
)
from asset_platform.lifecycle.champion import champion_asset
from asset_platform.lifecycle.datasets import dataset_assets
from asset_platform.lifecycle.evaluation import evaluation_asset
from asset_platform.lifecycle.features import feature_assets
from asset_platform.lifecycle.freshness import (
    build_freshness_sensor,
    freshness_checks,
    freshness_policy,
    freshness_selection,
)
from asset_platform.lifecycle.monitoring import monitoring_assets
from asset_platform.lifecycle.training import model_assets
from asset_platform.lifecycle.tuning import tuning_assets

# Jobs carry their model's owners (team-scoped roles need them, see `_jobs`). Dagster 1.13 marks
# `owners` on jobs as beta and warns each time a job resolves: in every CLI call, demo day and run
# worker. The parameter is public and pinned with Dagster; silence only that one warning.
warnings.filterwarnings(
    "ignore", message=r"Parameter `owners` of .*(JobDefinition|to_job).* is currently in beta", category=dg.BetaWarning
)
# The per-feature drift checks are partitioned like the batches (so the UI shows each batch's verdict per
# feature); Dagster 1.13 marks a check's `partitions_def` as preview and warns at each definition load.
warnings.filterwarnings(
    "ignore", message=r"Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


def lifecycle_names(declaration: ModelDeclaration) -> LifecycleNames:
    return LifecycleNames(declaration.name, tuple(spec.asset_name for spec in declaration.models))


# Every declaration built in this process, in order: the command line imports a project's code
# location and reads back which declarations it built (asset_platform/project/locate.py), whichever
# way the project composes them (a definitions module, YAML components, a `Platform` component).
_BUILT: list[ModelDeclaration] = []


def declarations_built_so_far() -> int:
    return len(_BUILT)


def declarations_built_since(mark: int) -> list[ModelDeclaration]:
    return list(_BUILT[mark:])


def build_lifecycle(declaration: ModelDeclaration, sensor_interval_s: int | None = None) -> dg.Definitions:
    """Every definition of `declaration`'s lifecycle, without resources (the composition root binds them).

    `sensor_interval_s`: how often its sensors look for files and evidence (default 30 s).
    """
    _BUILT.append(declaration)
    from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S
    from asset_platform.sensors.drift_retrain import build_drift_retrain_sensor
    from asset_platform.sensors.labels_arrival import build_labels_sensor
    from asset_platform.sensors.production_arrival import build_batch_sensor

    names = lifecycle_names(declaration)
    partitions = dg.DynamicPartitionsDefinition(name=names.partitions)
    definitions = [
        *dataset_assets(declaration, names),
        *feature_assets(declaration, names),
        *tuning_assets(declaration, names),
        *model_assets(declaration, names),
        evaluation_asset(declaration, names),
        champion_asset(declaration, names),
        *monitoring_assets(declaration, names, partitions),
        *freshness_checks(declaration, names),
    ]
    if declaration.shadow.enabled:
        from asset_platform.lifecycle.shadow import shadow_comparison_asset

        definitions.append(shadow_comparison_asset(declaration, names, partitions))
    assets = [d for d in definitions if isinstance(d, dg.AssetsDefinition) and not _is_check(d)]
    checks = [d for d in definitions if _is_check(d)]
    if declaration.owners or declaration.description:
        assets = [a.map_asset_specs(lambda spec: _with_declaration(spec, declaration)) for a in assets]
    policy = freshness_policy(declaration)
    if policy is not None:
        # Dagster's own freshness status of the batches (shown on the asset when its freshness daemon runs).
        batches = names.key(BATCHES)

        def with_policy(spec: dg.AssetSpec) -> dg.AssetSpec:
            return spec.replace_attributes(freshness_policy=policy) if spec.key == batches else spec

        assets = [a.map_asset_specs(with_policy) for a in assets]
    jobs = _jobs(declaration, names)
    interval = sensor_interval_s or DEFAULT_SENSOR_INTERVAL_S
    sensors = [
        build_batch_sensor(declaration, names, jobs["score"], partitions, interval, jobs["score_labeled"]),
        build_labels_sensor(declaration, names, jobs["performance"], interval),
        build_drift_retrain_sensor(declaration, names, jobs["retraining"], interval),
    ]
    if declaration.monitoring.freshness.declared:
        sensors.append(build_freshness_sensor(declaration, names, interval))
    if declaration.shadow.enabled:
        from asset_platform.sensors.shadow import build_shadow_sensor

        sensors.append(build_shadow_sensor(declaration, names, jobs["set_champion"], interval))
    return dg.Definitions(assets=assets, asset_checks=checks, jobs=list(jobs.values()), sensors=sensors)


def _is_check(definition: object) -> bool:
    return isinstance(definition, dg.AssetChecksDefinition)


def _with_declaration(spec: dg.AssetSpec, declaration: ModelDeclaration) -> dg.AssetSpec:
    owners = spec.owners or declaration.owners
    tags = {**spec.tags, "asset_platform/model": declaration.name}
    return spec.replace_attributes(owners=owners, tags=tags)


def score_labeled_batch_job(names: LifecycleNames) -> str:
    """The job of a batch whose labels landed with it: scored, judged and its performance computed in one run."""
    return f"{names.model}_score_labeled_batch"


def _jobs(declaration: ModelDeclaration, names: LifecycleNames) -> dict[str, Any]:
    monitoring = [names.key(a) for a in (BATCHES, PREDICTIONS, DRIFT, PERFORMANCE)]
    # With a shadow period, the comparison is monitoring too (out of training), computed with performance.
    shadow = [names.key(SHADOW_COMPARISON)] if declaration.shadow.enabled else []
    # Everything from the landed history to the champion and the drift reference built from it.
    training = dg.AssetSelection.key_prefixes([declaration.name]) - dg.AssetSelection.assets(*monitoring, *shadow)
    retraining = declaration.retraining
    # The model's owners own its jobs too: Dagster checks a named job's owners (not its assets') for
    # team-scoped roles (`serve --auth`).
    owners = declaration.owners or None
    return {
        "training": dg.define_asset_job(
            names.training_job,
            owners=owners,
            selection=training,
            description=f"{declaration.name}: validate the history, build features, train every declared model, "
            "evaluate them, pass the best through the promotion gate and profile what the champion was trained on.",
        ),
        "retraining": dg.define_asset_job(
            names.retraining_job,
            owners=owners,
            selection=training,
            config={
                "ops": {
                    names.feature_op: {
                        "config": {
                            "window_days": retraining.window_days,
                            "holdout_fraction": retraining.retrain_holdout_fraction,
                        }
                    }
                }
            },
            description=f"Launched by {names.drift_retrain_sensor}: retrain {declaration.name} on history plus "
            "recent labeled production batches, evaluate, and promote only through the gate. Its tags name the "
            "trigger and the evidence.",
        ),
        "set_champion": dg.define_asset_job(
            names.set_champion_job,
            owners=owners,
            selection=dg.AssetSelection.assets(names.key(CHAMPION), names.key(REFERENCE_PROFILE)),
            # `serve --auth`: launching it from the UI needs the editor role on the model's owners.
            tags={REQUIRED_ROLE_TAG: Role.EDITOR.label},
            description=f"Promote a {declaration.name} model version or roll back its champion by hand "
            "(config: action, version, reason); the drift reference follows the champion.",
        ),
        "score": dg.define_asset_job(
            names.score_batch_job,
            owners=owners,
            # A batch's light steps share the run's process in every environment: on Kubernetes one pod per
            # batch, not one per step (each pod loads the code location and its libraries again, seconds
            # for steps of milliseconds); the run pod has the step pods' resources (deployments/k8s).
            executor_def=dg.in_process_executor,
            # The freshness checks are the freshness sensor's to evaluate, not each batch run's.
            selection=dg.AssetSelection.assets(*monitoring[:3]) - freshness_selection(declaration, names),
            description=f"Validate one {declaration.name} production batch, score it with the champion and "
            "measure its drift.",
        ),
        "score_labeled": dg.define_asset_job(
            score_labeled_batch_job(names),
            owners=owners,
            executor_def=dg.in_process_executor,  # as the score job: the batch's one process (one pod)
            # Launched instead of the score job when the labels were there before the batch was asked for (a
            # backfill, a late batch): performance joins the run instead of loading the code location again.
            selection=dg.AssetSelection.assets(*monitoring, *shadow) - freshness_selection(declaration, names),
            description=f"Validate one {declaration.name} production batch whose labels landed with it, score it "
            f"with the champion, measure its drift and its realized {declaration.metric_name}.",
        ),
        "performance": dg.define_asset_job(
            names.performance_job,
            owners=owners,
            executor_def=dg.in_process_executor,  # as the score job: one process (one pod) per labeled batch
            selection=dg.AssetSelection.assets(names.key(PERFORMANCE), *shadow),
            description=f"Realized {declaration.metric_name} of a scored {declaration.name} batch once its labels "
            "arrived.",
        ),
    }
