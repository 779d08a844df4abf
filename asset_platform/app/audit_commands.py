"""`asset-platform serve` (the UI with roles) and `asset-platform audit` (who tried to change what).

Kept apart from app/auth_server.py so `--help` does not import the webserver.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.hash_password:
        import getpass

        from asset_platform.access.identity import hash_password

        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        if not password:
            raise ValueError("empty password: type one (or pipe it on stdin)")
        print(hash_password(password))
        return 0
    if not args.auth:
        # The Dagster UI and the pages under /platform/, with no users or roles (as `dagster dev` serves).
        from asset_platform.app.pages.server import serve_pages

        return serve_pages(args)
    from asset_platform.app.auth_server import serve_with_auth

    return serve_with_auth(args)


def _since(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or time, like 2026-11-30T14:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _cmd_audit(args: argparse.Namespace) -> int:
    from asset_platform.access.audit import AUDIT_FILE, read_audit
    from asset_platform.home import PlatformHome

    path = args.log or PlatformHome.from_env().root / AUDIT_FILE
    if not path.exists():
        raise FileNotFoundError(f"no audit log at {path}: nothing was served with --auth on this home yet")
    records = list(read_audit(path, user=args.user, since=args.since))
    if args.json:
        for record in records:
            print(json.dumps(record))
        return 0
    print(f"{'time':29} {'user':24} {'field':28} {'allowed':7} {'result':28} run")
    for r in records:
        run = r.get("run_id") or ""
        allowed = "yes" if r.get("allowed") else "NO"
        user, field, result = str(r.get("user")), r.get("field", ""), r.get("result", "")
        print(f"{r['time']:29} {user:24} {field:28} {allowed:7} {result:28} {run}")
    print(f"{len(records)} record(s) from {path}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve the Dagster UI and the pages under /platform/; with --auth, behind users, roles and an audit log",
        description="Start the webserver only (run the daemon with `dagster-daemon run`, or use `up`). "
        "Identity: --auth-mode proxy (X-Forwarded-User/-Groups from an authenticating proxy, believed only with "
        "the shared secret, or on a loopback bind), users (HTTP Basic, argon2 hashes) or single-user (loopback).",
    )
    parser.add_argument("--auth", metavar="POLICY", help="the access policy YAML file (roles per user/group/scope)")
    parser.add_argument("--auth-mode", choices=["proxy", "users", "single-user"], default="proxy")
    parser.add_argument("--users-file", help="users YAML with argon2 password hashes (--auth-mode users)")
    parser.add_argument("--single-user", metavar="NAME", help="the one user (--auth-mode single-user, loopback only)")
    parser.add_argument(
        "--proxy-secret-env",
        default="ASSET_PLATFORM_PROXY_SECRET",
        help="environment variable holding the proxy's shared secret (default ASSET_PLATFORM_PROXY_SECRET)",
    )
    parser.add_argument(
        "-w", "--workspace", help="Dagster workspace file (default: the project's, see `asset-platform --help`)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--audit-log", type=Path, help="audit log file (default: <platform home>/audit/access.jsonl)")
    parser.add_argument("--audit-stdout", action="store_true", help="also print each audit line (production)")
    parser.add_argument("--hash-password", action="store_true", help="read a password, print its argon2 hash, exit")
    parser.set_defaults(handler=_cmd_serve)

    audit = commands.add_parser(
        "audit", help="read the access audit log: every mutation attempt through `serve --auth`, allowed or denied"
    )
    audit.add_argument("--user", help="only this user's attempts")
    audit.add_argument("--since", type=_since, help="only attempts at or after this ISO time (UTC if no zone)")
    audit.add_argument("--log", type=Path, help="audit log file (default: <platform home>/audit/access.jsonl)")
    audit.add_argument("--json", action="store_true", help="print the JSON lines instead of a table")
    audit.set_defaults(handler=_cmd_audit)
