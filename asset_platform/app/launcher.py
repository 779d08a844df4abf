"""Launch runs through the code location, as the daemon and the UI do, from a process without either.

`asset-platform demo` and `asset-platform models promote|rollback` run jobs and
wait for them. Executed in-process (`execute_in_process`), a run records no
code-location origin, and Dagster's UI cannot re-execute it ("Expected non-None
value": dagster-io/dagster#19458). Only a run created through a loaded
workspace records one, and the public ways to create such a run are the
webserver's GraphQL API and Dagster's CLIs. So `LocationLauncher` starts a
private webserver on the platform's workspace.yaml and submits each run with
`DagsterGraphQLClient`, exactly as a click in the UI would; the run then shows
its code location, can be re-executed from the UI, and runs in its own process.

The private webserver is `asset-platform serve --auth` in proxy mode on loopback
with a fresh random secret that only this process knows: any other local
process reaching its port is refused (Dagster's own webserver has no
authentication, and `--path-prefix` is no secret: its index page names it).
Its one user, `cli:<user>` ($ASSET_PLATFORM_USER or the login name), is admin there; the command checked the caller's
role against $ASSET_PLATFORM_POLICY before. The launches are in the home's
audit log under that user, and the runs carry it in `launched_by`.

The webserver's instance is the platform home's instance (the same storage,
launcher and settings) except for the run coordinator: the caller waits for
each run, so it is launched at once instead of queued for a daemon that may not
be running. Startup costs a few seconds (the webserver loads the code location
once); each run then costs a worker process.
"""

from __future__ import annotations

import ctypes
import getpass
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from asset_platform.access.identity import DEFAULT_SECRET_ENV, SECRET_HEADER, USER_HEADER
from asset_platform.access.policy import USER_ENV, Role

if TYPE_CHECKING:
    from asset_platform.project.locate import ProjectTarget

_STARTUP_TIMEOUT_S = 180
_POLL_S = 0.2
# A run the demo or the CLI waits for; a training run on a laptop takes minutes, never hours.
DEFAULT_RUN_TIMEOUT_S = 3 * 3600
# How often a waiting launcher says it is still waiting.
_PROGRESS_EVERY_S = 10.0


class LaunchError(RuntimeError):
    """The code location could not be loaded, or a run could not be submitted or did not end."""


@dataclass(frozen=True)
class LaunchedRun:
    """A finished run, as the demo and the CLI read it (the same two fields as an in-process result)."""

    run_id: str
    success: bool


def launcher_instance_config(dagster_home: Path) -> dict[str, Any]:
    """The home's instance config, with its storage spelled out and runs launched instead of queued.

    Storage left to its defaults in the home's dagster.yaml lives under that
    DAGSTER_HOME; the launcher's DAGSTER_HOME is elsewhere, so those defaults
    are written out with the home's paths.
    """
    path = dagster_home / "dagster.yaml"
    try:
        config = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    except (OSError, yaml.YAMLError) as error:
        raise LaunchError(f"cannot read the instance config {path}: {error}") from error
    if not isinstance(config, dict):
        raise LaunchError(f"the instance config {path} is not a mapping of settings (found {type(config).__name__})")
    if not any(key in config for key in ("storage", "run_storage", "event_log_storage", "schedule_storage")):
        config["storage"] = {"sqlite": {"base_dir": str(dagster_home)}}
    config.setdefault(
        "local_artifact_storage",
        {
            "module": "dagster.core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(dagster_home)},
        },
    )
    config.setdefault(
        "compute_logs",
        {
            "module": "dagster.core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(dagster_home / "storage")},
        },
    )
    config["run_coordinator"] = {"module": "dagster.core.run_coordinator", "class": "DefaultRunCoordinator"}
    config.setdefault("telemetry", {"enabled": False})
    return config


class LocationLauncher:
    """A private webserver on the platform's workspace that submits runs and waits for them to end.

    Use as a context manager; `pass_fds` keeps file descriptors (the home lock)
    open in the webserver, so the home stays held while its runs may still run.
    """

    def __init__(
        self,
        dagster_home: Path,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        log_path: Path | None = None,
        project: ProjectTarget | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """`progress`, if given, hears what the launcher is doing (starting, loading, launched, waiting)."""
        self.dagster_home = Path(dagster_home)
        self.progress = progress or (lambda _message: None)
        self.env = dict(os.environ if env is None else env)
        self.pass_fds = pass_fds
        self.log_path = log_path
        if project is None:
            from asset_platform.app.location import project_target

            project = project_target()
        self.project = project
        self._process: subprocess.Popen | None = None
        self._folder: Path | None = None
        self._url = ""
        self._instance: Any = None  # the home's instance, to wait on runs
        # The person at the terminal: $ASSET_PLATFORM_USER (what the command's policy check used), else the login.
        self.user = f"cli:{self.env.get(USER_ENV) or getpass.getuser()}"
        self._headers = {SECRET_HEADER: secrets.token_urlsafe(32), USER_HEADER: self.user}

    def __enter__(self) -> LocationLauncher:
        self._folder = Path(tempfile.mkdtemp(prefix="asset-platform-launcher-"))
        (self._folder / "dagster.yaml").write_text(yaml.safe_dump(launcher_instance_config(self.dagster_home)))
        policy = {"grants": [{"role": Role.ADMIN.label, "users": [self.user]}]}
        (self._folder / "policy.yaml").write_text(yaml.safe_dump(policy))
        try:
            started = time.monotonic()
            self.progress("starting a private webserver and loading the code location (imports the project)")
            self._start_webserver()
            attempts = 1
            # A free port can be taken between probing it and binding it: up to three ports.
            while not self._wait_until_loaded(last_try=attempts == 3):
                self._start_webserver()
                attempts += 1
            self.progress(f"code location loaded ({time.monotonic() - started:.0f} s)")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_webserver(self) -> None:
        port = _free_port()
        self._url = f"http://127.0.0.1:{port}"
        log = open(self.log_path or self._folder / "webserver.log", "ab")  # noqa: SIM115 - the child writes it
        command = [
            str(Path(sys.executable).with_name("asset-platform")),
            "serve",
            "-w",
            str(self.project.workspace_file(self._folder)),
        ]
        command += ["--auth", str(self._folder / "policy.yaml"), "--auth-mode", "proxy"]
        env = {**self.env, "DAGSTER_HOME": str(self._folder), DEFAULT_SECRET_ENV: self._headers[SECRET_HEADER]}
        try:
            self._process = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=self.project.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=self.pass_fds,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    def __exit__(self, *_exc: object) -> None:
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # the webserver stops its code server
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def url(self) -> str:
        """Where the private webserver listens (it answers only requests with this launcher's secret)."""
        return self._url

    def launch(
        self,
        job_name: str,
        tags: dict[str, str],
        partition_key: str | None = None,
        run_config: dict[str, Any] | None = None,
        timeout_s: float = DEFAULT_RUN_TIMEOUT_S,
    ) -> LaunchedRun:
        """Submit `job_name` (with the daemon's partition tag when `partition_key`) and wait for its end."""
        from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
        from gql.transport.requests import RequestsHTTPTransport

        if partition_key is not None:
            tags = {**tags, "dagster/partition": partition_key}
        transport = RequestsHTTPTransport(url=f"{self._url}/graphql", headers=self._headers)
        client = DagsterGraphQLClient("127.0.0.1", transport=transport)
        try:
            run_id = client.submit_job_execution(
                job_name,
                # With several code locations the client finds the one that has the job.
                repository_location_name=self.project.location_names[0] if len(self.project.locations) == 1 else None,
                run_config=run_config or {},
                tags=tags,
            )
        except DagsterGraphQLClientError as error:
            raise LaunchError(f"could not launch {job_name}: {error}") from error
        self.progress(f"run {run_id} of {job_name} launched; waiting for it to end")
        return LaunchedRun(run_id, self._wait_for_end(run_id, job_name, timeout_s))

    def _wait_for_end(self, run_id: str, job_name: str, timeout_s: float) -> bool:
        import dagster as dg

        if self._instance is None:  # opened once, read for every run the launcher waits for
            self._instance = dg.DagsterInstance.from_config(str(self.dagster_home))
        started = time.monotonic()
        deadline, said = started + timeout_s, started
        while time.monotonic() < deadline:
            run = self._instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                self.progress(f"run {run_id} ended: {run.status.value} ({time.monotonic() - started:.0f} s)")
                return run.is_success
            if time.monotonic() - said >= _PROGRESS_EVERY_S:
                said = time.monotonic()
                status = run.status.value if run is not None else "not yet recorded"
                self.progress(f"run {run_id} {status.lower()}, {said - started:.0f} s so far")
            time.sleep(_POLL_S)
        raise LaunchError(f"run {run_id} of {job_name} did not end within {timeout_s:.0f} s; it is still running")

    def _wait_until_loaded(self, last_try: bool) -> bool:
        """Whether the webserver answers with the code location loaded; False if it exited (port taken)."""
        query = (
            "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
            "locationOrLoadError { __typename ... on PythonError { message causes { message } } } } } } }"
        )
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                if last_try or "address already in use" not in self._log_tail().lower():
                    raise LaunchError(f"dagster-webserver exited with {self._process.returncode}; {self._log_tail()}")
                return False
            entries = self._location_entries(query)
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                for entry in entries:
                    error = entry["locationOrLoadError"] or {}
                    if error.get("__typename") == "PythonError":
                        # Dagster wraps the project's own error ("no such environment"): that one says what to fix.
                        why = [error["message"], *(cause["message"] for cause in error.get("causes") or [])][-1]
                        raise LaunchError(f"the code location {entry['name']!r} failed to load: {why.strip()}")
                return True
            time.sleep(0.5)
        raise LaunchError(f"the code location did not load within {_STARTUP_TIMEOUT_S} s; {self._log_tail()}")

    def _location_entries(self, query: str) -> list[dict[str, Any]]:
        """The project's code locations as the webserver reports them (empty until it answers)."""
        request = urllib.request.Request(
            f"{self._url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json", **self._headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                workspace = json.load(response)["data"]["workspaceOrError"]
        except (OSError, ValueError, KeyError, TypeError):
            return []  # not up yet
        entries = (workspace or {}).get("locationEntries") or []
        return [entry for entry in entries if entry["name"] in self.project.location_names]

    def _log_tail(self) -> str:
        path = self.log_path or (self._folder / "webserver.log" if self._folder else None)
        lines = path.read_text(errors="replace").splitlines()[-15:] if path and path.exists() else []
        return "its log ends:\n" + "\n".join(lines) if lines else "it wrote no log"


def failure_message(instance: Any, run_id: str) -> str:
    """Why run `run_id` failed: its first step failure, else the run failure's message."""
    import dagster as dg

    for event_type in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE):
        for entry in instance.all_logs(run_id, of_type=event_type):
            error = getattr(entry.dagster_event.event_specific_data, "error", None)
            message = error.message if error is not None else entry.dagster_event.message
            if message:
                return message.strip()
    return "see the run in the UI"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: take SIGTERM when the launching process dies, however it dies (Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
