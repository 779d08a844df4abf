"""`serve --auth --auth-mode users`: HTTP Basic against the argon2 users file, for a laptop or a small team."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from asset_platform.access.identity import hash_password
from tests.access.server import Server, access_server


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("access-users")
    users = root / "users.yaml"
    lines = ["users:"]
    for name, password in (("admin", "admin pass"), ("viewer", "viewer pass")):
        lines += [f"  {name}:", f"    password_hash: '{hash_password(password)}'"]
    users.write_text("\n".join(lines) + "\n")
    args = ("--auth-mode", "users", "--users-file", str(users))
    with access_server(root, args, ready_headers=_basic("admin", "admin pass")) as running_server:
        yield running_server


def _status(server: Server, headers: dict[str, str], query: str = "{ version }") -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/graphql",
        data=('{"query": "' + query + '"}').encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("WWW-Authenticate") or error.read().decode()


def test_basic_credentials_sign_in_and_anything_else_is_challenged(server: Server) -> None:
    assert _status(server, _basic("viewer", "viewer pass"))[0] == 200
    for headers in ({}, _basic("viewer", "wrong"), _basic("nobody", "viewer pass")):
        status, challenge = _status(server, headers)
        assert status == 401 and challenge.startswith("Basic"), headers
    # Proxy headers mean nothing in this mode.
    assert _status(server, {"X-Forwarded-User": "admin"})[0] == 401


def test_the_signed_in_users_role_applies(server: Server) -> None:
    status, body = _status(server, _basic("viewer", "viewer pass"), "mutation { reloadWorkspace { __typename } }")
    assert status == 403 and "PERMISSION_DENIED" in body, body
