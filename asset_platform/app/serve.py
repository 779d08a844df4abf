"""`asset-platform up`: run `dagster dev` on the platform home and train each model's baseline once.

A newcomer should see a populated asset graph without a second command, so on
the first start the training job of every declared model whose history has
landed and that never trained is submitted through the webserver's GraphQL API,
exactly as a click in the UI would.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from asset_platform.home import PlatformHome
from asset_platform.recovery import home_lock
from asset_platform.registry.trigger import TRIGGER_TAG

_STARTUP_TIMEOUT_S = 180
_RUN_WATCH_INTERVAL_S = 60
_OWN_SHUTDOWN_S = 10


def prepare_dagster_home(home: PlatformHome) -> Path:
    """Create the Dagster home with the embedded default instance config if missing."""
    home.ensure()
    config = home.dagster_home / "dagster.yaml"
    if not config.exists():
        with importlib.resources.as_file(importlib.resources.files("asset_platform.app") / "dagster.yaml") as source:
            shutil.copyfile(source, config)
    return home.dagster_home


def serve(
    home: PlatformHome, host: str, port: int, train_baselines: bool = True, auth_args: list[str] | None = None
) -> int:
    # One process per home: a second `up` (or a demo) on it fails here, naming the holder. dagster dev
    # inherits the lock, so the home stays held as long as it runs.
    with home_lock(home.root, "up") as lock:
        env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(home)), "ASSET_PLATFORM_HOME": str(home.root)}
        recover_runs(Path(env["DAGSTER_HOME"]))
        from asset_platform.app.location import project_target

        project = project_target()
        workspace = str(project.workspace_file(home.dagster_home))
        command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", workspace]
        daemon = None
        if auth_args:
            # `dagster dev` cannot swap its webserver: the daemon, and beside it our webserver with roles.
            daemon_command = [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", workspace]
            daemon = subprocess.Popen(daemon_command, env=env, cwd=project.root, pass_fds=(lock.fileno(),))
            command = [str(Path(sys.executable).with_name("asset-platform")), "serve", *auth_args, "-w", workspace]
            # Only a single-user server accepts the baseline submission below without credentials.
            train_baselines = train_baselines and "--single-user" in auth_args
        command += ["--host", host, "--port", str(port)]
        print(f"project: {project.source}\nplatform home: {home.root}\nstarting: {' '.join(command)}", flush=True)
        dagster = subprocess.Popen(command, env=env, cwd=project.root, pass_fds=(lock.fileno(),))
        # Forward Ctrl-C / SIGTERM to dagster dev, which stops its webserver and daemon.
        signal.signal(signal.SIGTERM, lambda *_: dagster.send_signal(signal.SIGINT))
        watch = threading.Event()
        threading.Thread(target=_watch_runs, args=(Path(env["DAGSTER_HOME"]), watch), daemon=True).start()
        try:
            if train_baselines and _wait_for_webserver(host, port, dagster):
                for job in _untrained_jobs(env["DAGSTER_HOME"]):
                    _submit(host, port, job)
            return dagster.wait()
        except KeyboardInterrupt:
            # Ctrl-C in a terminal reaches dagster dev too; a second SIGINT would abort its orderly
            # shutdown. Forward it only when the interrupt was for this process alone.
            try:
                return dagster.wait(timeout=_OWN_SHUTDOWN_S)
            except subprocess.TimeoutExpired:
                dagster.send_signal(signal.SIGINT)
                return dagster.wait()
        finally:
            watch.set()
            if daemon is not None:
                daemon.send_signal(signal.SIGINT)
                daemon.wait()


def recover_runs(dagster_home: Path) -> list:
    """Mark runs of this home whose worker process is gone (a crash) as failed; prints each one.

    The default run launcher cannot tell Dagster's run monitoring whether a worker
    lives, so without this a run killed with the daemon stays STARTED forever and
    holds a queue slot. Marked failed, the run-retry policy retries it.
    """
    import dagster as dg

    from asset_platform.recovery import fail_orphaned_runs

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        orphaned = fail_orphaned_runs(instance)
    for run in orphaned:
        print(f"run {run.run_id} of {run.job_name}: its worker (pid {run.pid}) is gone; marked failed", flush=True)
    return orphaned


def _watch_runs(dagster_home: Path, stop: threading.Event) -> None:
    """While dagster dev runs: a run worker killed on its own (out of memory) is marked failed too."""
    while not stop.wait(_RUN_WATCH_INTERVAL_S):
        try:
            recover_runs(dagster_home)
        except Exception as error:  # never take `up` down; say why and try again next time
            print(f"checking for runs whose worker is gone failed: {error}", file=sys.stderr, flush=True)


def _wait_for_webserver(host: str, port: int, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/server_info", timeout=2):
                return True
        except urllib.error.HTTPError:  # 401/403 from `serve --auth`: it is up
            return True
        except OSError:
            time.sleep(1)
    return False


def _untrained_jobs(dagster_home: str) -> list[str]:
    """Training jobs of declared models with landed history that never ran on this instance."""
    import dagster as dg

    from asset_platform.app.location import CodeLocation, resolved
    from asset_platform.landing import LandingZone

    location = CodeLocation.load()
    landing = LandingZone(root=str(resolved(location.resources["landing"].root)))
    os.environ["DAGSTER_HOME"] = dagster_home
    jobs = []
    with dg.DagsterInstance.get() as instance:
        for declaration in location.declarations.values():
            job = location.names(declaration).training_job
            has_history = bool(landing.for_model(declaration).scan(landing.for_model(declaration).history).files)
            if has_history and not instance.get_runs_count(dg.RunsFilter(job_name=job)):
                jobs.append(job)
    return jobs


def _submit(host: str, port: int, job: str) -> None:
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient(host, port_number=port)
    for _attempt in range(30):  # the code location may still be loading
        try:
            run_id = client.submit_job_execution(job, tags={TRIGGER_TAG: "cli:asset-platform up"})
        except Exception as error:  # DagsterGraphQLClientError until the location is loaded
            last_error = error
            time.sleep(2)
            continue
        print(f"first start: training {job} (run {run_id}); watch it at http://{host}:{port}/runs/{run_id}")
        return
    print(f"could not submit {job}: {last_error}", file=sys.stderr)
