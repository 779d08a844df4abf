"""`asset-platform demo`: the closed loop, headless, on a real Dagster instance.

A stream of daily production batches (clean, then a named drift scenario from a
chosen day) lands in a fresh platform home. Each day the sensors are evaluated
from their stored cursors exactly as the daemon would, and the runs they request
are launched through the code location with the daemon's tags (run key, sensor
name) and awaited one by one, so the result can be browsed afterwards with
`make up` on that home and any run re-executed from the UI (app/launcher.py).
With `in_process` (the closed-loop tests and benchmark) runs execute inside this
process instead: faster, but the UI cannot re-execute them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from asset_platform.app.launcher import LaunchedRun, LocationLauncher
from asset_platform.home import PlatformHome
from asset_platform.landing import ModelLanding
from asset_platform.lifecycle import LifecycleNames
from asset_platform.lifecycle.names import DRIFT, PERFORMANCE
from asset_platform.lifecycle.overview import OVERVIEW_SENSOR
from asset_platform.recovery import HomeLock, fail_orphaned_runs, home_lock
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.resources import ENVIRONMENT_VAR

HISTORY_START = dt.date(2026, 1, 1)
# What the loop reads of a run: its id and success (the instance holds the rest).
RunResult = dg.ExecuteInProcessResult | LaunchedRun


@dataclass
class DayOutcome:
    day: int
    batch: str
    drifting: bool
    drift_status: str = "-"
    drift_share: float = float("nan")
    realized_metric: float = float("nan")
    retrain: str = ""
    champion: str = ""


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


@dataclass
class LoopState:
    instance: dg.DagsterInstance
    defs: dg.Definitions
    names: LifecycleNames
    landing: ModelLanding
    cursors: dict[str, str | None] = field(default_factory=dict)
    retrains: list[dict[str, Any]] = field(default_factory=list)
    # Runs go through the code location when set; executed in this process when None.
    launcher: LocationLauncher | None = None


def start_loop(
    home: PlatformHome, model: str, instance: dg.DagsterInstance, resources: dict | None = None
) -> LoopState:
    """The loop's state for declared model `model` on `home`: definitions built, nothing run yet."""
    from asset_platform.app.location import CodeLocation
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.project import platform_definitions
    from asset_platform.resources.local import local_resources

    declarations = CodeLocation.load().declarations
    if model not in declarations:
        raise ValueError(f"no declared model is named {model!r}; declared: {', '.join(declarations)}")
    resources = resources or local_resources(home)
    defs = platform_definitions(list(declarations.values()), resources)
    landing = resources["landing"].for_model(declarations[model]).ensure()
    return LoopState(instance, defs, lifecycle_names(declarations[model]), landing)


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
        baseline = _execute(state, state.names.training_job, tags={TRIGGER_TAG: "demo"})
        start_champion = _champion_decision(state, baseline)
        outcomes = []
        for index in range(settings.days):
            outcome = _day(state, settings, index)
            report(outcome)
            outcomes.append(outcome)
        return summarize(settings, outcomes, state.retrains, start_champion)


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
    day, path, labels = land_day(state, settings, index, settings.scenario if drifting else None)
    outcome = DayOutcome(day=index, batch=path.stem, drifting=drifting)
    for result in tick(state, state.names.batch_sensor):
        _read_drift(state, result, outcome)
    # Labels of the day arrive after its batch was scored (delayed, in production).
    write_labels(state.landing.labels, day, labels, settings.model)
    for result in tick(state, state.names.labels_sensor):
        _read_performance(state, result, outcome)
    for result in tick(state, state.names.drift_retrain_sensor):
        decision = _champion_decision(state, result)
        state.retrains.append({"day": index, "run_id": result.run_id, **decision})
        outcome.retrain = decision.get("decision", "failed")
    # The daemon also refreshes the fleet overview when any model changed.
    tick(state, OVERVIEW_SENSOR)
    champion = _current_champion(state)
    outcome.champion = champion[:8] if champion else ""
    return outcome


def tick(state: LoopState, sensor_name: str) -> list[RunResult]:
    """Evaluate a sensor from its stored cursor and run what it requests, as the daemon would."""
    sensor = state.defs.resolve_sensor_def(sensor_name)
    context = dg.build_sensor_context(
        instance=state.instance,
        cursor=state.cursors.get(sensor_name),
        definitions=state.defs,
        resources=state.defs.resources,
        sensor_name=sensor_name,
    )
    result = sensor(context)
    state.cursors[sensor_name] = result.cursor
    for request in result.dynamic_partitions_requests or []:
        state.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    results = []
    for request in result.run_requests or []:
        if state.instance.get_runs_count(dg.RunsFilter(tags={"dagster/run_key": request.run_key})):
            continue  # the daemon never launches a run key twice
        tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": sensor_name}
        job_name = request.job_name or sensor.job_name
        results.append(
            _execute(state, job_name, tags=tags, partition_key=request.partition_key, run_config=request.run_config)
        )
    return results


def _execute(
    state: LoopState,
    job_name: str,
    tags: dict[str, str],
    partition_key: str | None = None,
    run_config: dict[str, Any] | None = None,
) -> RunResult:
    if state.launcher is not None:
        # One process per run, its steps in it: a process per step would triple the demo's time
        # (every step process loads the code location again) for batches of a few thousand rows.
        in_process = {"execution": {"config": {"in_process": {}}}}
        return state.launcher.launch(job_name, tags, partition_key, {**(run_config or {}), **in_process})
    job = state.defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=state.instance,
        tags=tags,
        partition_key=partition_key,
        raise_on_error=False,
        # The request's config (a retraining's window), quiet console: the full log is in the run.
        run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    if _interrupted(result):
        # Ctrl-C or SIGTERM during the run: Dagster ended the run with it (a step error); end the loop too.
        raise KeyboardInterrupt
    return result


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    errors = (event.event_specific_data.error for event in result.all_events if event.is_step_failure)
    return any(error is not None and error.cls_name == "DagsterExecutionInterruptedError" for error in errors)


def _metadata(state: LoopState, result: RunResult, key: dg.AssetKey) -> dict[str, Any]:
    """What the run recorded on `key`'s materialization, read from the instance (either kind of run)."""
    entries = state.instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    for entry in entries:
        materialization = entry.asset_materialization
        if materialization is not None and materialization.asset_key == key:
            return {name: value.value for name, value in materialization.metadata.items()}
    return {}


def _read_drift(state: LoopState, result: RunResult, outcome: DayOutcome) -> None:
    metadata = _metadata(state, result, state.names.key(DRIFT))
    if metadata:
        outcome.drift_status = metadata["status"]
        outcome.drift_share = metadata.get("drift/drift_share", float("nan"))
    elif not result.success:
        outcome.drift_status = "invalid"


def _read_performance(state: LoopState, result: RunResult, outcome: DayOutcome) -> None:
    metadata = _metadata(state, result, state.names.key(PERFORMANCE))
    outcome.realized_metric = metadata.get(f"performance/{metadata.get('metric', '')}", float("nan"))


def _champion_decision(state: LoopState, result: RunResult) -> dict[str, Any]:
    metadata = _metadata(state, result, state.names.champion)
    keys = ("decision", "reason", "champion_version", "challenger_version", "holdout/improvement", "holdout/ci_low")
    return {key: metadata[key] for key in keys if key in metadata}


def _current_champion(state: LoopState) -> str | None:
    registry = state.defs.resources["registry"]
    from asset_platform.lifecycle.champion import lineup_for

    champion = lineup_for(registry, state.names).champion()
    return champion.version if champion else None


def summarize(
    settings: DemoSettings, outcomes: list[DayOutcome], retrains: list[dict[str, Any]], start: dict[str, Any]
) -> dict[str, Any]:
    """Detection delay, retrains, false retrains and the realized metric before, during and after drift."""
    first_after = next((r["day"] for r in retrains if r["day"] >= settings.drift_day), None)
    promoted = next(
        (r["day"] for r in retrains if r["day"] >= settings.drift_day and r.get("decision") == "promoted"), None
    )

    def mean_metric(days: range) -> float | None:
        values = [o.realized_metric for o in outcomes if o.day in days and o.realized_metric == o.realized_metric]
        return round(sum(values) / len(values), 4) if values else None

    during_end = promoted + 1 if promoted is not None else settings.days
    return {
        "model": settings.model,
        "scenario": settings.scenario,
        "days": settings.days,
        "drift_day": settings.drift_day,
        "detection_delay_batches": None if first_after is None else first_after - settings.drift_day,
        "retrains_triggered": len(retrains),
        "false_retrains": sum(1 for r in retrains if r["day"] < settings.drift_day),
        "promotions_after_drift": sum(
            1 for r in retrains if r["day"] >= settings.drift_day and r.get("decision") == "promoted"
        ),
        "baseline_champion": start.get("champion_version"),
        "production_metric_before_drift": mean_metric(range(0, settings.drift_day)),
        "production_metric_during_drift": mean_metric(range(settings.drift_day, during_end)),
        "production_metric_after_retraining": mean_metric(range(during_end, settings.days))
        if promoted is not None
        else None,
        "retrains": retrains,
    }


def outcome_row(outcome: DayOutcome) -> dict[str, Any]:
    return asdict(outcome)
