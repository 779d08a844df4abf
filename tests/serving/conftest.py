"""The serving tests' model and server: the loans declaration trained once, served by a real process."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.app.serve import prepare_dagster_home
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import CHAMPION
from asset_platform.notify import WEBHOOK_URL_ENV
from asset_platform.registry.models import ModelLineup, lineup_for
from asset_platform.resources.local import local_resources
from definitions import build_definitions
from tests import REPO_ROOT
from tests.conftest import subprocess_env
from tests.declaration.loans import loans_declaration, write_history
from tests.serving.canary_model import BEHAVIOUR_ENV
from tests.serving.client import get

MODEL = "loans"
HISTORY_START, HISTORY_DAYS, ROWS_PER_DAY = dt.date(2026, 7, 1), 5, 900
POLL_S = 0.5  # how often the server reads the champion pointer
MAX_ROWS, MAX_BODY_MB = 500, 0.25


@dataclass
class Trained:
    """A platform home where loans trained once (two model versions, one the champion)."""

    home: PlatformHome
    defs: dg.Definitions

    @property
    def declaration(self):
        return loans_declaration()

    @property
    def names(self):
        return lifecycle_names(self.declaration)

    def lineup(self) -> ModelLineup:
        return lineup_for(self.defs.resources["registry"], self.names)

    def set_champion(self, action: str, version: str | None = None) -> None:
        """Promote or roll back as `asset-platform models promote/rollback` does: the set_champion job."""
        config = {"action": action, "version": version, "reason": f"serving test: {action}"}
        with dg.DagsterInstance.from_config(str(prepare_dagster_home(self.home))) as instance:
            result = self.defs.resolve_job_def(self.names.set_champion_job).execute_in_process(
                instance=instance,
                run_config={"ops": {self.names.op(CHAMPION): {"config": config}}},
                asset_selection=[self.names.champion],
            )
        assert result.success


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    home = PlatformHome(tmp_path_factory.mktemp("serving") / "platform").ensure()
    declaration = loans_declaration()
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    write_history(
        resources["landing"].for_model(declaration).ensure().history, HISTORY_START, HISTORY_DAYS, ROWS_PER_DAY
    )
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(home))) as instance:
        job = defs.resolve_job_def(lifecycle_names(declaration).training_job)
        assert job.execute_in_process(instance=instance).success
    return Trained(home, defs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_model_command(*options: str, module: str = "tests.serving.loans_project", model: str = MODEL) -> list[str]:
    project = ["-m", module, "-d", str(REPO_ROOT)]
    return [sys.executable, "-m", "asset_platform.app.cli", *project, "serve-model", "--model", model, *options]


@dataclass
class Server:
    """A serve-model process; `kill` and `start` again on the same ports and capture folder."""

    base: str
    metrics: str  # the Prometheus scrape URL
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    model: str = MODEL  # the model it serves

    def url(self, model: str | None = None) -> str:
        return f"{self.base}/v2/models/{model or self.model}/infer"

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        _wait_ready(self)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or sealed."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Webhook:
    """A loopback webhook receiver: every JSON payload posted to it, in order."""

    url: str
    received: list[dict] = field(default_factory=list)


@pytest.fixture(scope="session")
def webhook() -> Iterator[Webhook]:
    hook = Webhook("")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            return

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    hook.url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield hook
    receiver.shutdown()
    receiver.server_close()


@pytest.fixture(scope="session")
def server(trained: Trained, webhook: Webhook, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`asset-platform serve-model` on free loopback ports, until the session ends.

    Served rows are captured into the home's landing; a batch is sealed only when a server stops or
    starts again after a kill (the row and minute limits are out of reach), so the tests know the batches.
    Notifications go to `webhook`; the canary's model behaves as the file `$FLAKY_BEHAVIOUR_FILE` says.
    """
    port, metrics_port = free_port(), free_port()
    options = ["--port", str(port), "--poll-s", str(POLL_S), "--max-rows", str(MAX_ROWS)]
    options += ["--max-body-mb", str(MAX_BODY_MB), "--metrics-port", str(metrics_port)]
    options += ["--batch-rows", "1000000", "--batch-minutes", "600"]
    log = tmp_path_factory.mktemp("serving-log") / "serve-model.log"
    env = subprocess_env(
        ASSET_PLATFORM_HOME=str(trained.home.root),
        DAGSTER_HOME=str(trained.home.dagster_home),
        **{WEBHOOK_URL_ENV: webhook.url, BEHAVIOUR_ENV: str(log.parent / "flaky-behaviour")},
    )
    served = Server(
        f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", serve_model_command(*options), env, log
    )
    try:
        served.start()
        yield served
    finally:
        if served.process is not None:
            served.stop()


def _wait_ready(served: Server, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"serve-model exited with {served.process.returncode}:\n{served.log.read_text()}")
        try:
            if get(f"{served.base}/v2/models/{served.model}/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"serve-model not ready after {limit_s}s:\n{served.log.read_text()[-3000:]}")
