"""`make up` as a newcomer runs it, then the README's walkthrough in order.

The UI serves every example model's graph and each baseline trains by itself; the README's walkthrough
commands, run as written against that `make up`, reach a drift-triggered retrain and a hand promotion.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import shlex
import subprocess

import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.home import PlatformHome
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
from asset_platform.lifecycle.overview import OVERVIEW_AUTOMATION
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
# The walkthrough: three production batches scored and judged by the daemon, a retrain, a promotion by hand.
_WALKTHROUGH_S = 900
_WALKTHROUGH_MODEL = "ecommerce"
_TRAINED = (RAW_DATA, DATASET, FEATURE_PIPELINE, TRAINING_SET, HOLDOUT_SET, EVALUATION, CHAMPION, REFERENCE_PROFILE)


def _examples() -> list[ModelDeclaration]:
    declarations = {declaration.name: declaration for declaration in project_declarations()}
    return [declarations[name] for name in EXAMPLE_MODELS]


def training_assets(declaration: ModelDeclaration) -> set[str]:
    """What the declaration's training job materializes, as user strings (`ecommerce/raw_data`)."""
    names = lifecycle_names(declaration)
    return {names.key(asset).to_user_string() for asset in (*_TRAINED, *names.model_assets)}


@pytest.fixture(scope="module")
def make_up(tmp_path_factory: pytest.TempPathFactory):
    """`make up` on a fresh platform home, shared by this module's tests (one start, one pair of trainings)."""
    folder = tmp_path_factory.mktemp("make-up")
    home = PlatformHome(folder / "platform").ensure()
    # Smaller histories than the demo defaults, written first so `make up` keeps them (generate --if-missing).
    for seed, declaration in enumerate(_examples(), start=11):
        history = home.landing / declaration.name / "history"
        write_batches(history, dt.date(2026, 1, 1), 8, 500, seed=seed, dataset=declaration.name)
    port = free_port()
    # Up to six step processes train side by side (two runs, three models each): one math thread
    # apiece, or OpenMP and torch threads oversubscribe a small machine many times over.
    # Sensors look every 5 s instead of 30 (definitions.py reads it): the walkthrough's waits, not its path, shrink.
    env = subprocess_env(ASSET_PLATFORM_HOME=str(home.root), OMP_NUM_THREADS="1", ASSET_PLATFORM_SENSOR_INTERVAL_S="5")
    env.pop("DAGSTER_HOME", None)  # make derives it from the platform home, as for a newcomer
    # -o: the suite runs in the installed environment; never reinstall it under the other tests' feet.
    command = ["make", "-o", ".venv/.installed", "up", f"PORT={port}"]
    # Its own process group: make, asset-platform up, dagster dev and its children stop together.
    with running(command, folder / "make-up.log", env, REPO_ROOT) as process:
        yield process, port, env


_RUNS_QUERY = "{ runsOrError { ... on Runs { results { jobName status tags { key value } } } } }"


def _wait_for_runs(make_up, jobs: list[str], timeout_s: float, what: str) -> dict[str, str]:
    """The latest status of each job once every one of them has a finished run."""
    process, port, _env = make_up

    def finished() -> dict[str, str] | None:
        runs = graphql(port, _RUNS_QUERY)["runsOrError"]["results"]
        statuses = {run["jobName"]: run["status"] for run in reversed(runs)}  # the latest run of each job
        return statuses if all(statuses.get(job) in _FINISHED for job in jobs) else None

    return wait_for(finished, timeout_s, what, alive=[process], interval_s=2)


def _overview_refreshes(port: int) -> list[dict]:
    """The finished runs the overview's automation sensor launched, newest first."""
    runs = graphql(port, _RUNS_QUERY)["runsOrError"]["results"]
    launched = [run for run in runs if {"key": "dagster/sensor_name", "value": OVERVIEW_AUTOMATION} in run["tags"]]
    return [run for run in launched if run["status"] in _FINISHED]


def _asset_keys(nodes: list[dict]) -> set[str]:
    return {"/".join(node["assetKey"]["path"]) for node in nodes}


@pytest.mark.timeout(_STARTUP_S + _BASELINE_S + 120)
def test_make_up_serves_every_graph_and_trains_each_baseline(make_up):
    process, port, env = make_up
    declarations = _examples()
    expected = set().union(*(training_assets(declaration) for declaration in declarations))
    query = "{ assetNodes { assetKey { path } } }"
    nodes = wait_for(lambda: graphql(port, query)["assetNodes"], _STARTUP_S, "the asset graph", alive=[process])
    assert _asset_keys(nodes) >= expected

    jobs = [lifecycle_names(declaration).training_job for declaration in declarations]
    statuses = _wait_for_runs(make_up, jobs, _BASELINE_S, "both baseline runs")
    assert {job: statuses[job] for job in jobs} == dict.fromkeys(jobs, "SUCCESS")
    runs = graphql(port, _RUNS_QUERY)["runsOrError"]["results"]
    triggers = {run["jobName"]: {t["key"]: t["value"] for t in run["tags"]} for run in runs}
    assert all(triggers[job].get("asset_platform/trigger") == "cli:asset-platform up" for job in jobs)
    materialized_query = "{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { runId } } }"
    nodes = graphql(port, materialized_query)["assetNodes"]
    assert _asset_keys([node for node in nodes if node["assetMaterializations"]]) >= expected
    # The deliveries example declares a small tuning search: its study is there to browse after `make up`.
    [study] = json.loads(_run([".venv/bin/asset-platform", "tune", "show", "--model", "deliveries", "--json"], env))
    assert study["model_asset"] == "lightgbm_model" and study["finished"] == study["budget"] == 6


def _walkthrough() -> list[list[str]]:
    """The README walkthrough's commands, in order, as argument lists."""
    text = (REPO_ROOT / "README.md").read_text()
    found = re.search(r"<!-- walkthrough -->\n```bash\n(.*?)```", text, re.DOTALL)
    assert found, "README.md has no bash block after <!-- walkthrough -->"
    return [shlex.split(line) for line in found.group(1).splitlines() if line.strip()]


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def _versions(env: dict[str, str]) -> list[dict]:
    command = [".venv/bin/asset-platform", "models", "list", "--model", _WALKTHROUGH_MODEL, "--json"]
    return json.loads(_run(command, env))


@pytest.mark.timeout(_STARTUP_S + _BASELINE_S + _WALKTHROUGH_S)
def test_the_readme_walkthrough_reaches_a_retrain_and_a_hand_promotion(make_up):
    process, port, env = make_up
    names = lifecycle_names(next(d for d in _examples() if d.name == _WALKTHROUGH_MODEL))
    _wait_for_runs(make_up, [names.training_job], _STARTUP_S + _BASELINE_S, "the baseline")
    listed, generate, history, promote = _walkthrough()
    assert "list" in listed and "generate" in generate and "history" in history and "promote" in promote
    assert "ecommerce" in _run(listed, env)
    baseline_versions = {row["version"] for row in _versions(env)}
    _run(generate, env)
    # The daemon does the rest: the batch sensor, the scoring and drift runs, then the drift sensor's retrain.
    statuses = _wait_for_runs(make_up, [names.retraining_job], _WALKTHROUGH_S / 2, "the drift-triggered retrain")
    assert statuses[names.retraining_job] == "SUCCESS"
    decisions = _run(history, env)
    assert f"by sensor:{names.drift_retrain_sensor}" in decisions, decisions
    # Dagster's own automation refreshed fleet/overview once the batches changed a model's drift.
    refreshed = wait_for(
        lambda: _overview_refreshes(port), 120, "fleet/overview refreshed by its automation", [process], interval_s=2
    )
    assert refreshed[0]["status"] == "SUCCESS", refreshed
    # A hand promotion of a version the champion is not: the retrained challenger, or the baseline it replaced.
    versions = _versions(env)
    assert {row["version"] for row in versions} > baseline_versions  # the retrain added versions
    chosen = next(row for row in versions if not row["champion"] and row["asset"].endswith("/lgbm_model"))
    _run([chosen["version"][:12] if arg == "VERSION" else arg for arg in promote], env)
    champion = [row for row in _versions(env) if row["champion"]]
    assert [row["version"] for row in champion] == [chosen["version"]]
    last = json.loads(_run([*history, "--json"], env))[-1]
    person = env.get("ASSET_PLATFORM_USER") or getpass.getuser()
    assert last["decision"] == "promoted" and last["changed_by"] == f"cli:{person}"
    assert last["reason"].endswith("checked by hand")
