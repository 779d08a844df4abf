"""A real crash of `asset-platform up`: dagster dev, its daemon, code servers and run workers killed together.

Issue 11, failure 6, end to end: on a first start of `up`, both example models'
trainings are submitted and take both queue slots (max_concurrent_runs 2). The
whole process group is then killed with SIGKILL, as a machine crash or an
out-of-memory kill of the session would, and both runs are left STARTED with
nobody to report their end. Started again on the same home, `up` must mark
them failed (and say so), the daemon's run-retry policy must re-execute each
once to success, and a run submitted afterwards must not wait in the queue
forever behind the dead runs. `test_crash_recovery.py` kills real run workers
under a stand-in; here the daemon and the servers are the real ones.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from signal import SIGKILL

import dagster as dg
import pytest

from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.overview import OVERVIEW_JOB
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.synthetic import write_batches
from definitions import project_declarations
from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env
from tests.hardening.helpers import open_instance
from tests.processes import free_port, running, tail, wait_for

LOCATION_NAME = "asset_platform"  # workspace.yaml

# Both example models: two trainings hold both queue slots.
MODELS = ("ecommerce", "deliveries")
# The smallest history the training job takes in a few steps: the cost is in the step processes, not the rows.
HISTORY_DAYS, ROWS_PER_DAY, SEED = 6, 300, 11
STARTED_S = 300  # dagster dev up, both trainings submitted, dequeued and STARTED (2 cores, cold imports)
GONE_S = 60  # the killed process group empty
RECOVERED_S = 180  # the restarted `up` names the runs it marked failed
RETRIED_S = 240  # the daemon's run-retry policy creates the retries
FINISHED_S = 900  # both retries (two trainings side by side on 2 cores) and the run queued behind them finish
PARENT_RUN_TAG, RETRY_NUMBER_TAG = "dagster/parent_run_id", "dagster/retry_number"
CRASH_TAGS = {TRIGGER_TAG: "test:daemon-crash"}
# Each run's steps run in its one process (the local environment's executor); the retries re-execute
# with the same (empty) config.
NO_CONFIG: dict = {}
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def _write_histories(home: PlatformHome) -> list[str]:
    """Land a small history for each example model; returns their training jobs (what `up` submits first)."""
    declarations = {declaration.name: declaration for declaration in project_declarations()}
    jobs = []
    for offset, name in enumerate(MODELS):
        history = home.landing / name / "history"
        write_batches(history, dt.date(2026, 1, 1), HISTORY_DAYS, ROWS_PER_DAY, seed=SEED + offset, dataset=name)
        jobs.append(lifecycle_names(declarations[name]).training_job)
    return jobs


def _up(port: int) -> list[str]:
    # The test submits the trainings itself (below), each in one process.
    return [str(VENV_BIN / "asset-platform"), "up", "--host", "127.0.0.1", "--port", str(port), "--no-baseline"]


@contextmanager
def _explained(log: Path) -> Iterator[None]:
    """A failed check in the block also shows the end of `up`'s output."""
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- {log.name} ---\n{tail(log, 60)}") from None


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run's worker recorded in its first engine event ("Started process for run"), if any yet."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data and data.metadata else None
        if pid is not None:
            return int(pid.value)
    return None


def _trainings_started(instance: dg.DagsterInstance, jobs: list[str]) -> dict[str, tuple[str, int]] | None:
    """job -> (run id, worker pid) once the test's training run of every job is STARTED with its worker's pid."""
    started = {}
    for job in jobs:
        runs = instance.get_runs(dg.RunsFilter(job_name=job, tags=CRASH_TAGS))
        if len(runs) != 1 or runs[0].status != dg.DagsterRunStatus.STARTED:
            return None
        pid = _worker_pid(instance, runs[0].run_id)
        if pid is None:
            return None
        started[job] = (runs[0].run_id, pid)
    return started


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _retries_of(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(tags={PARENT_RUN_TAG: run_id})))


def _finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    run = instance.get_run_by_id(run_id)
    return run if run is not None and run.status in FINISHED else None


def _submit(port: int, job: str, run_config: dict | None = None, tags: dict[str, str] | None = None) -> str:
    from dagster_graphql import DagsterGraphQLClient

    return DagsterGraphQLClient("127.0.0.1", port_number=port).submit_job_execution(
        job, repository_location_name=LOCATION_NAME, run_config=run_config or {}, tags=tags or {}
    )


@pytest.mark.timeout(STARTED_S + GONE_S + RECOVERED_S + RETRIED_S + FINISHED_S + 120)
def test_after_a_daemon_crash_with_its_run_workers_up_fails_the_orphaned_runs_retries_them_and_the_queue_moves(
    platform_home: PlatformHome, tmp_path: Path
) -> None:
    home = platform_home
    jobs = _write_histories(home)
    # One math thread per step process, or OpenMP and torch oversubscribe two cores many times over.
    env = subprocess_env(ASSET_PLATFORM_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home), OMP_NUM_THREADS="1")
    env["ASSET_PLATFORM_SENSOR_INTERVAL_S"] = "5"  # the recovery sensor looks every 5 s, not 30 (definitions.py)
    with open_instance(home) as instance:
        slots = instance.get_concurrency_config().run_queue_config.max_concurrent_runs

        # First start: both trainings submitted; once both run, the whole process group dies at once.
        crashed_log, port = tmp_path / "up-crashed.log", free_port()
        with running(_up(port), crashed_log, env, REPO_ROOT) as up, _explained(crashed_log):
            for job in jobs:
                submitted = lambda job=job: _submit(port, job, NO_CONFIG, CRASH_TAGS)  # noqa: E731
                wait_for(submitted, STARTED_S, f"{job} submitted", alive=[up])
            started = wait_for(
                lambda: _trainings_started(instance, jobs), STARTED_S, "both trainings STARTED", alive=[up]
            )
            assert len(started) == slots, "the trainings hold every queue slot"
            for _run_id, pid in started.values():
                assert not _pid_gone(pid), "the recorded worker runs in the process group about to be killed"
            os.killpg(up.pid, SIGKILL)  # the crash: dagster dev, webserver, daemon, code servers, run workers
            up.wait(timeout=GONE_S)
            wait_for(lambda: _group_gone(up.pid), GONE_S, "every process of the killed group to be gone")
        for _run_id, pid in started.values():
            wait_for(lambda pid=pid: _pid_gone(pid), GONE_S, f"run worker {pid} to be gone")
        orphaned = {run_id: (job, pid) for job, (run_id, pid) in started.items()}
        for run_id in orphaned:
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED, "nothing reported the end"

        # Second start on the same home: the orphans are marked failed, retried, and the queue moves on.
        port = free_port()
        log = tmp_path / "up-restarted.log"
        with running(_up(port), log, env, REPO_ROOT) as up, _explained(log):
            for run_id, (job, pid) in orphaned.items():
                line = f"run {run_id} of {job}: its worker (pid {pid}) is gone; marked failed"
                wait_for(lambda line=line: line in log.read_text(), RECOVERED_S, f"`up` to say: {line}", alive=[up])
                run = instance.get_run_by_id(run_id)
                assert run.status == dg.DagsterRunStatus.FAILURE
                assert run.tags.get("dagster/will_retry") == "true", "the run-retry policy takes it from here"

            retries = {}
            for run_id in orphaned:
                found = wait_for(
                    lambda run_id=run_id: _retries_of(instance, run_id), RETRIED_S, f"a retry of {run_id}", [up]
                )
                assert len(found) == 1, f"run {run_id} was retried {len(found)} times"
                retries[run_id] = found[0]
            # Both slots are now the retries'; a run submitted behind them must get one when a retry ends.
            queued_id = wait_for(lambda: _submit(port, OVERVIEW_JOB), RECOVERED_S, f"{OVERVIEW_JOB} submitted", [up])

            for run_id, retry in retries.items():
                assert retry.job_name == orphaned[run_id][0] and retry.tags.get(RETRY_NUMBER_TAG) == "1"
                done = wait_for(
                    lambda retry=retry: _finished(instance, retry.run_id),
                    FINISHED_S,
                    f"retry {retry.run_id} of {retry.job_name} to finish",
                    alive=[up],
                    interval_s=2,
                )
                assert done.status == dg.DagsterRunStatus.SUCCESS, f"retry {retry.run_id} of {retry.job_name}"
            done = wait_for(
                lambda: _finished(instance, queued_id), FINISHED_S, f"{OVERVIEW_JOB} {queued_id} to leave the queue",
                alive=[up], interval_s=2,
            )  # fmt: skip
            assert done.status == dg.DagsterRunStatus.SUCCESS, f"{OVERVIEW_JOB} run {queued_id}"
            for run_id, retry in retries.items():
                assert [run.run_id for run in _retries_of(instance, run_id)] == [retry.run_id], "retried once"
                assert _retries_of(instance, retry.run_id) == [], "a successful retry is not retried"
