"""`asset-platform up --auth` (`make up AUTH=policy.yaml AUTH_USER=me`): our webserver with roles and the daemon.

`dagster dev` cannot swap its webserver, so `up --auth` starts `dagster-daemon` and
`asset-platform serve --auth` side by side on the platform home. The test launches
a cheap job through the UI's API as the single user and checks that the daemon
runs it, that the run names who launched it, that the attempt is in the audit log,
and that a role the policy does not give is refused.
"""

from __future__ import annotations

import json

import pytest

from asset_platform.access.mutations import LAUNCHED_BY_TAG
from asset_platform.home import PlatformHome
from asset_platform.lifecycle.overview import OVERVIEW_JOB
from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port, graphql, running, tail, wait_for

STARTUP_S = 240
RUN_S = 240
POLICY = """\
grants:
  - role: launcher
    users: [me]
"""
LAUNCH = """mutation { launchRun(executionParams: {selector: {repositoryLocationName: "asset_platform",
    repositoryName: "__repository__", jobName: "%s"}, mode: "default"}) {
    __typename ... on LaunchRunSuccess { run { runId } } } }"""
# Turning a sensor off needs the editor role, which the policy does not give.
STOP_SENSOR = """mutation { stopSensor(id: "%s") { __typename } }"""


@pytest.mark.timeout(STARTUP_S + RUN_S + 60)
def test_up_with_a_policy_serves_roles_and_the_daemon_runs_the_users_launch(platform_home: PlatformHome, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    command = [str(VENV_BIN / "asset-platform"), "up", "--no-baseline", "--auth", str(policy)]
    command += ["--single-user", "me", "--port", str(port)]
    env = subprocess_env(ASSET_PLATFORM_HOME=str(platform_home.root), DAGSTER_HOME=str(platform_home.dagster_home))
    log = tmp_path / "up.log"
    with running(command, log, env, REPO_ROOT) as process:  # up serves the project it is run in
        try:
            wait_for(lambda: graphql(port, "{ assetNodes { id } }")["assetNodes"], STARTUP_S, "the UI", [process])
            launched = graphql(port, LAUNCH % OVERVIEW_JOB)["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]
            query = f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ status tags {{ key value }} }} }} }}'

            def finished():
                run = graphql(port, query)["runOrError"]
                return run if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

            run = wait_for(finished, RUN_S, f"the daemon to run {OVERVIEW_JOB}", [process], interval_s=2)
            assert run["status"] == "SUCCESS", run
            assert {"key": LAUNCHED_BY_TAG, "value": "me"} in run["tags"]

            sensors = graphql(port, "{ sensorsOrError(repositorySelector: {repositoryLocationName: "
                              '"asset_platform", repositoryName: "__repository__"}) '
                              "{ ... on Sensors { results { id name } } } }")["sensorsOrError"]["results"]  # fmt: skip
            refused = _status_of(port, STOP_SENSOR % sensors[0]["id"])
            assert refused == 403
        except AssertionError as error:
            raise AssertionError(f"{error}\n{tail(log)}") from None

    lines = [json.loads(line) for line in (platform_home.root / "audit" / "access.jsonl").read_text().splitlines()]
    mine = [(line["user"], line["field"], line["allowed"]) for line in lines]
    assert ("me", "launchRun", True) in mine and ("me", "stopSensor", False) in mine


def _status_of(port: int, mutation: str) -> int:
    import urllib.error

    try:
        graphql(port, mutation)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def _make_up_command(*variables: str) -> str:
    """The `asset-platform up` line `make up` would run with these variables (demo data taken as made)."""
    import subprocess

    dry_run = subprocess.run(
        ["make", "-n", "-o", "demo-data", "up", *variables], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return next(line for line in dry_run.stdout.splitlines() if "asset-platform up" in line)


def test_make_up_with_a_users_file_passes_it_and_no_single_user():
    # `AS` is GNU make's assembler variable: `make up AS=...` used to pass `--single-user as` always.
    command = _make_up_command("AUTH=policy.yaml", "AUTH_USERS=users.yaml")
    assert "--users-file users.yaml" in command and "--single-user" not in command
    single = _make_up_command("AUTH=policy.yaml", "AUTH_USER=me@example.com")
    assert "--single-user me@example.com" in single and "--users-file" not in single
