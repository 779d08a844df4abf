"""The composition root: the one place that assembles the code location.

It loads the project's assets and checks, binds the resources of the selected
environment, defines the jobs, and applies cross-cutting defaults once.
"""

from __future__ import annotations

import os

import dagster as dg

from assets import all_asset_checks, all_assets
from resources import ENVIRONMENT_VAR, resources_for_environment
from sensors.drift_retrain import RETRAINING_JOB, drift_retrain_sensor
from sensors.labels_arrival import batch_labels_sensor, batch_performance_job
from sensors.production_arrival import production_batch_sensor, score_batch_job

DEFAULT_OWNERS = ["team:ml-platform"]

# Everything from the landed history to the champion and the drift reference built from it.
_TRAINING = dg.AssetSelection.groups("datasets", "features", "models", "registry") | dg.AssetSelection.assets(
    "reference_profile"
)
baseline_training_job = dg.define_asset_job(
    "baseline_training",
    selection=_TRAINING,
    description="Validate the history, build features, train the three models, evaluate them, "
    "pass the best through the promotion gate and profile what it was trained on.",
)
# Retraining learns from a sliding window of recent labeled data (history plus labeled
# production batches), so a changed concept is learned rather than averaged away.
RETRAINING_WINDOW_DAYS = 4.0
retraining_job = dg.define_asset_job(
    RETRAINING_JOB,
    selection=_TRAINING,
    config={"ops": {"feature_sets": {"config": {"window_days": RETRAINING_WINDOW_DAYS, "holdout_fraction": 0.25}}}},
    description="Launched by drift_retrain_sensor: retrain on history plus recent labeled production "
    "batches, evaluate, and promote only through the gate. Its tags name the trigger and the evidence.",
)
set_champion_job = dg.define_asset_job(
    "set_champion",
    selection=dg.AssetSelection.assets("champion_model"),
    description="Promote a model version or roll back the champion by hand (config: action, version, reason).",
)


def _with_defaults(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec if spec.owners else spec.replace_attributes(owners=DEFAULT_OWNERS)


def _environment_executor() -> dg.ExecutorDefinition | None:
    """In production each step runs in its own Kubernetes pod; elsewhere Dagster's default executor."""
    if os.environ.get(ENVIRONMENT_VAR, "local") != "production":
        return None
    from resources.production import production_executor

    return production_executor()


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """Assemble everything; tests pass their own `resources` to run on temporary folders."""
    return dg.Definitions(
        assets=dg.map_asset_specs(_with_defaults, all_assets()),
        asset_checks=all_asset_checks(),
        jobs=[baseline_training_job, retraining_job, set_champion_job, score_batch_job, batch_performance_job],
        sensors=[production_batch_sensor, batch_labels_sensor, drift_retrain_sensor],
        resources=resources if resources is not None else resources_for_environment(),
        # Tests that pass their own resources keep the default executor.
        executor=_environment_executor() if resources is None else None,
    )


defs = build_definitions()
