"""`make up` as a newcomer runs it: the UI serves the graph and the baseline trains by itself."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from asset_platform.home import REPO_ROOT
from asset_platform.synthetic import write_batches
from tests.conftest import subprocess_env
from tests.test_graph import EXPECTED_ASSETS

_STARTUP_S = 240
_BASELINE_S = 420


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def _wait_until(condition, timeout_s: float, what: str, process: subprocess.Popen):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make up exited early while waiting for {what}"
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def make_up(platform_home, tmp_path: Path):
    # Smaller history than the default demo, written first so `make up` keeps it.
    write_batches(platform_home.history_landing, dt.date(2026, 1, 1), 10, 600, seed=11)
    port = _free_port()
    log = open(tmp_path / "make-up.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["make", "up", f"PORT={port}"],
        cwd=REPO_ROOT,
        env=subprocess_env(ASSET_PLATFORM_HOME=str(platform_home.root)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the whole tree stops together
    )
    try:
        yield process, port
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def test_make_up_serves_the_graph_and_trains_the_baseline(make_up):
    process, port = make_up
    query = "{ assetNodes { assetKey { path } } }"
    nodes = _wait_until(lambda: _graphql(port, query)["assetNodes"], _STARTUP_S, "the asset graph", process)
    assert {node["assetKey"]["path"][-1] for node in nodes} >= EXPECTED_ASSETS

    runs_query = '{ runsOrError(filter: {pipelineName: "baseline_training"}) { ... on Runs { results { status } } } }'

    def baseline_finished():
        runs = _graphql(port, runs_query)["runsOrError"]["results"]
        return runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED") and runs[0]["status"]

    assert _wait_until(baseline_finished, _BASELINE_S, "the baseline run", process) == "SUCCESS"
    materialized_query = "{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { runId } } }"
    nodes = _graphql(port, materialized_query)["assetNodes"]
    populated = {node["assetKey"]["path"][-1] for node in nodes if node["assetMaterializations"]}
    assert populated >= EXPECTED_ASSETS
