"""Many models, frequent small batches: CPU and wall time per batch through the real daemon, against the limit.

ours:   a throwaway platform home with the fleet code location (benchmarks/fleet_location.py; 20 models,
        `--quick` 3), every champion trained in this process first (not measured). Then the real
        `dagster-daemon run` on that home: each round lands one batch of R rows per model as upstream
        systems do (hidden name, then a rename), and waits until every batch's `<model>/drift` partition is
        materialized. Per batch: the CPU seconds of the daemon and every process it started (code server,
        run workers, and the runs the batches caused, such as the fleet overview's refresh) from the first
        landing until nothing runs any more, divided by the batches; and the wall time from each file's
        landing to its drift materialization (p50, p95).
idle:   the same process tree with nothing landing, over a few sensor intervals: what polling alone costs
        (`cpu_s_per_batch_net_of_idle` takes it out of the per-batch figure).
limit:  in this one plain Python process, on the same batch files: read the file, the same contract check
        the batches asset runs (pandera, `check_against_schema` of `contract_schema`), scoring with the
        champion (loaded once per model, its load reported apart), the label-free estimate, the drift
        summary and the policy's verdict; process CPU time per batch. Goal: ours <= 3x the limit.

Where the time goes: each scoring run's wall time from its event log (sensor, queue, worker start, steps,
run end) and, sampled from /proc twice a second, its run worker's CPU up to the run's start event (process
start and code location load), in its steps, and after them.

How CPU is counted: snapshots of the daemon's process tree with psutil at quiet moments (nothing running),
each process's own CPU time plus that of its children it has reaped (a finished run worker's time lands
in its code server's). `resource.getrusage(RUSAGE_CHILDREN)` after the daemon was reaped is reported
beside it as a check: it sees a descendant only if every process between it and the daemon reaped it.

Absolute times on a shared 2-core machine are noise; the ratios are the result. Progress on stderr, the
last line of stdout is JSON.

Usage: .venv/bin/python benchmarks/fleet.py [--quick] [--models N] [--batches B] [--rows R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HISTORY_START = dt.date(2026, 1, 1)
HISTORY_SEED, BATCH_SEED = 5, 11
SAMPLE_EVERY_S = 0.5
# Runs that are not finished yet, as Dagster names them.
OPEN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
# Training in this process logs only what goes wrong: stderr is for the benchmark's progress.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _log(message: str) -> None:
    print(f"[fleet {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Model:
    declaration: Any
    names: Any
    dataset: str
    files: list[Path] = field(default_factory=list)  # the batches, written outside the landing folder


@dataclass
class Landed:
    model: str
    batch: str
    landed_at: float
    verdict_at: float | None = None
    status: str | None = None


# ----------------------------------------------------------------------------------------------- setup


def _prepare(home_root: Path, models: int, args: argparse.Namespace) -> tuple[Any, list[Model], Any]:
    """The home, the fleet's declarations with their history landed and champions trained; the limit's files."""
    os.environ.update(
        ASSET_PLATFORM_HOME=str(home_root),
        ASSET_PLATFORM_ENV="local",
        ASSET_PLATFORM_FLEET_SIZE=str(models),
    )
    if args.sensor_interval:
        os.environ["ASSET_PLATFORM_SENSOR_INTERVAL_S"] = str(args.sensor_interval)
    sys.path.insert(0, str(REPO_ROOT))  # the composition root (definitions.py) and benchmarks/ live there
    import dagster as dg

    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.resources.local import local_resources
    from asset_platform.synthetic import write_batches
    from benchmarks.fleet_location import fleet
    from definitions import build_definitions

    home = PlatformHome(home_root).ensure()
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    resources = local_resources(home)
    declarations = fleet(models)
    defs = build_definitions(declarations, resources)
    fleet_models = [
        Model(d, lifecycle_names(d), d.name.rsplit("_", 1)[0]) for d in declarations
    ]  # ecommerce_00 -> the ecommerce demo data
    with dg.DagsterInstance.get() as instance:
        for model in fleet_models:
            history = resources["landing"].for_model(model.declaration).ensure().history
            write_batches(
                history, HISTORY_START, args.history_days, args.history_rows, HISTORY_SEED, dataset=model.dataset
            )
            started = time.perf_counter()
            job = defs.resolve_job_def(model.names.training_job)
            if not job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET).success:
                raise RuntimeError(f"training {model.declaration.name} failed: see {home.dagster_home}")
            _log(f"trained {model.declaration.name} in {time.perf_counter() - started:.0f} s (not measured)")
    _write_batch_files(home_root / "upstream", fleet_models, args)
    return home, fleet_models, resources


def _write_batch_files(folder: Path, models: list[Model], args: argparse.Namespace) -> None:
    """Each model's production batches (rows without labels), one day each after the history, plus a warm-up."""
    import pandas as pd

    from asset_platform.synthetic import demo_dataset

    for model in models:
        data = demo_dataset(model.dataset)
        target = folder / model.declaration.name
        target.mkdir(parents=True, exist_ok=True)
        # Day 0 is the warm-up batch of the first model only; days 1.. are measured.
        for day_index in range(args.batches + 1):
            day = HISTORY_START + dt.timedelta(days=args.history_days + day_index)
            frame: pd.DataFrame = data.generate(args.rows, day, BATCH_SEED, None, 1.0)
            path = target / data.file_name(day)
            frame.drop(columns=[data.label_column]).to_parquet(path, index=False)
            model.files.append(path)


# ----------------------------------------------------------------------------------------------- the limit


def _limit(models: list[Model], resources: dict[str, Any]) -> dict[str, Any]:
    """The same contract check, scoring, estimate and drift verdict in this process, CPU per batch."""
    cpu, wall, loads, verdicts = [], [], [], {}
    for model in models:
        started = time.process_time()
        judge = _Judge(model, resources)
        loads.append(time.process_time() - started)
        judge(model.files[0])  # warm: first calls import and compile; the daemon's runs pay that in their own way
        for path in model.files[1:]:
            started, clock = time.process_time(), time.perf_counter()
            verdict = judge(path)
            cpu.append(time.process_time() - started)
            wall.append(time.perf_counter() - clock)
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    return {
        "limit_cpu_s_per_batch": statistics.mean(cpu),
        "limit_wall_s_per_batch": statistics.mean(wall),
        "limit_model_load_cpu_s": statistics.mean(loads),
        "limit_verdicts": verdicts,
    }


class _Judge:
    """One model's champion, reference, policy and contract, loaded once; called with a batch file, its verdict."""

    def __init__(self, model: Model, resources: dict[str, Any]) -> None:
        from asset_platform.declaration.contract import contract_schema
        from asset_platform.declaration.names import REFERENCE_PROFILE
        from asset_platform.drift import ReferenceProfile
        from asset_platform.lifecycle.monitoring import PROFILE_EXTRAS
        from asset_platform.lifecycle.past_bound import champion_learned_until
        from asset_platform.registry.models import lineup_for

        registry, names = resources["registry"], model.names
        self.declaration = declaration = model.declaration
        lineup = lineup_for(registry, names)
        self.pointer = lineup.champion()
        self.champion = lineup.load_champion(self.pointer)
        self.reference = registry.store.get(names.path(REFERENCE_PROFILE))
        self.profile = ReferenceProfile.from_dict({k: v for k, v in self.reference.items() if k not in PROFILE_EXTRAS})
        self.policy = resources["drift_monitor"].policy_for(declaration.monitoring.drift)
        learned_until = champion_learned_until(registry, names)
        self.schema = contract_schema(declaration, with_label=False, learned_until=learned_until)

    def __call__(self, path: Path) -> str:
        import pandas as pd

        from asset_platform.declaration.contract import normalize_times
        from asset_platform.declaration.names import PREDICTION
        from asset_platform.drift import assess_batch, drift_from_summary
        from asset_platform.drift.summary import summarize
        from asset_platform.lifecycle.estimates import estimate_batch, estimator_of
        from asset_platform.ml.scoring import feature_matrix, featurize
        from asset_platform.ml.streamed_estimate import StreamedEstimate
        from asset_platform.validation.checks import check_against_schema

        declaration, champion = self.declaration, self.champion
        frame = normalize_times(pd.read_parquet(path), declaration)
        report = check_against_schema(frame, self.schema, inplace=True)
        if not report.passed:
            raise RuntimeError(f"limit: batch {path} breaks the contract: {report.summary()}")
        rows = report.validated
        features = featurize(champion, rows)
        scores = champion.predict(features)
        matrix = feature_matrix(champion, features) if declaration.task == "regression" else None
        estimator, version, note = estimator_of(champion, self.pointer.version, self.reference)
        estimate_batch(declaration.metric_name, StreamedEstimate.of(estimator, scores, matrix), version, note)
        summary = summarize(self.profile, rows.assign(**{PREDICTION: scores}))
        results = drift_from_summary(self.profile, summary, batch_key=path.stem)
        return assess_batch(results, self.policy).evidence().verdict()


# ----------------------------------------------------------------------------------------------- the daemon


class ProcessTree:
    """The processes we started and their descendants: CPU snapshots, and a sampler following each one's CPU."""

    def __init__(self, root_pids: list[int]) -> None:
        import psutil

        self.psutil = psutil
        self.roots = [psutil.Process(pid) for pid in root_pids]
        self.series: dict[int, list[tuple[float, float]]] = {}  # pid -> (time, own CPU s)
        self.kinds: dict[int, str] = {}
        self.commands: dict[int, str] = {}
        self.seen: dict[int, Any] = {}  # pid -> psutil.Process, for the cleanup
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def processes(self) -> list[Any]:
        found = []
        for root in self.roots:  # each root before its descendants, parents before children
            try:
                found += [root, *root.children(recursive=True)]
            except self.psutil.NoSuchProcess:
                continue
        for process in found:
            self.seen.setdefault(process.pid, process)
        return found

    def snapshot(self) -> float:
        """CPU seconds so far: each process's own time, plus what its children it reaped used."""
        total = 0.0
        for process in self.processes():
            try:
                times = process.cpu_times()
            except (self.psutil.NoSuchProcess, self.psutil.ZombieProcess):
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    @staticmethod
    def kind(cmdline: str) -> str:
        if "dagster-daemon" in cmdline:
            return "daemon"
        if "api grpc" in cmdline or "code-server start" in cmdline:
            return "code_server"
        if "spawn_main" in cmdline:
            return "run_workers"  # a code server's child for one run
        if cmdline.startswith("tail ") or "watch_orphans" in cmdline:
            return "compute_log_capture"  # a run's stdout/stderr capture: `tail -F` and its orphan watcher
        if "resource_tracker" in cmdline:
            return "resource_tracker"  # multiprocessing's, one per code server
        return "other"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def sample(self) -> None:
        now = time.time()
        for process in self.processes():
            try:
                times = process.cpu_times()
                if process.pid not in self.kinds:
                    self.commands[process.pid] = " ".join(process.cmdline())
                    self.kinds[process.pid] = self.kind(self.commands[process.pid])
            except (self.psutil.NoSuchProcess, self.psutil.ZombieProcess):
                continue
            self.series.setdefault(process.pid, []).append((now, times.user + times.system))

    def cpu_at(self, pid: int, when: float) -> float | None:
        """The process's own CPU at `when`, interpolated between samples (0 before it was first seen)."""
        series = self.series.get(pid)
        if not series:
            return None
        if when < series[0][0]:
            return 0.0
        for (t0, c0), (t1, c1) in zip(series, series[1:], strict=False):
            if t0 <= when <= t1:
                return c0 + (c1 - c0) * (when - t0) / (t1 - t0) if t1 > t0 else c1
        return series[-1][1]

    def final_cpu(self, pid: int) -> float | None:
        series = self.series.get(pid)
        return series[-1][1] if series else None

    def by_kind(self, start: float, end: float) -> tuple[dict[str, float], dict[str, int]]:
        """Sampled CPU between two times by kind of process, and how many of each kind ran then."""
        cpu: dict[str, float] = {}
        count: dict[str, int] = {}
        for pid, series in self.series.items():
            if series[-1][0] < start or series[0][0] > end:
                continue
            kind = self.kinds.get(pid, "other")
            cpu[kind] = cpu.get(kind, 0.0) + (self.cpu_at(pid, end) or 0.0) - (self.cpu_at(pid, start) or 0.0)
            count[kind] = count.get(kind, 0) + 1
        return cpu, count


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(home: Any, args: argparse.Namespace) -> list[subprocess.Popen]:
    """The daemon, and with `--code-server separate` the code server it talks to; each logging to a file."""
    env = {**os.environ, "DAGSTER_HOME": str(home.dagster_home), "ASSET_PLATFORM_HOME": str(home.root)}
    location = ["-m", "benchmarks.fleet_location", "-d", str(REPO_ROOT)]
    commands = []
    if args.code_server == "separate":
        # As `dagster dev` (`asset-platform up`) and a Kubernetes deployment run it: one long-lived code
        # server; the daemon only refreshes its snapshot of it.
        port = _free_port()
        commands.append(
            (
                "code-server",
                [str(BIN / "dagster"), "code-server", "start", *location, "--host", "127.0.0.1", "--port", str(port)],
            )
        )
        target = ["--grpc-host", "127.0.0.1", "--grpc-port", str(port)]
    else:
        # The daemon starts its own code server, and replaces it every minute to pick up code changes.
        target = location
    commands.append(("daemon", [str(BIN / "dagster-daemon"), "run", *target, "--log-level", "warning"]))
    started = []
    for name, command in commands:
        log_path = home.root / f"{name}.log"
        _log(f"starting {' '.join(command)} (log: {log_path})")
        with open(log_path, "ab") as log:
            started.append(subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        if name == "code-server":
            _wait(lambda p=port: _listening(p), 300, "the code server to listen")
    return started


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stop(processes: list[subprocess.Popen], tree: ProcessTree | None) -> None:
    """SIGTERM to each process we started by its pid (the daemon first), a bounded wait, then SIGKILL; then any
    descendant they left behind."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                _log(f"pid {process.pid} still running 60 s after SIGTERM: killing it")
                process.kill()
                process.wait(timeout=30)
    if tree is None:
        return
    ours = {process.pid for process in processes}
    for pid, process in tree.seen.items():
        if pid in ours:
            continue
        try:
            if process.is_running():  # the same process (psutil compares its start time), left behind
                _log(f"descendant pid {pid} ({tree.kinds.get(pid, '?')}) outlived its parent: terminating it")
                process.terminate()
                process.wait(timeout=30)
        except tree.psutil.NoSuchProcess:
            pass
        except tree.psutil.TimeoutExpired:
            process.kill()


def _wait(condition: Callable[[], bool], timeout_s: float, what: str, every_s: float = 1.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting {timeout_s:.0f} s for {what}")
        time.sleep(every_s)


def _open_runs(instance: Any) -> int:
    import dagster as dg

    return instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus[s] for s in OPEN_STATUSES]))


def _settle(instance: Any, args: argparse.Namespace, what: str) -> None:
    """Until nothing runs, and still nothing after the sensors looked once more (the overview's refresh)."""
    _wait(lambda: _open_runs(instance) == 0, args.timeout, what, every_s=2.0)
    time.sleep((args.sensor_interval or 30) + 5)
    _wait(lambda: _open_runs(instance) == 0, args.timeout, what, every_s=2.0)


def _verdicts(instance: Any, landed: list[Landed]) -> bool:
    """Fill in each landed batch's drift materialization time and verdict; True once every one has it."""
    import dagster as dg

    from asset_platform.drift.evidence import STATUS

    missing = [item for item in landed if item.verdict_at is None]
    for model in {item.model for item in missing}:
        wanted = {item.batch: item for item in missing if item.model == model}
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey([model, "drift"]), asset_partitions=list(wanted)),
            limit=len(wanted) * 2,
        ).records
        for record in records:
            item = wanted.get(record.partition_key)
            if item is not None and item.verdict_at is None:
                item.verdict_at = record.timestamp
                status = record.asset_materialization.metadata.get(STATUS)
                item.status = getattr(status, "value", status)
    return all(item.verdict_at is not None for item in landed)


def _land(model: Model, index: int, resources: dict[str, Any]) -> Landed:
    from asset_platform.testing import land_file

    production = resources["landing"].for_model(model.declaration).production
    land_file(model.files[index], production)
    return Landed(model.declaration.name, model.files[index].stem, time.time())


# ----------------------------------------------------------------------------------------------- where it goes


def _stages(instance: Any, models: list[Model], landed: list[Landed], tree: ProcessTree) -> dict[str, Any]:
    """Per scoring run: wall time per stage from its event log, its worker's CPU by phase (medians)."""
    import dagster as dg

    by_batch = {(item.model, item.batch): item for item in landed}
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for model in models:
        for record in _score_runs(instance, model):
            run = record.dagster_run
            item = by_batch.get((model.declaration.name, run.tags.get("dagster/partition")))
            if item is None or run.status != dg.DagsterRunStatus.SUCCESS:
                continue
            events, pid, steps = {}, None, {}
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                kind = event.event_type.name  # RUN_START, not its stored value PIPELINE_START
                events.setdefault(kind, entry.timestamp)
                if kind == "ENGINE_EVENT" and pid is None and event.engine_event_data:
                    value = event.engine_event_data.metadata.get("pid")
                    text = str(getattr(value, "value", value))
                    pid = int(text) if text.isdigit() else None
                if kind in ("STEP_START", "STEP_SUCCESS") and entry.step_key:
                    steps.setdefault(entry.step_key.rsplit("__", 1)[-1], {})[kind] = entry.timestamp
            first_step = min((s["STEP_START"] for s in steps.values() if "STEP_START" in s), default=None)
            last_step = max((s["STEP_SUCCESS"] for s in steps.values() if "STEP_SUCCESS" in s), default=None)
            created = record.create_timestamp.timestamp()
            marks = {
                "sensor": (item.landed_at, created),
                # The queued run coordinator logs no dequeue: RUN_STARTING is the launch.
                "queued": (created, events.get("RUN_STARTING")),
                "worker_start": (events.get("RUN_STARTING"), events.get("RUN_START")),
                "to_first_step": (events.get("RUN_START"), first_step),
                **{f"step_{name}": (s.get("STEP_START"), s.get("STEP_SUCCESS")) for name, s in steps.items()},
                "run_end": (last_step, events.get("RUN_SUCCESS")),
            }
            for name, (start, end) in marks.items():
                if start is not None and end is not None:
                    wall.setdefault(name, []).append(end - start)
            if pid is not None and tree.final_cpu(pid) is not None and first_step and last_step:
                at_start = tree.cpu_at(pid, events.get("RUN_START", first_step))
                at_first, at_last = tree.cpu_at(pid, first_step), tree.cpu_at(pid, last_step)
                total = tree.final_cpu(pid)
                cpu.setdefault("until_run_start", []).append(at_start)
                cpu.setdefault("run_start_to_first_step", []).append(at_first - at_start)
                cpu.setdefault("steps", []).append(at_last - at_first)
                cpu.setdefault("after_steps", []).append(total - at_last)
                cpu.setdefault("total_sampled", []).append(total)
    return {
        "wall_stages_s": {name: round(statistics.median(values), 2) for name, values in wall.items()},
        "score_run_cpu_s": {name: round(statistics.median(values), 2) for name, values in cpu.items()},
        "score_runs_sampled": len(cpu.get("total_sampled", [])),
    }


def _score_runs(instance: Any, model: Model) -> list[Any]:
    """The model's scoring runs: of the score job, and of the job that also measures labels landed with the batch."""
    import dagster as dg

    from asset_platform.lifecycle.build import score_labeled_batch_job

    jobs = (model.names.score_batch_job, score_labeled_batch_job(model.names))
    return [record for job in jobs for record in instance.get_run_records(dg.RunsFilter(job_name=job))]


def _run_counts(instance: Any, since: dt.datetime) -> dict[str, int]:
    """Runs created since `since`, by kind (a model's jobs by their suffix)."""
    import dagster as dg

    kinds = {
        "_score_batch": "score",
        "_score_labeled_batch": "score",
        "_retraining": "retraining",
        "_batch_performance": "performance",
    }
    counts: dict[str, int] = {}
    for record in instance.get_run_records(dg.RunsFilter(created_after=since)):
        job = record.dagster_run.job_name
        # The overview's automation sensor launches it through Dagster's implicit asset job.
        kind = next((name for suffix, name in kinds.items() if job.endswith(suffix)), job)
        kind = "overview" if job in ("__ASSET_JOB", "fleet_overview") else kind
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ----------------------------------------------------------------------------------------------- the run


def _through_daemon(home: Any, models: list[Model], resources: dict[str, Any], args: argparse.Namespace) -> dict:
    import dagster as dg

    landed: list[Landed] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes: list[subprocess.Popen] = []
    tree: ProcessTree | None = None
    try:
        processes = _start(home, args)
        tree = ProcessTree([process.pid for process in processes])
        tree.start()

        def alive() -> bool:
            if any(process.poll() is not None for process in processes):
                raise RuntimeError(f"a process we started ended early: see the logs under {home.root}")
            return True

        with dg.DagsterInstance.get() as instance:
            # Warm-up (not measured): the daemon loads the code location, the first batch goes all the way.
            started = time.monotonic()
            warm = [_land(models[0], 0, resources)]
            _wait(lambda: alive() and _verdicts(instance, warm), args.timeout, "the warm-up verdict")
            _settle(instance, args, "the warm-up's runs to end")
            _log(f"warm-up batch judged after {time.monotonic() - started:.0f} s; measuring idle for {args.idle} s")
            idle = _Window(tree)
            runs_before_idle = instance.get_runs_count()
            time.sleep(args.idle)
            idle.close()
            idle_runs = instance.get_runs_count() - runs_before_idle
            _log(f"idle: {idle.rate:.3f} CPU s per s ({idle_runs} runs started meanwhile)")

            window, since = _Window(tree), dt.datetime.now(dt.UTC)
            for index in range(1, args.batches + 1):
                this_round = [_land(model, index, resources) for model in models]
                landed.extend(this_round)
                _log(f"round {index}: landed {len(this_round)} batches of {args.rows} rows")
                _wait(
                    lambda r=this_round: alive() and _verdicts(instance, r),
                    args.timeout,
                    f"round {index}'s drift verdicts",
                    every_s=2.0,
                )
                latencies = [item.verdict_at - item.landed_at for item in this_round]
                _log(f"round {index}: every verdict in; landing to verdict max {max(latencies):.0f} s")
            last_verdict = time.monotonic()
            # Runs the batches caused after their verdicts (the fleet overview's refresh) are theirs too.
            _settle(instance, args, "the batches' runs to end")
            tail = time.monotonic() - last_verdict
            window.close()
            stages = _stages(instance, models, landed, tree)
            runs = _run_counts(instance, since)
        lifetime_psutil = tree.snapshot()
        others = sorted({tree.commands[pid][:100] for pid, kind in tree.kinds.items() if kind == "other"})
    finally:
        if tree is not None:
            tree.stop()
        _stop(processes, tree)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "landed": landed,
        "window": window,
        "idle": idle,
        "tail_after_last_verdict_s": tail,
        "idle_runs": idle_runs,
        "rusage_children_cpu_s": rusage,
        "psutil_lifetime_cpu_s": lifetime_psutil,
        "runs": runs,
        "other_commands": others[:5],
        **stages,
    }


class _Window:
    """CPU of the process tree from now until `close()`: the total from snapshots, the split from samples."""

    def __init__(self, tree: ProcessTree) -> None:
        self.tree = tree
        tree.sample()
        self.start, self.cpu_start = time.time(), tree.snapshot()

    def close(self) -> None:
        self.tree.sample()
        self.end, self.cpu = time.time(), self.tree.snapshot() - self.cpu_start
        self.seconds = self.end - self.start
        self.rate = self.cpu / self.seconds
        self.by_kind, self.processes = self.tree.by_kind(self.start, self.end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 models, 2 batches of 2,000 rows each")
    parser.add_argument("--models", type=int, help="declared models (default 20, quick 3)")
    parser.add_argument("--batches", type=int, help="batches per model (default 5, quick 2)")
    parser.add_argument("--rows", type=int, help="rows per batch (default 5,000, quick 2,000)")
    parser.add_argument("--idle", type=float, help="seconds of idle measurement (default 120, quick 60)")
    parser.add_argument(
        "--sensor-interval", type=int, help="sensors' minimum interval in s (default: the platform's, 30)"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="the longest wait for any one stage, in s")
    parser.add_argument(
        "--code-server",
        choices=("daemon", "separate"),
        default="daemon",
        help="daemon: `dagster-daemon run -m` starts its own code server (as `asset-platform up --auth`); "
        "separate: a long-lived `dagster code-server start` the daemon connects to (as `dagster dev`, Kubernetes)",
    )
    parser.add_argument("--keep", type=Path, help="use this folder as the platform home and leave it there")
    args = parser.parse_args()
    models = args.models or (3 if args.quick else 20)
    args.batches = args.batches or (2 if args.quick else 5)
    args.rows = args.rows or (2000 if args.quick else 5000)
    args.idle = args.idle if args.idle is not None else (60 if args.quick else 120)
    args.history_days, args.history_rows = (6, 1500) if args.quick else (10, 2000)
    if min(models, args.batches, args.rows) < 1:
        parser.error("--models, --batches and --rows must be at least 1")
    try:
        import psutil  # noqa: F401
    except ImportError:
        parser.error("psutil is needed to follow the daemon's process tree: .venv/bin/pip install psutil")

    with tempfile.TemporaryDirectory(prefix="fleet-") as scratch:
        root = (args.keep or Path(scratch)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        home, fleet_models, resources = _prepare(root, models, args)
        _log(f"{models} models trained in {time.perf_counter() - started:.0f} s; measuring the limit")
        limit = _limit(fleet_models, resources)
        _log(f"limit: {limit['limit_cpu_s_per_batch']:.3f} CPU s per batch")
        ours = _through_daemon(home, fleet_models, resources, args)
    _report(ours, limit, models, args)


def _report(ours: dict[str, Any], limit: dict[str, Any], models: int, args: argparse.Namespace) -> None:
    landed, window, idle = ours["landed"], ours["window"], ours["idle"]
    batches = len(landed)
    latencies = [item.verdict_at - item.landed_at for item in landed]
    per_batch = window.cpu / batches
    net = (window.cpu - idle.rate * window.seconds) / batches
    limit_cpu = limit["limit_cpu_s_per_batch"]
    verdicts: dict[str, int] = {}
    for item in landed:
        verdicts[str(item.status)] = verdicts.get(str(item.status), 0) + 1
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    print(f"batches: {batches} ({models} models x {args.batches}, {args.rows} rows each)", file=sys.stderr)
    print(f"CPU per batch: ours {per_batch:.2f} s ({net:.2f} s net of idle), limit {limit_cpu:.3f} s", file=sys.stderr)
    print(f"landing to verdict: p50 {p50:.1f} s, p95 {p95:.1f} s", file=sys.stderr)
    result = {
        "bench": "fleet",
        "ours_s": round(per_batch, 3),
        "limit_s": round(limit_cpu, 4),
        "batches": batches,
        "models": models,
        "rows_per_batch": args.rows,
        "code_server": args.code_server,
        "cpu_s_per_batch": round(per_batch, 3),
        "cpu_s_per_batch_net_of_idle": round(net, 3),
        "limit_cpu_s_per_batch": round(limit_cpu, 4),
        "vs_limit": round(per_batch / limit_cpu, 1),
        "vs_limit_net_of_idle": round(net / limit_cpu, 1),
        "goal_vs_limit": 3.0,
        "landing_to_verdict_p50_s": round(p50, 1),
        "landing_to_verdict_p95_s": round(p95, 1),
        "landing_to_verdict_max_s": round(max(latencies), 1),
        "wall_s_per_batch": round(window.seconds / batches, 2),
        "window_s": round(window.seconds, 1),
        "tail_after_last_verdict_s": round(ours["tail_after_last_verdict_s"], 1),
        "limit_wall_s_per_batch": round(limit["limit_wall_s_per_batch"], 4),
        "limit_model_load_cpu_s": round(limit["limit_model_load_cpu_s"], 3),
        "idle_cpu_s_per_s": round(idle.rate, 4),
        "idle_s": round(idle.seconds, 1),
        "idle_cpu_by_process_s": _rounded(idle.by_kind),
        "idle_processes": idle.processes,
        "idle_runs": ours["idle_runs"],
        # Sampled twice a second: a process's last half second may be missing, so these add up to a little less.
        "cpu_s_per_batch_by_process": _rounded({kind: cpu / batches for kind, cpu in window.by_kind.items()}),
        "window_processes": window.processes,
        "other_commands": ours["other_commands"],
        "score_run_cpu_s": ours["score_run_cpu_s"],
        "score_runs_sampled": ours["score_runs_sampled"],
        "wall_stages_s": ours["wall_stages_s"],
        "runs": ours["runs"],
        # What one batch costs in Dagster runs and OS processes (the window's, shared ones such as the daemon and
        # the fleet overview's refresh divided among the batches).
        "runs_per_batch": {kind: round(count / batches, 2) for kind, count in sorted(ours["runs"].items())},
        "processes_per_batch": {kind: round(count / batches, 2) for kind, count in sorted(window.processes.items())},
        "verdicts": verdicts,
        "limit_verdicts": limit["limit_verdicts"],
        "cpu_method": "psutil: the process tree's own + reaped-children CPU at quiet moments",
        "rusage_children_cpu_s": round(ours["rusage_children_cpu_s"], 1),
        "psutil_lifetime_cpu_s": round(ours["psutil_lifetime_cpu_s"], 1),
        "sensor_interval_s": args.sensor_interval or 30,
        "quick": args.quick,
    }
    print(json.dumps(result))


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in sorted(values.items())}


if __name__ == "__main__":
    main()
