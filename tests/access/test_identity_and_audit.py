"""Identities (proxy headers with a secret, argon2 users file, single user) and the audit log and its command."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from asset_platform.access.audit import AuditLog, read_audit
from asset_platform.access.identity import (
    Denial,
    Identity,
    IdentityConfigError,
    ProxyHeaders,
    SingleUser,
    UsersFile,
    hash_password,
)
from asset_platform.app.cli import main


def test_proxy_headers_are_believed_only_with_the_shared_secret() -> None:
    proxy = ProxyHeaders("SECRET_ENV", environ={"SECRET_ENV": "s3"})
    headers = {"x-forwarded-user": "ann", "x-forwarded-groups": "growth, ops,"}
    assert proxy.identify({**headers, "x-asset-platform-proxy-secret": "s3"}) == Identity("ann", ("growth", "ops"))
    assert isinstance(proxy.identify(headers), Denial)
    assert isinstance(proxy.identify({**headers, "x-asset-platform-proxy-secret": "guess"}), Denial)
    assert isinstance(proxy.identify({"x-asset-platform-proxy-secret": "s3"}), Denial)
    proxy.check_bind("0.0.0.0")  # with a secret, any address


def test_proxy_headers_without_a_secret_need_a_loopback_bind() -> None:
    proxy = ProxyHeaders("SECRET_ENV", environ={})
    proxy.check_bind("127.0.0.1")
    with pytest.raises(IdentityConfigError, match="SECRET_ENV"):
        proxy.check_bind("0.0.0.0")
    assert proxy.identify({"x-forwarded-user": "ann"}) == Identity("ann", ())


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_users_file_checks_argon2_hashes(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(f"users:\n  ann:\n    password_hash: '{hash_password('correct horse')}'\n    groups: [growth]\n")
    authenticator = UsersFile(users)
    assert authenticator.identify(_basic("ann", "correct horse")) == Identity("ann", ("growth",))
    for headers in (_basic("ann", "wrong"), _basic("bob", "correct horse"), {}, {"authorization": "Basic !!"}):
        denial = authenticator.identify(headers)
        assert isinstance(denial, Denial) and denial.challenge.startswith("Basic")


def test_http_basic_credentials_are_verified_with_argon2_once_not_on_every_request(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(f"users:\n  ann:\n    password_hash: '{hash_password('correct horse')}'\n    groups: [growth]\n")
    authenticator = UsersFile(users)
    for _ in range(5):  # a page load: many requests with the same header
        assert authenticator.identify(_basic("ann", "correct horse")) == Identity("ann", ("growth",))
    assert authenticator.argon2_verifications == 1
    # A remembered success vouches for nothing else: another password is verified, and refused.
    assert isinstance(authenticator.identify(_basic("ann", "correct horsE")), Denial)
    assert isinstance(authenticator.identify(_basic("ann", "correct horsE")), Denial)
    assert authenticator.argon2_verifications == 3


def test_the_verified_credentials_cache_is_bounded(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(f"users:\n  ann:\n    password_hash: '{hash_password('pw')}'\n")
    authenticator = UsersFile(users)
    authenticator.CACHE_SIZE = 2
    first = _basic("ann", "pw")
    authenticator.identify(first)
    authenticator._remember(b"x" * 32, Identity("x"))
    authenticator._remember(b"y" * 32, Identity("y"))
    authenticator.identify(first)  # pushed out by two newer entries: verified again
    assert authenticator.argon2_verifications == 2


def test_a_users_file_with_a_plain_password_is_refused(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  ann:\n    password_hash: hunter2\n")
    with pytest.raises(IdentityConfigError, match="'ann' needs `password_hash:` with an argon2 hash"):
        UsersFile(users)
    with pytest.raises(IdentityConfigError, match="not found"):
        UsersFile(tmp_path / "missing.yaml")


def test_single_user_mode_is_loopback_only() -> None:
    single = SingleUser("me@example.com")
    assert single.identify({}) == Identity("me@example.com")
    single.check_bind("127.0.0.1")
    with pytest.raises(IdentityConfigError, match="bind to 127.0.0.1"):
        single.check_bind("0.0.0.0")


def test_the_audit_command_filters_by_user_and_time(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.write(user="ann", groups=[], field="launchRun", allowed=True, result="LaunchRunSuccess", run_id="r1")
    log.write(user="bob", groups=[], field="wipeAssets", allowed=False, result="PERMISSION_DENIED", run_id=None)
    assert [r["user"] for r in read_audit(path)] == ["ann", "bob"]
    assert [r["field"] for r in read_audit(path, user="bob")] == ["wipeAssets"]
    assert list(read_audit(path, since=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))) == []

    assert main(["audit", "--log", str(path), "--user", "bob", "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["user"], r["allowed"]) for r in printed] == [("bob", False)]
    assert main(["audit", "--log", str(path), "--since", "2000-01-01"]) == 0
    assert "2 record(s)" in capsys.readouterr().out
    assert main(["audit", "--log", str(tmp_path / "none.jsonl")]) == 2
    assert "no audit log" in capsys.readouterr().err


def test_a_damaged_audit_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"user": "ann", "time": "2026-01-01T00:00:00+00:00"}\nnot json\n')
    with pytest.raises(ValueError, match="audit.jsonl:2"):
        list(read_audit(path))


def test_serve_refuses_a_bad_policy_before_starting(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("grants:\n  - role: viewer\n    users: [a]\n  - role: owner\n    users: [b]\n")
    assert main(["serve", "--auth", str(policy)]) == 2
    assert f"{policy}:4: unknown role 'owner'" in capsys.readouterr().err
    policy.write_text("grants:\n  - role: viewer\n    users: [a]\n")
    single = ["--auth-mode", "single-user", "--single-user", "me", "--host", "0.0.0.0"]
    assert main(["serve", "--auth", str(policy), *single]) == 2
    assert "bind to 127.0.0.1" in capsys.readouterr().err
