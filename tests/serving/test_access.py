"""`serve-model --auth`: the UI's access policy, identities and audit log in front of the V2 endpoint.

A second real server on loopback, behind the policy below with proxy identities and the proxy's shared
secret: a caller without an identity gets 401, one without the launcher role on the model 403 naming it,
both written to the platform home's audit log as the UI's refusals are; a launcher of the model's owner
is answered and not audited; the probes stay open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from asset_platform.access.audit import AUDIT_FILE, read_audit
from asset_platform.access.identity import GROUPS_HEADER, SECRET_HEADER, USER_HEADER
from tests.conftest import subprocess_env
from tests.declaration.loans import generate_loans
from tests.processes import free_port
from tests.serving.client import get, post, v2_inputs
from tests.serving.conftest import MODEL, Server, Trained, serve_model_command

SECRET = "proxy-secret-for-the-test"
POLICY = """\
grants:
  - role: launcher
    groups: [credit-risk]
    scope: owner:team:credit-risk
  - role: viewer
    users: [vic@example.com]
  - role: launcher
    users: [gus@example.com]
    scope: owner:team:growth
"""
ROWS = generate_loans(3, dt.date(2026, 7, 4), seed=5).drop(columns=["defaulted"])


def caller(user: str | None, groups: str = "", secret: str = SECRET) -> dict[str, str]:
    """The headers the authenticating proxy sends for `user` (none where `user` is None)."""
    headers = {SECRET_HEADER: secret} if secret else {}
    if user is not None:
        headers[USER_HEADER] = user
    if groups:
        headers[GROUPS_HEADER] = groups
    return headers


@pytest.fixture(scope="module")
def guarded(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serving-access")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    options = ["--port", str(port), "--metrics-port", str(free_port()), "--no-capture", "--auth", str(policy)]
    env = subprocess_env(
        ASSET_PLATFORM_HOME=str(trained.home.root),
        DAGSTER_HOME=str(trained.home.dagster_home),
        ASSET_PLATFORM_PROXY_SECRET=SECRET,
    )
    server = Server(f"http://127.0.0.1:{port}", "", serve_model_command(*options), env, folder / "serve-model.log")
    server.start()  # ready: the readiness probe needs no identity
    try:
        yield server
    finally:
        server.stop()


def audit_lines(trained: Trained) -> list[dict]:
    return list(read_audit(trained.home.root / AUDIT_FILE))


def test_a_caller_without_identity_or_role_is_refused_and_audited(trained: Trained, guarded: Server) -> None:
    request = {"inputs": v2_inputs(ROWS)}
    before = len(audit_lines(trained))
    status, body = post(guarded.url(), request, headers=caller("ann@example.com", secret="guess"))
    assert status == 401 and "proxy secret" in body["error"]
    status, body = post(guarded.url(), request, headers=caller(None))
    assert status == 401 and "X-Forwarded-User" in body["error"]
    for user in ("nobody@example.com", "vic@example.com", "gus@example.com"):  # no grant, viewer, another team
        status, body = post(guarded.url(), request, headers=caller(user))
        assert status == 403, body
        assert f"user {user!r} may not score model {MODEL!r}" in body["error"]
        assert "launcher role" in body["error"] and "owner 'team:credit-risk'" in body["error"]
    refused = audit_lines(trained)[before:]
    assert [line["user"] for line in refused] == [
        None,
        None,
        "nobody@example.com",
        "vic@example.com",
        "gus@example.com",
    ]
    for line in refused:
        assert line["allowed"] is False and line["result"] == "PERMISSION_DENIED"
        assert line["operation"] == f"POST /v2/models/{MODEL}/infer" and line["reason"]
    assert "launcher role" in refused[-1]["reason"]


def test_the_models_launcher_is_answered_and_not_audited(trained: Trained, guarded: Server) -> None:
    before = len(audit_lines(trained))
    status, body = post(guarded.url(), {"inputs": v2_inputs(ROWS)}, headers=caller("cat@example.com", "credit-risk"))
    assert status == 200, body
    assert body["model_version"] == trained.lineup().champion().version and len(body["outputs"][0]["data"]) == 3
    # A bad request from an allowed caller is the contract's 4xx, as without a policy.
    status, body = post(
        guarded.url(), {"inputs": v2_inputs(ROWS.drop(columns=["income"]))}, headers=caller("cat", "credit-risk")
    )
    assert status == 400 and "'income'" in body["error"]
    assert len(audit_lines(trained)) == before


def test_a_viewer_reads_the_models_metadata_and_the_probes_need_no_identity(guarded: Server) -> None:
    assert get(f"{guarded.base}/v2/models/{MODEL}", headers=caller("vic@example.com"))[0] == 200
    status, body = get(f"{guarded.base}/v2/models/{MODEL}", headers=caller("nobody@example.com"))
    assert status == 403 and "viewer role" in body["error"]
    for probe in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}/ready"):
        assert get(f"{guarded.base}{probe}")[0] == 200, probe


def test_serve_model_auth_refuses_a_bad_policy_or_identity_mode_at_start(tmp_path: Path, capsys) -> None:
    from asset_platform.app.cli import main

    policy = tmp_path / "policy.yaml"
    policy.write_text("grants:\n  - role: boss\n    users: [ann]\n")
    serve = ["serve-model", "--model", MODEL, "--auth", str(policy)]
    assert main(serve) == 2
    assert f"{policy}:2: unknown role 'boss'" in capsys.readouterr().err
    policy.write_text(POLICY)
    assert main([*serve, "--auth-mode", "single-user", "--single-user", "me", "--host", "0.0.0.0"]) == 2
    assert "--single-user on 0.0.0.0" in capsys.readouterr().err
    assert main([*serve, "--grpc-port", "9000"]) == 2
    assert "gRPC is not served" in capsys.readouterr().err
