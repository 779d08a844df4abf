"""deployments/postgres/dagster.yaml on a real PostgreSQL, with a real daemon and webserver.

One test walks the life of a deployment: a run submitted through the GraphQL
API completes and its events are in PostgreSQL, the sensor daemon records
ticks there, and after PostgreSQL restarts under the running daemon, sensors
tick again and the next run succeeds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from asset_platform.home import PlatformHome
from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port, graphql, running, tail, wait_for

INSTANCE_CONFIG = REPO_ROOT / "deployments" / "postgres" / "dagster.yaml"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
JOB, LOCATION = "ecommerce_training", "asset_platform"  # the example model's training; demo_history feeds it
PROBE_LOCATION = "deployment_probe"  # tests/deployments/sensor_location.py: a sensor that always ticks
PROBE_JOB = "probe_asset_job"  # ...and one small asset: the run path again in seconds, not a second training
STARTUP_S = 180  # the webserver loads two code locations, one importing torch
RUN_S = 240
PG_START_S = 60


def _connect(dbname: str = "postgres"):
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, connect_timeout=5)
    connection.autocommit = True
    return connection


def _query(dbname: str, sql: str, params: tuple = ()) -> list[tuple]:
    connection = _connect(dbname)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def _cluster_command(action: str) -> list[str]:
    versions = sorted(path.name for path in Path("/etc/postgresql").glob("*"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", action]


def _wait_for_postgres(what: str) -> None:
    wait_for(lambda: _query("postgres", "SELECT 1"), PG_START_S, what)


@pytest.fixture
def postgres_server() -> None:
    """The machine's PostgreSQL on 127.0.0.1:5432 (trust auth), started if it is down."""
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        pytest.skip("needs Debian's PostgreSQL (pg_ctlcluster), to start it and to restart it mid-test")
    try:
        _query("postgres", "SELECT 1")
    except psycopg2.OperationalError:
        subprocess.run(_cluster_command("start"), check=False, capture_output=True, timeout=PG_START_S)
        _wait_for_postgres("PostgreSQL to accept connections after `pg_ctlcluster start`")


@pytest.fixture
def database(postgres_server: None) -> Iterator[str]:
    """A database of this test's own, dropped at the end with any connection left to it."""
    name = f"asset_platform_test_{uuid.uuid4().hex[:12]}"
    _query("postgres", f'CREATE DATABASE "{name}"')
    yield name
    _wait_for_postgres("PostgreSQL to come back, to drop the test database")
    _query("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def instance_env(platform_home: PlatformHome, demo_history: list[Path], database: str, tmp_path: Path) -> dict:
    """Environment of a deployment on the PostgreSQL instance config, copied unchanged."""
    shutil.copyfile(INSTANCE_CONFIG, platform_home.dagster_home / "dagster.yaml")
    return subprocess_env(
        DAGSTER_HOME=str(platform_home.dagster_home),
        ASSET_PLATFORM_HOME=str(platform_home.root),
        ASSET_PLATFORM_ENV="local",
        DAGSTER_PG_HOST=PG_HOST,
        DAGSTER_PG_PORT=str(PG_PORT),
        DAGSTER_PG_USER=PG_USER,
        DAGSTER_PG_PASSWORD="",  # trust authentication on the loopback
        DAGSTER_PG_DB=database,
    )


def _workspace_file(tmp_path: Path) -> Path:
    locations = [
        {"python_module": {"module_name": "definitions", "location_name": LOCATION}},
        {"python_module": {"module_name": "tests.deployments.sensor_location", "location_name": PROBE_LOCATION}},
    ]
    path = tmp_path / "workspace.yaml"
    path.write_text(json.dumps({"load_from": locations}))  # JSON is YAML
    return path


def _locations_loaded(port: int) -> bool:
    data = graphql(port, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
    entries = data["workspaceOrError"]["locationEntries"]
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def _storages_answer(port: int) -> bool:
    """Whether the webserver reads its run and event log storage without error.

    The webserver keeps one pooled connection per storage and does not ping it
    before use, so after PostgreSQL restarts each storage's first request fails
    ("server closed the connection") and the pool reconnects for the next one.
    """
    runs = "runsOrError(limit: 1) { __typename ... on Runs { results { runId } } }"
    assets = "assetsOrError(limit: 1) { __typename ... on AssetConnection { nodes { id } } }"
    data = graphql(port, f"{{ {runs} {assets} }}")  # an HTTP error (500) counts as "not yet"
    return data["runsOrError"]["__typename"] == "Runs" and data["assetsOrError"]["__typename"] == "AssetConnection"


def _run_to_success(
    client, processes: list[subprocess.Popen], logs: list[Path], job: str = JOB, location: str = LOCATION
) -> str:
    from dagster import DagsterRunStatus

    # The local environment runs the steps in the run worker's process: the deployment path under
    # test (queue, daemon, launcher, run worker, event log) without a Python start-up per step.
    run_id = client.submit_job_execution(job, repository_location_name=location)
    finished = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}

    def final_status() -> DagsterRunStatus | None:
        status = client.get_run_status(run_id)
        return status if status in finished else None

    status = wait_for(final_status, RUN_S, f"run {run_id} of {job} to finish", alive=processes, interval_s=2)
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {status}:\n" + "\n".join(map(tail, logs))
    return run_id


def _events_in_postgres(database: str, run_id: str) -> list[tuple[str, str | None]]:
    """(event type, asset key) of each Dagster event of the run, read from PostgreSQL itself."""
    from dagster import DagsterEventType

    sql = "SELECT dagster_event_type, asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type IS NOT NULL"
    rows = _query(database, sql, (run_id,))
    types = {event_type for event_type, _ in rows}
    # Stored under the enum's values (RUN_SUCCESS is stored as PIPELINE_SUCCESS).
    expected = {event.value for event in (DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS)}
    assert expected <= types, f"run {run_id}: events in PostgreSQL {sorted(types)} lack {sorted(expected - types)}"
    return rows


def _assert_all_planned_materialized(events: list[tuple[str, str | None]], run_id: str) -> None:
    planned = {key for event_type, key in events if event_type == "ASSET_MATERIALIZATION_PLANNED"}
    done = {key for event_type, key in events if event_type == "ASSET_MATERIALIZATION"}
    assert planned, f"run {run_id} planned no materialization"
    assert done == planned, f"run {run_id}: planned {sorted(planned)}, materialized {sorted(done)}"


def _latest_sensor_tick(database: str) -> int:
    rows = _query(database, "SELECT max(id) FROM job_ticks WHERE type = 'SENSOR'")
    return rows[0][0] or 0


def _restart_postgres() -> None:
    result = subprocess.run(_cluster_command("restart"), capture_output=True, text=True, timeout=PG_START_S)
    assert result.returncode == 0, f"pg_ctlcluster restart failed: {result.stderr}"
    _wait_for_postgres("PostgreSQL to accept connections after the restart")


def test_daemon_and_webserver_on_postgres_survive_a_restart(instance_env: dict, database: str, tmp_path: Path):
    from dagster_graphql import DagsterGraphQLClient

    workspace, port = _workspace_file(tmp_path), free_port()
    daemon_log, web_log = tmp_path / "daemon.log", tmp_path / "webserver.log"
    daemon_cmd = [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)]
    web_cmd = [str(VENV_BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    with (
        running(daemon_cmd, daemon_log, instance_env, REPO_ROOT) as daemon,
        running(web_cmd, web_log, instance_env, REPO_ROOT) as webserver,
    ):
        processes, logs = [daemon, webserver], [daemon_log, web_log]
        wait_for(lambda: _locations_loaded(port), STARTUP_S, "the webserver to load the code locations", processes)
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)

        baseline = _run_to_success(client, processes, logs)
        _assert_all_planned_materialized(_events_in_postgres(database, baseline), baseline)
        before = wait_for(lambda: _latest_sensor_tick(database), STARTUP_S, "a sensor tick in PostgreSQL", processes)

        _restart_postgres()
        wait_for(
            lambda: _latest_sensor_tick(database) > before, STARTUP_S, "a sensor tick after the restart", processes
        )
        wait_for(lambda: _storages_answer(port), STARTUP_S, "the webserver to reconnect", processes)
        # The whole run path once more, on connections made after the restart:
        # queue (webserver) -> dequeue and launch (daemon) -> run worker -> event log.
        after = _run_to_success(client, processes, logs, PROBE_JOB, PROBE_LOCATION)
        _assert_all_planned_materialized(_events_in_postgres(database, after), after)
        assert daemon.poll() is None, f"the daemon exited after the restart:\n{tail(daemon_log)}"
