"""Runs the CLI launches go through the code location, so the UI can re-execute them.

Issue 11, degraded case: "Runs launched by the demo or the CLI cannot be
re-executed from the UI (`CheckError: Expected non-None value`)". Executed
in-process, a run recorded no code-location origin; `asset-platform models
promote|rollback` (and the demo: tests/ui/test_reexecution.py) now submit their
runs through a private webserver on the workspace (app/launcher.py).
"""

from __future__ import annotations

import getpass
import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import yaml

from asset_platform.access.mutations import LAUNCHED_BY_TAG
from asset_platform.app.launcher import LaunchError, LocationLauncher, launcher_instance_config
from asset_platform.home import PlatformHome
from asset_platform.registry.trigger import TRIGGER_TAG
from tests.conftest import VENV_BIN, subprocess_env
from tests.hardening.helpers import copy_home, open_instance
from tests.ui.queries import runs_with_tag
from tests.ui.webserver import start_webserver, stop_webserver

REEXECUTE = """
mutation Reexecute($params: ReexecutionParams) {
  launchPipelineReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
  }
}"""


def test_the_launchers_instance_is_the_homes_with_its_storage_spelled_out_and_no_queue(tmp_path: Path) -> None:
    from asset_platform.app.serve import prepare_dagster_home

    dagster_home = prepare_dagster_home(PlatformHome(tmp_path / "home").ensure())
    config = launcher_instance_config(dagster_home)
    assert config["storage"] == {"sqlite": {"base_dir": str(dagster_home)}}
    assert config["local_artifact_storage"]["config"]["base_dir"] == str(dagster_home)
    assert config["compute_logs"]["config"]["base_dir"] == str(dagster_home / "storage")
    assert config["run_coordinator"]["class"] == "DefaultRunCoordinator"
    assert config["run_retries"] == {"enabled": True, "max_retries": 1}  # the rest of the home's settings stay
    # A home on PostgreSQL keeps its storage exactly (the password stays an environment reference).
    postgres = {"postgres": {"postgres_db": {"hostname": "db", "password": {"env": "DAGSTER_PG_PASSWORD"}}}}
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump({"storage": postgres}))
    assert launcher_instance_config(dagster_home)["storage"] == postgres


@pytest.mark.parametrize("text", ["storage: [unclosed", "- a list, not settings"])
def test_an_unreadable_instance_config_is_a_clear_error_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "dagster.yaml").write_text(text)
    with pytest.raises(LaunchError, match=re.escape(str(tmp_path / "dagster.yaml"))):
        launcher_instance_config(tmp_path)


def test_a_code_location_that_cannot_load_is_a_clear_error_naming_why(tmp_path: Path) -> None:
    home = PlatformHome(tmp_path / "home").ensure()
    env = subprocess_env(ASSET_PLATFORM_HOME=str(home.root), ASSET_PLATFORM_ENV="staging")
    expected = r"failed to load.*ASSET_PLATFORM_ENV='staging' is not an environment"
    with pytest.raises(LaunchError, match=expected), LocationLauncher(home.dagster_home, env):
        pass


def test_the_launchers_webserver_refuses_every_request_without_its_secret(
    trained_home: PlatformHome, tmp_path: Path
) -> None:
    """Any local process can reach a loopback port; only the launcher holds the secret its server checks."""
    home = copy_home(trained_home, tmp_path / "home")  # refusals are audited in the home
    env = subprocess_env(ASSET_PLATFORM_HOME=str(home.root))
    mutation = json.dumps({"query": "mutation { setNuxSeen }"}).encode()
    with LocationLauncher(home.dagster_home, env) as launcher:
        for headers in ({}, {"X-Forwarded-User": launcher.user}, {"X-Asset-Platform-Proxy-Secret": "guess"}):
            request = urllib.request.Request(
                f"{launcher.url}/graphql", data=mutation, headers={"Content-Type": "application/json", **headers}
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code in (401, 403), headers
            assert "proxy" in refused.value.read().decode(), headers


@pytest.fixture(scope="module")
def promotion(trained_home: PlatformHome, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`asset-platform models promote` of the champion's model version (a new pointer record, same model)."""
    home = copy_home(trained_home, tmp_path_factory.mktemp("launch") / "home")
    env = subprocess_env(ASSET_PLATFORM_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home))

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [str(VENV_BIN / "asset-platform"), *args, "--model", "ecommerce"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    [version] = [row["version"] for row in json.loads(cli("models", "list", "--json").stdout) if row["champion"]]
    result = cli("models", "promote", version[:12])
    return {"home": home, "version": version, "result": result}


def test_a_promotion_the_cli_launches_runs_in_the_code_location(promotion: dict) -> None:
    result, home = promotion["result"], promotion["home"]
    assert result.returncode == 0, result.stderr
    match = re.search(r"promoted by hand to ecommerce/lgbm_model \w+ \(run ([0-9a-f-]{36})\)", result.stdout)
    assert match, result.stdout
    with open_instance(home) as instance:
        run = instance.get_run_by_id(match.group(1))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.remote_job_origin is not None  # what the UI's re-execution needs
    assert run.remote_job_origin.location_name == "asset_platform"
    assert run.tags[LAUNCHED_BY_TAG] == f"cli:{getpass.getuser()}"  # the launcher's one user, as audited


def test_a_promotion_shows_its_progress_on_stderr_while_it_waits(promotion: dict) -> None:
    stderr = promotion["result"].stderr
    steps = ("runs as ecommerce_set_champion (about", "loading the code location", "code location loaded (")
    steps += ("of ecommerce_set_champion launched; waiting for it to end", "ended: SUCCESS (")
    positions = [stderr.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), stderr


def test_the_ui_re_executes_a_run_the_cli_launched(promotion: dict, tmp_path: Path) -> None:
    home = promotion["home"]
    server = start_webserver(home.root, tmp_path / "webserver.log")
    try:
        [parent] = runs_with_tag(server, TRIGGER_TAG, "cli")
        launched = server.graphql(REEXECUTE, {"params": {"parentRunId": parent["runId"], "strategy": "ALL_STEPS"}})
        answer = launched["launchPipelineReexecution"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        [child] = runs_with_tag(server, "dagster/parent_run_id", parent["runId"])
    finally:
        stop_webserver(server)
    assert child["runId"] == answer["run"]["runId"] and child["jobName"] == parent["jobName"]
    assert child["status"] == "QUEUED"  # for the daemon, which `asset-platform up` runs beside the UI
