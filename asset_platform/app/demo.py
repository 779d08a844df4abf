"""`asset-platform demo`: the closed loop, headless, on a real Dagster instance.

A stream of daily production batches (clean, then a named drift scenario from a
chosen day) lands in a fresh platform home. The loop is the one a team runs on
its own declaration in CI (`asset_platform.testing`): each day the sensors are
evaluated from their stored cursors exactly as the daemon would. Here the runs
they request are launched through the code location with the daemon's tags (run
key, sensor name) and awaited one by one, so the result can be browsed
afterwards with `make up` on that home and any run re-executed from the UI
(app/launcher.py). With `in_process` (the closed-loop tests and benchmark) runs
execute inside this process instead: faster, but the UI cannot re-execute them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from asset_platform.app.launcher import LocationLauncher
from asset_platform.home import PlatformHome
from asset_platform.recovery import HomeLock, fail_orphaned_runs, home_lock
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.resources import ENVIRONMENT_VAR
from asset_platform.testing import (
    DayOutcome,
    LoopState,
    champion_decision,
    execute,
    run_day,
    summarize,
    tick,
)

__all__ = ["HISTORY_START", "DayOutcome", "DemoSettings", "LoopState", "land_day", "run_demo", "start_loop", "tick"]

HISTORY_START = dt.date(2026, 1, 1)


@dataclass
class DemoSettings:
    scenario: str
    days: int
    drift_day: int
    rows_per_day: int = 2000
    history_days: int = 21
    seed: int = 7
    intensity: float = 1.0
    model: str = "ecommerce"
    in_process: bool = False
    # From this 0-based day on no labels land (labels stopped arriving); None: every batch gets its labels.
    labels_stop_day: int | None = None


def start_loop(
    home: PlatformHome, model: str, instance: dg.DagsterInstance, resources: dict | None = None
) -> LoopState:
    """The loop's state for declared model `model` of the project on `home`: definitions built, nothing run yet."""
    from asset_platform import testing
    from asset_platform.app.location import CodeLocation
    from asset_platform.resources.local import local_resources

    declarations = CodeLocation.load().declarations
    if model not in declarations:
        raise ValueError(f"no declared model is named {model!r}; declared: {', '.join(declarations)}")
    return testing.start_loop(declarations[model], resources or local_resources(home), instance)


def run_demo(home: PlatformHome, settings: DemoSettings, report: Callable[[DayOutcome], None]) -> dict[str, Any]:
    """Run the loop for `settings.days` days; `report` receives each day's outcome as it ends."""
    if not 0 <= settings.drift_day < settings.days:
        raise ValueError(f"--drift-day must be between 0 and {settings.days - 1}, got {settings.drift_day}")
    # One process per home: a second demo (or `up`) on it fails here, naming the holder.
    with home_lock(home.root, "demo") as lock:
        return _run_demo_locked(home, settings, report, lock)


def _run_demo_locked(
    home: PlatformHome, settings: DemoSettings, report: Callable[[DayOutcome], None], lock: HomeLock
) -> dict:
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.synthetic import write_batches

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    with dg.DagsterInstance.get() as instance, contextlib.ExitStack() as stack:
        fail_orphaned_runs(instance)  # runs of an earlier demo on this home that was killed mid-run
        state = start_loop(home, settings.model, instance)
        if not settings.in_process:
            # The demo's resources are the embedded local ones, whatever this shell's environment says.
            env = {**os.environ, "ASSET_PLATFORM_HOME": str(home.root), ENVIRONMENT_VAR: "local"}
            state.launcher = stack.enter_context(
                LocationLauncher(
                    home.dagster_home, env, pass_fds=(lock.fileno(),), log_path=home.dagster_home / "demo-webserver.log"
                )
            )
        write_batches(
            state.landing.history,
            HISTORY_START,
            settings.history_days,
            settings.rows_per_day,
            settings.seed,
            dataset=settings.model,
        )
        baseline = execute(state, state.names.training_job, tags={TRIGGER_TAG: "demo"})
        start_champion = champion_decision(state, baseline)
        outcomes = []
        for index in range(settings.days):
            outcome = _day(state, settings, index)
            report(outcome)
            outcomes.append(outcome)
        return summarize_demo(settings, outcomes, state.retrains, start_champion)


def land_day(state: LoopState, settings: DemoSettings, index: int, scenario: str | None):
    """Write production day `index` (after the history): the batch now, its labels returned for later."""
    from asset_platform.synthetic.landing import write_production_day

    day = HISTORY_START + dt.timedelta(days=settings.history_days + index)
    path, labels = write_production_day(
        state.landing.production,
        day,
        settings.rows_per_day,
        settings.seed,
        scenario,
        settings.intensity,
        settings.model,
    )
    return day, path, labels


def _day(state: LoopState, settings: DemoSettings, index: int) -> DayOutcome:
    from asset_platform.synthetic.landing import write_labels

    drifting = index >= settings.drift_day
    landed: dict[str, Any] = {}

    def land_batch():
        landed["day"], path, landed["labels"] = land_day(
            state, settings, index, settings.scenario if drifting else None
        )
        return path

    def land_labels():
        write_labels(state.landing.labels, landed["day"], landed["labels"], settings.model)

    labeled = settings.labels_stop_day is None or index < settings.labels_stop_day
    return run_day(state, index, drifting, land_batch, land_labels if labeled else None)


def summarize_demo(
    settings: DemoSettings, outcomes: list[DayOutcome], retrains: list[dict[str, Any]], start: dict[str, Any]
) -> dict[str, Any]:
    """The loop's summary (asset_platform.testing.summarize) under the demo's model and scenario."""
    return {
        "model": settings.model,
        "scenario": settings.scenario,
        **summarize(outcomes, retrains, settings.drift_day, start),
    }
