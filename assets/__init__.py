"""The project's software-defined assets, by group (datasets → features → models → registry)."""

import dagster as dg

from assets import datasets, registry
from assets.features import assets as features
from assets.models import evaluation, lightgbm_model, sklearn_model, torch_model

ASSET_MODULES = [datasets, features, lightgbm_model, sklearn_model, torch_model, evaluation, registry]


def all_assets() -> list:
    return dg.load_assets_from_modules(ASSET_MODULES)


def all_asset_checks() -> list:
    return dg.load_asset_checks_from_modules(ASSET_MODULES)
