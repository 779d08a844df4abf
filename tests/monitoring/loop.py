"""A small closed loop on a real Dagster instance, for the monitoring tests."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from asset_platform.definitions import build_definitions
from asset_platform.demo import HISTORY_START, LoopState, tick
from asset_platform.home import PlatformHome
from asset_platform.serve import prepare_dagster_home
from asset_platform.synthetic import write_batches
from asset_platform.synthetic.landing import write_labels, write_production_day

HISTORY_DAYS, ROWS = 8, 1200


def start_loop(home: PlatformHome, resources: dict, instance: dg.DagsterInstance) -> LoopState:
    """History written and the baseline trained; sensors not yet evaluated."""
    write_batches(home.history_landing, HISTORY_START, HISTORY_DAYS, ROWS, seed=7)
    state = LoopState(instance, build_definitions(resources))
    result = state.defs.resolve_job_def("baseline_training").execute_in_process(instance=instance)
    assert result.success
    return state


def land_day(home: PlatformHome, index: int, scenario: str | None, rows: int = ROWS):
    """Write production day `index` (after the history) and return (batch path, labels)."""
    day = HISTORY_START + dt.timedelta(days=HISTORY_DAYS + index)
    return write_production_day(home.production_landing, day, rows, seed=7, scenario=scenario)


def process_day(state: LoopState, home: PlatformHome, index: int, scenario: str | None) -> dict:
    """One day of the loop: batch lands and is scored, labels land, the drift sensor decides."""
    path, labels = land_day(home, index, scenario)
    scored = tick(state, "production_batch_sensor")
    write_labels(home.production_landing, HISTORY_START + dt.timedelta(days=HISTORY_DAYS + index), labels)
    performance = tick(state, "batch_labels_sensor")
    retrains = tick(state, "drift_retrain_sensor")
    return {"batch": path.stem, "scored": scored, "performance": performance, "retrains": retrains}


def retraining_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(job_name="retraining")))


def prepare_instance(home: PlatformHome) -> dg.DagsterInstance:
    import os

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    return dg.DagsterInstance.get()
