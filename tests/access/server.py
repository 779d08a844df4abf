"""A real `asset-platform serve --auth` on 127.0.0.1 over the two tiny test code locations, and a client."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port, running, tail, wait_for

WORKSPACE = Path(__file__).parent / "location" / "workspace.yaml"
SECRET = "test-proxy-secret"
_SECRET_HEADER, _USER_HEADER = "X-Asset-Platform-Proxy-Secret", "X-Forwarded-User"
STARTUP_TIMEOUT_S = 180
# Every run only queues (no daemon runs them): launching costs a database row, not a process.
INSTANCE_YAML = """\
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
telemetry:
  enabled: false
"""
POLICY_YAML = """\
grants:
  - role: viewer
    users: [viewer]
  - role: launcher
    users: [launcher]
  - role: editor
    users: [editor]
  - role: admin
    users: [admin]
  - role: launcher
    groups: [growth]
    scope: owner:team:growth
  - role: editor
    users: [growth-editor]
    scope: owner:team:growth
  - role: launcher
    users: [other-launcher]
    scope: location:other
"""


@dataclass
class Response:
    status: int
    body: dict[str, Any]


@dataclass
class Server:
    port: int
    home: Path
    log: Path

    @property
    def audit_path(self) -> Path:
        return self.home / "audit" / "access.jsonl"

    def request(
        self,
        user: str | None,
        query: str,
        transport: str = "json",
        groups: tuple[str, ...] = (),
        variables: dict | None = None,
        secret: str | None = SECRET,
    ) -> Response:
        """Send `query` as `user` through the proxy headers; transport: json, get or text."""
        headers = {}
        if secret is not None:
            headers["X-Asset-Platform-Proxy-Secret"] = secret
        if user is not None:
            headers["X-Forwarded-User"] = user
        if groups:
            headers["X-Forwarded-Groups"] = ",".join(groups)
        url = f"http://127.0.0.1:{self.port}/graphql"
        data = None
        if transport == "json":
            headers["Content-Type"] = "application/json"
            data = json.dumps({"query": query, "variables": variables or {}}).encode()
        elif transport == "get":
            url += "?" + urllib.parse.urlencode({"query": query})
        elif transport == "text":
            # Dagster reads a non-JSON POST's query from the URL: what a cross-site form would send.
            headers["Content-Type"] = "text/plain"
            url += "?" + urllib.parse.urlencode({"query": query})
            data = query.encode()
        else:
            raise ValueError(f"unknown transport {transport!r}")
        request = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Response(response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                body = json.loads(text)
            except ValueError:
                body = {"text": text.decode(errors="replace")}
            return Response(error.code, body)

    def data(self, user: str, query: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(user, query, **kwargs)
        assert response.status == 200 and not response.body.get("errors"), f"{query}: {response}\n{tail(self.log)}"
        return response.body["data"]


def _locations_loaded(server: Server, headers: dict[str, str]) -> bool:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
    return {e["name"] for e in entries if e["loadStatus"] == "LOADED"} == {"teams", "other"}


@contextmanager
def access_server(
    root: Path, auth_args: tuple[str, ...] = (), ready_headers: dict[str, str] | None = None
) -> Iterator[Server]:
    """`serve --auth` with the test policy; by default in proxy mode, `auth_args` choose another."""
    home = root / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(INSTANCE_YAML)
    policy = root / "policy.yaml"
    policy.write_text(POLICY_YAML)
    port = free_port()
    command = [str(VENV_BIN / "asset-platform"), "serve", "--auth", str(policy), "-w", str(WORKSPACE)]
    command += ["--port", str(port), *auth_args]
    env = subprocess_env(
        DAGSTER_HOME=str(home / "dagster"), ASSET_PLATFORM_HOME=str(home), ASSET_PLATFORM_PROXY_SECRET=SECRET
    )
    server = Server(port, home, root / "serve.log")
    with running(command, server.log, env, REPO_ROOT) as process:
        try:
            headers = ready_headers if ready_headers is not None else {_SECRET_HEADER: SECRET, _USER_HEADER: "admin"}
            loaded = lambda: _locations_loaded(server, headers)  # noqa: E731
            wait_for(loaded, STARTUP_TIMEOUT_S, "both test code locations", [process])
        except AssertionError as error:
            raise AssertionError(f"{error}\n{tail(server.log)}") from None
        yield server
