"""Crash recovery: one process per platform home, and runs whose worker is gone are marked failed.

Issue 11, failure 6 (a crash of the daemon with its run workers left runs
STARTED forever, holding both queue slots) and failure 7 (two `asset-platform
demo` processes on one home both ran: a retrain run key executed twice), and the
degraded case "`demo` on a read-only home prints a raw traceback". The run
workers here are real processes, killed with SIGKILL as a crash would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from asset_platform.app.cli import main
from asset_platform.app.serve import prepare_dagster_home, recover_runs, serve
from asset_platform.home import PlatformHome
from asset_platform.recovery import HomeLockError, fail_orphaned_runs, home_lock
from tests import REPO_ROOT
from tests.conftest import subprocess_env
from tests.processes import wait_for

IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlatformHome:
    home = PlatformHome(tmp_path / "home").ensure()
    # Create the instance's SQLite storage once here: two processes doing it at the same moment race
    # in its schema migration (alembic "expected to match one row").
    dg.DagsterInstance.from_config(str(prepare_dagster_home(home))).dispose()
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    return home


@contextmanager
def _process(*args: str, home: PlatformHome) -> Iterator[subprocess.Popen]:
    """`python -m tests.hardening.sleeper ARGS` on `home`, killed (SIGKILL) at the end of the block."""
    env = subprocess_env(DAGSTER_HOME=str(home.dagster_home), ASSET_PLATFORM_HOME=str(home.root))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.sleeper", *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=60)


def _first_line(process: subprocess.Popen) -> str:
    line = process.stdout.readline().strip()  # ends when the process prints or exits
    assert line, f"the helper process exited ({process.wait()}) before it was ready"
    return line


def _kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def test_a_second_demo_on_the_same_home_fails_fast_naming_the_home_and_the_holder_pid(
    home: PlatformHome, capsys: pytest.CaptureFixture
) -> None:
    with _process("lock", str(home.root), "demo", home=home) as holder:
        assert _first_line(holder) == "locked"

        code = main(["demo", "--home", str(home.root), "--days", "2", "--drift-day", "1"])

        err = capsys.readouterr().err
        assert code == 2 and f"the platform home {home.root} is in use" in err
        assert f"pid {holder.pid}, asset-platform demo" in err and "Traceback" not in err
        assert not (home.landing / "ecommerce" / "history").exists(), "nothing was written"


def test_up_on_a_home_held_by_a_demo_fails_fast_before_starting_dagster(
    home: PlatformHome, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = []
    never_started = SimpleNamespace(Popen=lambda *args, **kwargs: started.append(args))
    monkeypatch.setattr("asset_platform.app.serve.subprocess", never_started)
    with _process("lock", str(home.root), "demo", home=home) as holder:
        assert _first_line(holder) == "locked"

        code = main(["up", "--no-baseline"])

        err = capsys.readouterr().err
        assert code == 2 and str(home.root) in err and f"pid {holder.pid}" in err
        assert started == [], "dagster dev never started"


def test_the_home_lock_is_released_when_its_holder_is_killed(home: PlatformHome) -> None:
    with _process("lock", str(home.root), "up", home=home) as holder:
        assert _first_line(holder) == "locked"
        with pytest.raises(HomeLockError), home_lock(home.root, "demo"):
            pass
        _kill(holder)

        with home_lock(home.root, "demo") as lock:
            assert lock.path.read_text().startswith(f"{os.getpid()} asset-platform demo")


def test_demo_on_a_read_only_home_is_a_clear_error_not_a_traceback(
    home: PlatformHome, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    mounted = tmp_path / "read-only-home"
    mounted.mkdir()
    bind = subprocess.run(["mount", "--bind", str(home.root), str(mounted)], capture_output=True, check=False)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here to make a read-only home: {bind.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)], check=True, capture_output=True)

        code = main(["demo", "--home", str(mounted), "--days", "2", "--drift-day", "1"])

        err = capsys.readouterr().err
        assert code == 2 and f"cannot lock the platform home {mounted}" in err and "not writable" in err
        assert "Traceback" not in err
    finally:
        subprocess.run(["umount", str(mounted)], check=False, capture_output=True)


def _started_run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    run = instance.get_run_by_id(run_id)
    return run if run and run.status == dg.DagsterRunStatus.STARTED else None


def test_runs_whose_worker_was_killed_are_marked_failed_and_free_their_queue_slots(home: PlatformHome) -> None:
    with (
        _process(home=home) as killed,
        _process(home=home) as alive,
        dg.DagsterInstance.from_config(str(home.dagster_home)) as instance,
    ):
        killed_id, alive_id = (_first_line(p).removeprefix("started ") for p in (killed, alive))
        for run_id in (killed_id, alive_id):
            wait_for(lambda run_id=run_id: _started_run(instance, run_id), 60, f"run {run_id} STARTED")
        _kill(killed)  # the crash: the worker is gone, nothing reported the run's end
        assert instance.get_run_by_id(killed_id).status == dg.DagsterRunStatus.STARTED

        orphaned = recover_runs(home.dagster_home)  # what `asset-platform up` does first

        assert [run.run_id for run in orphaned] == [killed_id] and orphaned[0].pid == killed.pid
        run = instance.get_run_by_id(killed_id)
        assert run.status == dg.DagsterRunStatus.FAILURE
        assert run.tags.get("dagster/will_retry") == "true", "the run-retry policy takes it from here"
        assert instance.get_run_by_id(alive_id).status == dg.DagsterRunStatus.STARTED, "a live worker is left alone"
        assert instance.get_runs_count(dg.RunsFilter(statuses=IN_PROGRESS)) == 1, "one queue slot held, not two"
        assert fail_orphaned_runs(instance) == [], "nothing more to do"


def test_up_marks_runs_of_a_crashed_worker_failed_before_starting_dagster(
    home: PlatformHome, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    with _process(home=home) as worker, dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        run_id = _first_line(worker).removeprefix("started ")
        wait_for(lambda: _started_run(instance, run_id), 60, f"run {run_id} STARTED")
        _kill(worker)
        launched = []

        class _Dagster:
            def __init__(self, command, **kwargs):
                launched.append((instance.get_run_by_id(run_id).status, kwargs.get("pass_fds")))

            def wait(self) -> int:
                return 0

        monkeypatch.setattr("asset_platform.app.serve.subprocess", SimpleNamespace(Popen=_Dagster))

        assert serve(home, "127.0.0.1", 9, train_baselines=False) == 0

        assert launched[0][0] == dg.DagsterRunStatus.FAILURE, "failed before dagster dev started"
        assert launched[0][1], "dagster dev inherits the home's lock"
        assert (
            f"run {run_id} of sleeper: its worker (pid {worker.pid}) is gone; marked failed" in capsys.readouterr().out
        )


def test_a_demo_started_in_the_background_stops_on_sigterm(tmp_path: Path) -> None:
    """A shell starts background commands with SIGINT ignored; Dagster then points SIGTERM at that too.

    The demo must still stop on `kill PID`, and release its home.
    """
    home = tmp_path / "home"
    log = tmp_path / "demo.log"
    command = [
        sys.executable,
        "-m",
        "asset_platform.app.cli",
        "demo",
        "--home",
        str(home),
        "--days",
        "3",
        "--drift-day",
        "1",
    ]
    with open(log, "w") as out:
        demo = subprocess.Popen(
            [*command, "--in-process", "--history-days", "6", "--rows-per-day", "600"],
            cwd=REPO_ROOT,
            env=subprocess_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            # As `asset-platform demo &` in a script: SIGINT ignored from the start.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        # Past the baseline's training: Dagster has guarded steps against interrupts by then.
        wait_for(lambda: "events_" in log.read_text(), 300, "the demo's first day", alive=[demo])
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=60)
            pytest.fail(f"the demo ignored SIGTERM:\n{log.read_text()[-2000:]}")
    assert demo.returncode == 130, f"the demo ran to its end: SIGTERM was ignored\n{log.read_text()[-2000:]}"
    # Said in one line, not as a KeyboardInterrupt traceback.
    assert log.read_text().rstrip().endswith("asset-platform demo: interrupted")
    with home_lock(home, "demo"):  # the kernel released the demo's lock
        pass


def test_the_daemon_marks_runs_of_a_dead_worker_failed_through_its_recovery_sensor_whatever_started_it(
    home: PlatformHome,
) -> None:
    from asset_platform.resources.local import local_resources
    from asset_platform.sensors.run_recovery import SENSOR_NAME
    from definitions import build_definitions
    from tests.hardening.helpers import declaration

    defs = build_definitions([declaration()], local_resources(home))
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, "a plain `dagster-daemon run` evaluates it"
    with _process(home=home) as killed, dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        run_id = _first_line(killed).removeprefix("started ")
        wait_for(lambda: _started_run(instance, run_id), 60, f"run {run_id} STARTED")
        _kill(killed)

        result = sensor(dg.build_sensor_context(instance=instance, sensor_name=SENSOR_NAME))

        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert run_id in result.skip_message
        again = sensor(dg.build_sensor_context(instance=instance, sensor_name=SENSOR_NAME))
        assert again.skip_message == "no run of a dead worker"
