"""The composition root: the one place that assembles the code location.

It loads the project's assets and checks, binds the resources of the selected
environment, defines the jobs, and applies cross-cutting defaults once.
"""

from __future__ import annotations

import dagster as dg

from assets import all_asset_checks, all_assets
from resources import resources_for_environment

DEFAULT_OWNERS = ["team:ml-platform"]

baseline_training_job = dg.define_asset_job(
    "baseline_training",
    selection=dg.AssetSelection.groups("datasets", "features", "models", "registry"),
    description="Validate the history, build features, train the three models, evaluate them "
    "and pass the best through the promotion gate.",
)
set_champion_job = dg.define_asset_job(
    "set_champion",
    selection=dg.AssetSelection.assets("champion_model"),
    description="Promote a model version or roll back the champion by hand (config: action, version, reason).",
)


def _with_defaults(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec if spec.owners else spec.replace_attributes(owners=DEFAULT_OWNERS)


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """Assemble everything; tests pass their own `resources` to run on temporary folders."""
    return dg.Definitions(
        assets=dg.map_asset_specs(_with_defaults, all_assets()),
        asset_checks=all_asset_checks(),
        jobs=[baseline_training_job, set_champion_job],
        resources=resources if resources is not None else resources_for_environment(),
    )


defs = build_definitions()
