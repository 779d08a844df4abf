"""The project's software-defined assets, by group (datasets → features → models → registry → monitoring)."""

import dagster as dg

from assets import datasets, registry
from assets.features import assets as features
from assets.models import evaluation, lightgbm_model, sklearn_model, torch_model
from assets.monitoring import batches, drift

ASSET_MODULES = [datasets, features, lightgbm_model, sklearn_model, torch_model, evaluation, registry, batches, drift]


def all_assets() -> list:
    return dg.load_assets_from_modules(ASSET_MODULES)


def all_asset_checks() -> list:
    return dg.load_asset_checks_from_modules(ASSET_MODULES)
