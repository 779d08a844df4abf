"""A small closed loop of the `ecommerce` example on a real Dagster instance, for the monitoring tests.

The baseline is trained once per test session (`trained_home` in conftest.py);
each loop runs on a copy of that home, so every loop starts from the same
champion without training it again.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg

from asset_platform.app.demo import HISTORY_START, DemoSettings, LoopState, land_day, start_loop, tick
from asset_platform.home import PlatformHome
from asset_platform.synthetic import write_batches
from asset_platform.synthetic.landing import write_labels

MODEL = "ecommerce"
HISTORY_DAYS, ROWS, SEED = 8, 1200, 7
# Only the fields `land_day` reads matter: rows, history length, seed, intensity and the dataset.
SETTINGS = DemoSettings(
    scenario="covariate", days=30, drift_day=0, rows_per_day=ROWS, history_days=HISTORY_DAYS, seed=SEED, model=MODEL
)


def day_of(index: int) -> dt.date:
    """The date of production day `index` (day 0 follows the history)."""
    return HISTORY_START + dt.timedelta(days=HISTORY_DAYS + index)


def batch_name(index: int) -> str:
    return f"events_{day_of(index):%Y-%m-%d}"


def train_baseline(home: PlatformHome, instance: dg.DagsterInstance) -> None:
    """History written into `home` and the ecommerce baseline trained on it."""
    state = start_loop(home, MODEL, instance)
    write_batches(state.landing.history, HISTORY_START, HISTORY_DAYS, ROWS, seed=SEED)
    result = state.defs.resolve_job_def(state.names.training_job).execute_in_process(instance=instance)
    assert result.success


def copy_home(trained: PlatformHome, root: Path) -> PlatformHome:
    """A copy of a trained home (Dagster storage, DVC workspace and remote, landing) at `root`."""
    shutil.copytree(trained.root, root)
    return PlatformHome(root).ensure()


def land(state: LoopState, index: int, scenario: str | None) -> tuple[Path, object]:
    """Write production day `index`: the batch now; its labels are returned for later."""
    _day, path, labels = land_day(state, SETTINGS, index, scenario)
    return path, labels


def process_day(state: LoopState, index: int, scenario: str | None) -> dict:
    """One day of the loop: batch lands and is scored, labels land, the drift sensor decides."""
    path, labels = land(state, index, scenario)
    scored = tick(state, state.names.batch_sensor)
    write_labels(state.landing.labels, day_of(index), labels, MODEL)
    performance = tick(state, state.names.labels_sensor)
    retrains = tick(state, state.names.drift_retrain_sensor)
    return {"batch": path.stem, "scored": scored, "performance": performance, "retrains": retrains}


def retraining_runs(state: LoopState) -> list[dg.DagsterRun]:
    return list(state.instance.get_runs(dg.RunsFilter(job_name=state.names.retraining_job)))


def open_instance(home: PlatformHome) -> dg.DagsterInstance:
    """The Dagster instance of `home` (its dagster.yaml), without touching $DAGSTER_HOME."""
    from asset_platform.app.serve import prepare_dagster_home

    return dg.DagsterInstance.from_config(str(prepare_dagster_home(home)))
