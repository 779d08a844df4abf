"""`asset-platform serve --auth ... --auth-mode single-user`, as README's laptop line runs it: no DAGSTER_HOME."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from tests import REPO_ROOT
from tests.access.server import WORKSPACE
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port, running, tail, wait_for

POLICY = "grants:\n  - role: viewer\n    users: [me@example.com]\n"


def test_serve_with_auth_prepares_the_homes_instance_when_dagster_home_is_not_exported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    command = [str(VENV_BIN / "asset-platform"), "serve", "--auth", str(policy), "-w", str(WORKSPACE)]
    command += ["--auth-mode", "single-user", "--single-user", "me@example.com", "--port", str(port)]
    env = subprocess_env(ASSET_PLATFORM_HOME=str(home))
    env.pop("DAGSTER_HOME", None)
    log = tmp_path / "serve.log"

    def page() -> bytes | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/overview", timeout=10) as response:
            return response.read() if response.status == 200 else None

    with running(command, log, env, REPO_ROOT) as process:
        try:
            body = wait_for(page, 120, "the UI's first page", [process])
        except AssertionError as error:
            raise AssertionError(f"{error}\n{tail(log)}") from None
    assert b"<html" in body.lower()
    # The instance is the platform home's, as every other command resolves it.
    assert (home / "dagster" / "dagster.yaml").is_file()
    assert "DagsterHomeNotSetError" not in log.read_text()
