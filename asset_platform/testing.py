"""Test a declaration in CI: run its closed loop headless on a throwaway platform home.

A team declares its model once and wants to know, before production, that its
sample data trains a champion, that its drift policy notices a shifted batch,
and what the gate decides. `run_declared_loop` lands the team's own sample
files one batch at a time and evaluates the model's sensors from their stored
cursors exactly as Dagster's daemon would, running what they request on a real
(ephemeral or given) Dagster instance; it returns the timeline: each batch's
drift verdict and realized metric, every retrain with its gate decision, and the
detection delay. `asset-platform demo` is one user of the same loop, with the
examples' synthetic data.

    from asset_platform.testing import BatchFiles, run_declared_loop

    def test_loans_retrain_on_drift(tmp_path):
        result = run_declared_loop(
            loans,  # the ModelDeclaration
            history=sorted(Path("samples/history").glob("*.parquet")),
            batches=[BatchFiles(p, labels=Path("samples/labels") / p.name, drifting=p.stem >= "2024-06")
                     for p in sorted(Path("samples/production").glob("*.parquet"))],
            home=tmp_path,
        )
        assert result.baseline["decision"] == "promoted"
        assert result.detection_delay == 0
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import dagster as dg

from asset_platform import interrupts
from asset_platform.declaration.names import DRIFT, PERFORMANCE
from asset_platform.drift.evidence import BatchEvidence
from asset_platform.lifecycle.overview import OVERVIEW_JOB, OVERVIEW_KEY
from asset_platform.registry.trigger import FOLLOW_UP, TRIGGER_TAG

if TYPE_CHECKING:
    from asset_platform.declaration import ModelDeclaration
    from asset_platform.landing import ModelLanding
    from asset_platform.lifecycle import LifecycleNames


class RunLauncher(Protocol):
    """What runs a requested job somewhere else than this process (the demo's code-location launcher)."""

    def launch(self, job_name: str, tags: dict[str, str], partition_key: str | None, run_config: dict[str, Any]) -> Any:
        """Run the job to its end; the result has `run_id` and `success`."""


@dataclass
class DayOutcome:
    """One batch of the loop: its drift verdict, realized metric, any retrain it caused, the champion after it."""

    day: int
    batch: str
    drifting: bool
    drift_status: str = "-"
    drift_share: float = float("nan")
    realized_metric: float = float("nan")
    retrain: str = ""
    champion: str = ""

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoopState:
    instance: dg.DagsterInstance
    defs: dg.Definitions
    names: LifecycleNames
    landing: ModelLanding
    cursors: dict[str, str | None] = field(default_factory=dict)
    # The automation conditions' cursor (see `automate`), as the daemon keeps it.
    automation_cursor: Any = None
    retrains: list[dict[str, Any]] = field(default_factory=list)
    # Runs go through the code location when set; executed in this process when None.
    launcher: RunLauncher | None = None


@dataclass(frozen=True)
class BatchFiles:
    """One production batch of sample data: its file, its labels file (landed after scoring), and whether
    it is meant to be drifted (for the detection delay; the platform is never told)."""

    production: Path
    labels: Path | None = None
    drifting: bool = False


@dataclass
class LoopResult:
    baseline: dict[str, Any]
    days: list[DayOutcome]
    retrains: list[dict[str, Any]]
    summary: dict[str, Any]

    @property
    def detection_delay(self) -> int | None:
        """Batches from the first drifted one to the first retrain it caused (None: never, or no drift)."""
        return self.summary["detection_delay_batches"]

    @property
    def gate_decisions(self) -> list[str]:
        return [r.get("decision", "failed") for r in self.retrains]


def declared_model(name: str, start: Path | None = None) -> ModelDeclaration:
    """The declaration named `name` in the Dagster project found from `start` (default: the current folder),
    found as the `asset-platform` commands find it (pyproject.toml, workspace.yaml)."""
    from asset_platform.project.locate import find_project, load_project

    declarations = load_project(find_project(start)).declarations
    if name not in declarations:
        raise LookupError(f"no declared model is named {name!r}; declared: {', '.join(sorted(declarations)) or 'none'}")
    return declarations[name]


def start_loop(declaration: ModelDeclaration, resources: dict[str, Any], instance: dg.DagsterInstance) -> LoopState:
    """The loop's state for `declaration` on `instance`: its definitions built with `resources`, nothing run."""
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.project import platform_definitions

    defs = platform_definitions([declaration], resources)
    landing = resources["landing"].for_model(declaration).ensure()
    return LoopState(instance, defs, lifecycle_names(declaration), landing)


def run_declared_loop(
    declaration: ModelDeclaration,
    history: Sequence[Path],
    batches: Sequence[BatchFiles],
    home: Path,
    report: Callable[[DayOutcome], None] | None = None,
    resources: Mapping[str, Any] | None = None,
) -> LoopResult:
    """Train `declaration`'s baseline on `history`, then land and judge each batch in order; the timeline.

    `home` is a throwaway platform home (a pytest `tmp_path`): its Dagster
    instance, landing folders and DVC store are created there and left for
    inspection. Runs execute in this process. `resources` replace the local defaults by name, e.g.
    `{"batch_engine": BatchEngine(engine="spark", spark_remote=...)}` to run the loop on a team's cluster.
    """
    from asset_platform.home import PlatformHome
    from asset_platform.resources.local import local_resources

    home = PlatformHome(Path(home).resolve()).ensure()
    missing = [str(p) for p in [*history, *(b.production for b in batches)] if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"sample files not found: {', '.join(missing[:5])}")
    with dg.DagsterInstance.local_temp(str(home.dagster_home)) as instance:
        state = start_loop(declaration, {**local_resources(home), **(resources or {})}, instance)
        for path in history:
            land_file(Path(path), state.landing.history)
        baseline = train_baseline(state)
        days = []
        for index, batch in enumerate(batches):
            outcome = run_day(
                state,
                index,
                batch.drifting,
                lambda b=batch: land_file(b.production, state.landing.production),
                (lambda b=batch: land_file(b.labels, state.landing.labels)) if batch.labels else None,
            )
            if report is not None:
                report(outcome)
            days.append(outcome)
        drift_day = next((i for i, b in enumerate(batches) if b.drifting), None)
        return LoopResult(baseline, days, state.retrains, summarize(days, state.retrains, drift_day, baseline))


def land_file(source: Path, folder: Path) -> Path:
    """Copy `source` into a landing folder as upstream systems should: under a hidden name, then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(source).name
    partial = folder / f".{target.name}.partial"
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return target


def train_baseline(state: LoopState) -> dict[str, Any]:
    """Run the model's training job once, as its first start does; the champion decision it recorded."""
    return champion_decision(state, execute(state, state.names.training_job, tags={TRIGGER_TAG: "test"}))


def run_day(
    state: LoopState,
    index: int,
    drifting: bool,
    land_batch: Callable[[], Path],
    land_labels: Callable[[], Any] | None,
) -> DayOutcome:
    """Land one batch, score and judge it, land its labels, and let the drift sensor decide on a retrain."""
    path = land_batch()
    outcome = DayOutcome(day=index, batch=Path(path).stem, drifting=drifting)
    for result in tick(state, state.names.batch_sensor):
        _read_drift(state, result, outcome)
    if land_labels is not None:  # labels arrive after the batch was scored, as in production
        land_labels()
        for result in tick(state, state.names.labels_sensor):
            _read_performance(state, result, outcome)
    for result in tick(state, state.names.drift_retrain_sensor):
        decision = champion_decision(state, result)
        trigger = state.instance.get_run_by_id(result.run_id).tags.get(TRIGGER_TAG, "")
        follow_up = trigger.endswith(f":{FOLLOW_UP}")  # a retrain after the drift-triggered one (drift/retrain.py)
        state.retrains.append({"day": index, "run_id": result.run_id, "follow_up": follow_up, **decision})
        outcome.retrain = decision.get("decision", "failed")
    automate(state)  # the daemon also refreshes the fleet overview when any model changed
    champion = current_champion(state)
    outcome.champion = champion[:8] if champion else ""
    return outcome


def tick(state: LoopState, sensor_name: str) -> list[Any]:
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
    for event in result.asset_events or []:
        state.instance.report_runless_asset_event(event)  # the daemon records a sensor's check evaluations
    results = []
    for request in result.run_requests or []:
        if state.instance.get_runs_count(dg.RunsFilter(tags={"dagster/run_key": request.run_key})):
            continue  # the daemon never launches a run key twice
        tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": sensor_name}
        job_name = request.job_name or sensor.job_name
        results.append(
            execute(state, job_name, tags=tags, partition_key=request.partition_key, run_config=request.run_config)
        )
    return results


def automate(state: LoopState) -> list[Any]:
    """Evaluate the assets' automation conditions from the stored cursor and run what they request, as the
    daemon's automation sensor would (only the fleet overview carries one)."""
    result = _without_running_loop(
        lambda: dg.evaluate_automation_conditions(state.defs, state.instance, cursor=state.automation_cursor)
    )
    state.automation_cursor = result.cursor
    if not result.get_num_requested(OVERVIEW_KEY):
        return []
    return [execute(state, OVERVIEW_JOB, tags={"dagster/from_automation_condition": "true"})]


def _without_running_loop(call: Callable[[], Any]) -> Any:
    """Call `call` where no asyncio loop runs: Dagster's evaluator starts its own with asyncio.run, which
    refuses inside a running loop (a Jupyter notebook's, or Playwright's sync API in the same thread), so
    there it runs in a worker thread, which has none."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(call).result()


def execute(
    state: LoopState,
    job_name: str,
    tags: dict[str, str],
    partition_key: str | None = None,
    run_config: dict[str, Any] | None = None,
) -> Any:
    """Run `job_name` (through the launcher when the state has one) and return its result (run_id, success)."""
    if state.launcher is not None:
        # The local environment executes a run's steps in its one process (resources/__init__.py).
        return state.launcher.launch(job_name, tags, partition_key, run_config or {})
    interrupts.watch()
    job = state.defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=state.instance,
        tags=tags,
        partition_key=partition_key,
        raise_on_error=False,
        # The request's config (a retraining's window), quiet console: the full log is in the run.
        run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    # Ctrl-C or SIGTERM during the run: Dagster ended the run with it (a step error), or held it back between
    # two steps and forgot it at the run's end (asset_platform/interrupts.py); end the loop either way.
    signalled = interrupts.received()  # read after every run, so that a signal ends the loop once
    if signalled or _interrupted(result):
        raise KeyboardInterrupt
    return result


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    errors = (event.event_specific_data.error for event in result.all_events if event.is_step_failure)
    return any(error is not None and error.cls_name == "DagsterExecutionInterruptedError" for error in errors)


def materialization_metadata(state: LoopState, run_id: str, key: dg.AssetKey) -> dict[str, Any]:
    """What run `run_id` recorded on `key`'s materialization, read from the instance (either kind of run)."""
    entries = state.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    for entry in entries:
        materialization = entry.asset_materialization
        if materialization is not None and materialization.asset_key == key:
            return {name: value.value for name, value in materialization.metadata.items()}
    return {}


def _read_drift(state: LoopState, result: Any, outcome: DayOutcome) -> None:
    metadata = materialization_metadata(state, result.run_id, state.names.key(DRIFT))
    if metadata:
        outcome.drift_status = BatchEvidence.from_metadata(metadata).verdict()
        outcome.drift_share = metadata.get("drift/drift_share", float("nan"))
    elif not result.success:
        outcome.drift_status = "invalid"


def _read_performance(state: LoopState, result: Any, outcome: DayOutcome) -> None:
    realized = BatchEvidence.from_metadata(materialization_metadata(state, result.run_id, state.names.key(PERFORMANCE)))
    outcome.realized_metric = realized.realized_metric if realized.realized_metric is not None else float("nan")


def champion_decision(state: LoopState, result: Any) -> dict[str, Any]:
    """The gate's decision a run recorded on the champion pointer (empty when it recorded none)."""
    metadata = materialization_metadata(state, result.run_id, state.names.champion)
    keys = ("decision", "reason", "champion_version", "challenger_version", "holdout/improvement", "holdout/ci_low")
    return {key: metadata[key] for key in keys if key in metadata}


def current_champion(state: LoopState) -> str | None:
    from asset_platform.registry.models import lineup_for

    champion = lineup_for(state.defs.resources["registry"], state.names).champion()
    return champion.version if champion else None


def summarize(
    outcomes: Sequence[DayOutcome], retrains: Sequence[dict[str, Any]], drift_day: int | None, start: dict[str, Any]
) -> dict[str, Any]:
    """Detection delay, retrains, false retrains and the realized metric before, during and after drift."""
    days = len(outcomes)
    drift_at = days if drift_day is None else drift_day
    after = [r for r in retrains if r["day"] >= drift_at]
    first_after = after[0]["day"] if after else None
    promoted = next((r["day"] for r in after if r.get("decision") == "promoted"), None)

    def mean_metric(window: range) -> float | None:
        values = [o.realized_metric for o in outcomes if o.day in window and not math.isnan(o.realized_metric)]
        return round(sum(values) / len(values), 4) if values else None

    during_end = promoted + 1 if promoted is not None else days
    return {
        "days": days,
        "drift_day": drift_day,
        "detection_delay_batches": None if first_after is None or drift_day is None else first_after - drift_day,
        "retrains_triggered": len(retrains),
        "follow_ups": sum(1 for r in retrains if r.get("follow_up")),
        "false_retrains": sum(1 for r in retrains if r["day"] < drift_at),
        "promotions_after_drift": sum(1 for r in after if r.get("decision") == "promoted"),
        "gate_decisions": [r.get("decision", "failed") for r in retrains],
        "baseline_champion": start.get("champion_version"),
        "production_metric_before_drift": mean_metric(range(0, drift_at)),
        "production_metric_during_drift": mean_metric(range(drift_at, during_end)) if drift_day is not None else None,
        "production_metric_after_retraining": mean_metric(range(during_end, days)) if promoted is not None else None,
        "retrains": list(retrains),
    }
