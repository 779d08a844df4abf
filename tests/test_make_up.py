"""`make up` as a newcomer runs it: the UI serves every example model's graph and each baseline trains by itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import (
    CHAMPION,
    DATASET,
    EVALUATION,
    FEATURE_PIPELINE,
    HOLDOUT_SET,
    RAW_DATA,
    REFERENCE_PROFILE,
    TRAINING_SET,
)
from asset_platform.synthetic import write_batches
from definitions import project_declarations
from tests import REPO_ROOT
from tests.conftest import subprocess_env
from tests.processes import free_port, graphql, running, wait_for

EXAMPLE_MODELS = ("ecommerce", "deliveries")
_STARTUP_S = 240
# Both models train at once (the local instance runs two runs concurrently), each step in its own process.
_BASELINE_S = 600
_FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
_TRAINED = (RAW_DATA, DATASET, FEATURE_PIPELINE, TRAINING_SET, HOLDOUT_SET, EVALUATION, CHAMPION, REFERENCE_PROFILE)


def _examples() -> list[ModelDeclaration]:
    declarations = {declaration.name: declaration for declaration in project_declarations()}
    return [declarations[name] for name in EXAMPLE_MODELS]


def training_assets(declaration: ModelDeclaration) -> set[str]:
    """What the declaration's training job materializes, as user strings (`ecommerce/raw_data`)."""
    names = lifecycle_names(declaration)
    return {names.key(asset).to_user_string() for asset in (*_TRAINED, *names.model_assets)}


@pytest.fixture
def make_up(platform_home, tmp_path: Path):
    # Smaller histories than the demo defaults, written first so `make up` keeps them (generate --if-missing).
    for seed, declaration in enumerate(_examples(), start=11):
        history = platform_home.landing / declaration.name / "history"
        write_batches(history, dt.date(2026, 1, 1), 8, 500, seed=seed, dataset=declaration.name)
    port = free_port()
    # Up to six step processes train side by side (two runs, three models each): one math thread
    # apiece, or OpenMP and torch threads oversubscribe a small machine many times over.
    env = subprocess_env(ASSET_PLATFORM_HOME=str(platform_home.root), OMP_NUM_THREADS="1")
    # -o: the suite runs in the installed environment; never reinstall it under the other tests' feet.
    command = ["make", "-o", ".venv/.installed", "up", f"PORT={port}"]
    # Its own process group: make, asset-platform up, dagster dev and its children stop together.
    with running(command, tmp_path / "make-up.log", env, REPO_ROOT) as process:
        yield process, port


def _asset_keys(nodes: list[dict]) -> set[str]:
    return {"/".join(node["assetKey"]["path"]) for node in nodes}


@pytest.mark.timeout(_STARTUP_S + _BASELINE_S + 120)
def test_make_up_serves_every_graph_and_trains_each_baseline(make_up):
    process, port = make_up
    declarations = _examples()
    expected = set().union(*(training_assets(declaration) for declaration in declarations))
    query = "{ assetNodes { assetKey { path } } }"
    nodes = wait_for(lambda: graphql(port, query)["assetNodes"], _STARTUP_S, "the asset graph", alive=[process])
    assert _asset_keys(nodes) >= expected

    jobs = [lifecycle_names(declaration).training_job for declaration in declarations]
    runs_query = "{ runsOrError { ... on Runs { results { jobName status tags { key value } } } } }"

    def baselines_finished() -> dict[str, str] | None:
        runs = graphql(port, runs_query)["runsOrError"]["results"]
        statuses = {run["jobName"]: run["status"] for run in reversed(runs)}  # the latest run of each job
        done = all(statuses.get(job) in _FINISHED for job in jobs)
        return statuses if done else None

    statuses = wait_for(baselines_finished, _BASELINE_S, "both baseline runs", alive=[process], interval_s=2)
    assert {job: statuses[job] for job in jobs} == dict.fromkeys(jobs, "SUCCESS")
    runs = graphql(port, runs_query)["runsOrError"]["results"]
    triggers = {run["jobName"]: {t["key"]: t["value"] for t in run["tags"]} for run in runs}
    assert all(triggers[job].get("asset_platform/trigger") == "cli:asset-platform up" for job in jobs)
    materialized_query = "{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { runId } } }"
    nodes = graphql(port, materialized_query)["assetNodes"]
    assert _asset_keys([node for node in nodes if node["assetMaterializations"]]) >= expected
