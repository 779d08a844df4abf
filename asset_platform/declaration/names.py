"""Every name a declaration's lifecycle uses, derived in one place from the declaration's name.

Asset keys are `<name>/<asset>`; jobs, sensors and the dynamic partitions set
are `<name>_<what>` (Dagster allows only letters, digits and underscores there).
The CLI, the sensors and the tests read names from here, never spell them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

# The predictions columns scoring writes, named in ml/columns.py (so that ml/ needs nothing of this package).
from asset_platform.ml.columns import PREDICTION, SCORE_PREFIX, score_column, score_columns  # noqa: F401

# Asset names under the declaration's prefix.
RAW_DATA, DATASET = "raw_data", "dataset"
FEATURE_PIPELINE, TRAINING_SET, HOLDOUT_SET = "feature_pipeline", "training_set", "holdout_set"
EVALUATION, CHAMPION, REFERENCE_PROFILE = "evaluation", "champion", "reference_profile"
BATCHES, PREDICTIONS, DRIFT, PERFORMANCE = "batches", "predictions", "drift", "performance"
# Shadow scoring (declaration.shadow.enabled): the per-batch paired comparison of challenger and champion.
SHADOW_COMPARISON = "shadow_comparison"
# Asset check names.
CONTRACT_CHECK = "matches_contract"
BATCH_CONTRACT_CHECK = "batch_matches_contract"
POLICY_CHECK = "drift_within_policy"
# One check per profiled feature on `<model>/drift` and its batch partition: `drift_<feature>`.
FEATURE_CHECK_PREFIX = "drift_"
# Columns of `predictions` during a shadow period: the challenger's score (never served) and its version.
SHADOW_PREDICTION, CHALLENGER_VERSION = "shadow_prediction", "challenger_version"


def feature_check_names(features: Iterable[str]) -> dict[str, str]:
    """Each feature's drift check name: `drift_<feature>` with what Dagster does not allow in a name made `_`.

    Column names are the team's (spaces, dots, non-ASCII letters); check names allow letters, digits and
    underscores only. Two features that read alike once made valid (`unit-price`, `unit_price`), or a
    feature named like the policy check, get a numbered suffix in declaration order; the check's
    description names the feature as declared.
    """
    taken, names = {POLICY_CHECK}, {}
    for feature in features:
        base = FEATURE_CHECK_PREFIX + (re.sub(r"[^A-Za-z0-9_]", "_", feature) or "_")
        name, number = base, 1
        while name in taken:
            number += 1
            name = f"{base}_{number}"
        taken.add(name)
        names[feature] = name
    return names


@dataclass(frozen=True)
class LifecycleNames:
    """The names of one declaration's assets, jobs, sensors and partitions."""

    model: str
    model_assets: tuple[str, ...] = ()

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.model, asset])

    def path(self, asset: str) -> list[str]:
        return [self.model, asset]

    @property
    def model_keys(self) -> list[dg.AssetKey]:
        return [self.key(asset) for asset in self.model_assets]

    @property
    def champion(self) -> dg.AssetKey:
        return self.key(CHAMPION)

    def tuning_key(self, model_asset: str) -> dg.AssetKey:
        """The tuning asset upstream of model asset `model_asset` (`lightgbm_model` -> `lightgbm_tuning`)."""
        from asset_platform.declaration.tuning import tuning_asset_name

        return self.key(tuning_asset_name(model_asset))

    # Groups: one per stage, prefixed, so the UI lists each model's stages together.
    def group(self, stage: str) -> str:
        return f"{self.model}_{stage}"

    @property
    def training_job(self) -> str:
        return f"{self.model}_training"

    @property
    def retraining_job(self) -> str:
        return f"{self.model}_retraining"

    @property
    def set_champion_job(self) -> str:
        return f"{self.model}_set_champion"

    @property
    def score_batch_job(self) -> str:
        return f"{self.model}_score_batch"

    @property
    def performance_job(self) -> str:
        return f"{self.model}_batch_performance"

    @property
    def batch_sensor(self) -> str:
        return f"{self.model}_batch_sensor"

    @property
    def labels_sensor(self) -> str:
        return f"{self.model}_labels_sensor"

    @property
    def drift_retrain_sensor(self) -> str:
        return f"{self.model}_drift_retrain_sensor"

    @property
    def shadow_sensor(self) -> str:
        return f"{self.model}_shadow_sensor"

    @property
    def freshness_sensor(self) -> str:
        return f"{self.model}_freshness_sensor"

    @property
    def partitions(self) -> str:
        return f"{self.model}_batches"

    @property
    def feature_op(self) -> str:
        """The op of the split multi-asset, as run config names it."""
        return f"{self.model}__feature_sets"

    def op(self, asset: str) -> str:
        """The op name Dagster gives the asset `asset` (key parts joined by `__`)."""
        return f"{self.model}__{asset}"
