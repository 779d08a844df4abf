"""After a promotion, the next batch's label-free estimate is made with the new champion's own estimator.

The estimator used to live only in the reference profile, rebuilt in a step
after the champion's: a batch scored between the two (a score run beside a
retraining run, a champion materialized alone, a retraining run that failed
after its gate) read the new champion's scores through the old champion's
calibration. Here the champion is promoted on its own, so the reference profile
is still the old champion's when the next batch is scored.
"""

from __future__ import annotations

import dagster as dg
import pytest

from asset_platform.app.demo import start_loop
from asset_platform.lifecycle.names import CHAMPION, DRIFT, PERFORMANCE, PREDICTIONS, REFERENCE_PROFILE
from asset_platform.registry.models import lineup_for
from tests.monitoring.loop import copy_home, open_instance, process_day

# Realized AUC of a 1,200-row batch itself varies by about 0.02 from batch to batch.
SMALL_ERROR = 0.04


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict:
    [record] = instance.fetch_materializations(key, limit=1).records
    return {name: value.value for name, value in record.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def promoted(trained_home, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = copy_home(trained_home, tmp_path_factory.mktemp("estimate-follows") / "platform")
    with open_instance(home) as instance:
        state = start_loop(home, "ecommerce", instance)
        registry = state.defs.resources["registry"]
        lineup = lineup_for(registry, state.names)
        old = lineup.champion().version
        new = next(v for v in lineup.versions() if v.version != old and v.manifest["flavor"] != "torch").version
        job = state.defs.resolve_job_def(state.names.set_champion_job)
        config = {"action": "promote", "version": new, "reason": "a new champion"}
        result = job.execute_in_process(
            instance=instance,
            run_config={"ops": {state.names.op(CHAMPION): {"config": config}}},
            asset_selection=[state.names.champion],  # the champion alone: the reference profile is not rebuilt
        )
        assert result.success
        profile = registry.store.get(state.names.path(REFERENCE_PROFILE))
        process_day(state, 0, None)
        return {
            "old": old,
            "new": new,
            "profile_version": profile["champion_version"],
            "predictions": _latest(instance, state.names.key(PREDICTIONS)),
            "performance": _latest(instance, state.names.key(PERFORMANCE)),
            "drift": _latest(instance, state.names.key(DRIFT)),
        }


def test_after_a_promotion_the_next_batch_is_estimated_with_the_new_champions_estimator(promoted) -> None:
    assert promoted["profile_version"] == promoted["old"]  # the reference profile has not caught up
    assert promoted["predictions"]["champion_version"] == promoted["new"]
    assert promoted["predictions"]["estimator_version"] == promoted["new"]
    assert promoted["performance"]["estimator_version"] == promoted["new"]


def test_the_new_champions_estimate_stays_close_to_the_realized_auc(promoted) -> None:
    performance = promoted["performance"]
    assert performance["champion_version"] == promoted["new"]
    error = performance["performance/estimated_auc"] - performance["performance/auc"]
    assert abs(error) < SMALL_ERROR, performance


def test_the_estimate_comes_with_its_interval_on_the_predictions_and_the_drift_asset(promoted) -> None:
    predictions, drift = promoted["predictions"], promoted["drift"]
    low, high = predictions["estimated_auc_ci_low"], predictions["estimated_auc_ci_high"]
    assert low < predictions["estimated_auc"] < high < 1.0
    assert high - low < 0.2  # a 1,200-row batch: a few hundredths either side
    assert (drift["estimated_auc_ci_low"], drift["estimated_auc_ci_high"]) == (low, high)
    assert drift["assessment"]["estimate_low"] == low
    realized = promoted["performance"]["performance/auc"]
    assert low - SMALL_ERROR < realized < high + SMALL_ERROR


def test_the_performance_says_whether_the_realized_metric_fell_in_the_estimates_interval(promoted) -> None:
    predictions, performance = promoted["predictions"], promoted["performance"]
    low, high = performance["performance/estimate_low"], performance["performance/estimate_high"]
    # The predictions' metadata shows the interval rounded to four places; the performance keeps it whole.
    assert (low, high) == pytest.approx(
        (predictions["estimated_auc_ci_low"], predictions["estimated_auc_ci_high"]), abs=1e-4
    )
    realized = performance["performance/auc"]
    assert performance["performance/estimate_in_interval"] == float(low <= realized <= high)
