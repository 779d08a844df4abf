"""`make up` as a newcomer runs it: the UI serves the graph and the baseline trains by itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from asset_platform.home import REPO_ROOT
from asset_platform.synthetic import write_batches
from tests.conftest import subprocess_env
from tests.processes import free_port, graphql, running, wait_for
from tests.test_graph import EXPECTED_ASSETS

_STARTUP_S = 240
_BASELINE_S = 420


@pytest.fixture
def make_up(platform_home, tmp_path: Path):
    # Smaller history than the default demo, written first so `make up` keeps it.
    write_batches(platform_home.history_landing, dt.date(2026, 1, 1), 10, 600, seed=11)
    port = free_port()
    env = subprocess_env(ASSET_PLATFORM_HOME=str(platform_home.root))
    # Its own process group: make, asset-platform up, dagster dev and its children stop together.
    with running(["make", "up", f"PORT={port}"], tmp_path / "make-up.log", env, REPO_ROOT) as process:
        yield process, port


def test_make_up_serves_the_graph_and_trains_the_baseline(make_up):
    process, port = make_up
    query = "{ assetNodes { assetKey { path } } }"
    nodes = wait_for(lambda: graphql(port, query)["assetNodes"], _STARTUP_S, "the asset graph", alive=[process])
    assert {node["assetKey"]["path"][-1] for node in nodes} >= EXPECTED_ASSETS

    runs_query = '{ runsOrError(filter: {pipelineName: "baseline_training"}) { ... on Runs { results { status } } } }'

    def baseline_finished():
        runs = graphql(port, runs_query)["runsOrError"]["results"]
        return runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED") and runs[0]["status"]

    assert wait_for(baseline_finished, _BASELINE_S, "the baseline run", alive=[process], interval_s=2) == "SUCCESS"
    materialized_query = "{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { runId } } }"
    nodes = graphql(port, materialized_query)["assetNodes"]
    populated = {node["assetKey"]["path"][-1] for node in nodes if node["assetMaterializations"]}
    assert populated >= EXPECTED_ASSETS
