"""A dagster-webserver on a platform home, started and stopped by the test session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port

# Loading the code location imports torch, lightgbm and dvc: slow on a cold machine.
STARTUP_TIMEOUT_S = 180
STOP_TIMEOUT_S = 30
_ASSET_NODES = "{ assetNodes { assetKey { path } } }"


@dataclass
class Webserver:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors from {self.url}: {body['errors']}")
        return body["data"]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_webserver(home: Path, log: Path, read_only: bool = False) -> Webserver:
    """Serve `home` on a free loopback port; returns once the code location's assets are loaded."""
    port = free_port()
    command = [str(VENV_BIN / "dagster-webserver"), "-w", str(REPO_ROOT / "workspace.yaml")]
    command += ["-h", "127.0.0.1", "-p", str(port)] + (["--read-only"] if read_only else [])
    env = subprocess_env(DAGSTER_HOME=str(home / "dagster"), ASSET_PLATFORM_HOME=str(home))
    with open(log, "w") as out:
        # Its own process group, so the code server it spawns stops with it.
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Webserver(process, port, log)
    try:
        _wait_until_loaded(server)
    except BaseException:
        stop_webserver(server)
        raise
    return server


def _wait_until_loaded(server: Webserver) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"dagster-webserver exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=5):
                pass
            # /server_info answers before the code location has loaded; the graph is what the tests need.
            if server.graphql(_ASSET_NODES)["assetNodes"]:
                return
        except (OSError, ValueError):  # not listening yet, or a half-started server's non-JSON answer
            pass
        time.sleep(1)
    raise AssertionError(f"dagster-webserver not serving the graph after {STARTUP_TIMEOUT_S}s:\n{server.log_tail()}")


def stop_webserver(server: Webserver) -> None:
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=STOP_TIMEOUT_S)
