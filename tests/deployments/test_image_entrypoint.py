"""The user-code image's command, run outside a container (no Docker engine here).

The Dockerfile's CMD is started as the image would start it, in production mode
with no credential set, on a loopback port: the chart's readiness probe
(`dagster api grpc-health-check`) answers, and the definitions load through the
server as the webserver would load them (a workspace with a `grpc_server` entry).
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port, running, tail, wait_for

DOCKERFILE = REPO_ROOT / "deployments" / "Dockerfile"
CODE_LOCATION_MODULE = "definitions"
STARTUP_S = 180


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def image_command() -> list[str]:
    """The image's CMD, which must use the exec (JSON) form so signals reach dagster."""
    (cmd,) = [args for name, args in _instructions() if name == "CMD"]
    command = json.loads(cmd)
    assert isinstance(command, list), f"CMD is not in exec form: {cmd}"
    return command


def _on_loopback(command: list[str], port: int) -> list[str]:
    """The command with its host and port swapped for a free loopback port, and this venv's dagster."""
    local = list(command)
    local[local.index("-h") + 1] = "127.0.0.1"
    local[local.index("-p") + 1] = str(port)
    local[0] = str(VENV_BIN / local[0])
    return local


def _project_packages() -> list[str]:
    """The top-level packages pyproject.toml installs (`app*` -> `app`)."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]


def test_dockerfile_installs_locked_dependencies_before_the_code_and_runs_as_non_root():
    instructions = _instructions()
    order = [f"{name} {args}" for name, args in instructions]
    code_copies = {f"COPY {package}/ {package}/" for package in _project_packages()}
    first_code_copy = next(i for i, line in enumerate(order) if line in code_copies)
    locked = next(i for i, line in enumerate(order) if "-c constraints/lock.txt" in line)
    overrides = next(i for i, line in enumerate(order) if "--no-deps -r constraints/overrides.txt" in line)
    assert order.index("COPY pyproject.toml ./") < locked < first_code_copy
    assert locked <= overrides < first_code_copy
    users = [args for name, args in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    # The chart and the run launcher set the container's args; an ENTRYPOINT would prefix them.
    assert not [args for name, args in instructions if name == "ENTRYPOINT"]


def test_the_image_holds_every_project_package_and_serves_the_code_location_module():
    order = [f"{name} {args}" for name, args in _instructions()]
    missing = [package for package in _project_packages() if f"COPY {package}/ {package}/" not in order]
    assert not missing, f"the image lacks the project packages {missing}"
    command = image_command()
    assert command[command.index("-m") + 1] == CODE_LOCATION_MODULE


def _health_check(port: int, env: dict) -> bool:
    probe = [str(VENV_BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)]
    return subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode == 0


def _validate_through_server(port: int, env: dict, folder: Path) -> subprocess.CompletedProcess:
    workspace = folder / "workspace.yaml"
    server = {"host": "127.0.0.1", "port": port, "location_name": "asset-platform"}
    workspace.write_text(json.dumps({"load_from": [{"grpc_server": server}]}))
    command = [str(VENV_BIN / "dagster"), "definitions", "validate", "-w", str(workspace)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=STARTUP_S)


def test_image_command_serves_the_code_location(tmp_path: Path):
    command = image_command()
    assert command[:3] == ["dagster", "code-server", "start"], command
    port = free_port()
    (tmp_path / "dagster_home").mkdir()
    # As in the image: production wiring, and none of its variables set, since
    # definitions must load without credentials (they are read when a run starts).
    env = subprocess_env(ASSET_PLATFORM_ENV="production", DAGSTER_HOME=str(tmp_path / "dagster_home"))
    log = tmp_path / "code-server.log"
    with running(_on_loopback(command, port), log, env, REPO_ROOT) as server:
        wait_for(lambda: _health_check(port, env), STARTUP_S, "the gRPC health check", [server], interval_s=2)
        validation = _validate_through_server(port, env, tmp_path)
        assert validation.returncode == 0, f"{validation.stdout}\n{validation.stderr}\n{tail(log)}"
