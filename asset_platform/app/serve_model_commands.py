"""`asset-platform serve-model`: a declared model's champion over the Open Inference Protocol (V2).

MLServer answers `POST /v2/models/<model>/infer`; the served version follows the champion
pointer (promotions, rollbacks) within `--poll-s` seconds plus the new version's load. Each
answered request's rows are captured and land as the model's production batches (by
`--batch-rows` or `--batch-minutes`); Prometheus scrapes `/metrics` on `--metrics-port`. Where the
declaration's `serving.canary_fraction` is set, the challenger in shadow answers that share of requests
until its failures or latency pass the declared margins (asset_platform/serving/canary.py). With `--auth`,
the UI's access policy stands in front of the endpoint (asset_platform/serving/access.py).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asset_platform.access.policy import Policy
    from asset_platform.serving.access import EndpointAccess
    from asset_platform.serving.canary import CanaryRegistry
    from asset_platform.serving.capture import TrafficCapture


def register(commands: argparse._SubParsersAction) -> None:
    """Add `serve-model` to the `asset-platform` parser."""
    help_text = "serve a model's champion over the V2 inference protocol (MLServer); it follows promotions"
    description = (
        f"{help_text}. Each request sends one input per contract column (the label excepted) and gets the "
        "output 'scores' (a multiclass model: each class's probability per row, and 'predicted_class'), and the "
        "answering version in the response's parameters. Ctrl-C stops it."
    )
    serve = commands.add_parser("serve-model", help=help_text, description=description)
    serve.add_argument("--model", required=True, metavar="MODEL", help="declared model name, e.g. ecommerce")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="HTTP port of the V2 REST endpoint (default: 8080)")
    serve.add_argument(
        "--grpc-port", type=int, default=0, help="port of MLServer's V2 gRPC endpoint (default: 0, a free port)"
    )
    serve.add_argument(
        "--poll-s",
        type=float,
        default=5.0,
        metavar="S",
        help="read the champion pointer every S seconds; a promotion is served within S plus a load (default: 5)",
    )
    serve.add_argument("--max-rows", type=int, default=10_000, help="rows one request may carry (default: 10000)")
    serve.add_argument(
        "--max-body-mb", type=float, default=16.0, metavar="MB", help="largest request body (default: 16)"
    )
    serve.add_argument(
        "--metrics-port", type=int, default=8082, help="port of the Prometheus /metrics endpoint (default: 8082)"
    )
    capture = serve.add_argument_group(
        "capture", "each answered request's rows, score, version and latency become production batches of the model"
    )
    capture.add_argument(
        "--batch-rows",
        type=int,
        default=10_000,
        metavar="N",
        help="land a batch once N rows are captured (default: 10000)",
    )
    capture.add_argument(
        "--batch-minutes",
        type=float,
        default=60.0,
        metavar="M",
        help="land a batch once its oldest row is M minutes old (default: 60)",
    )
    capture.add_argument(
        "--capture-dir",
        metavar="DIR",
        help="where rows wait to become a batch, one server each, on the production folder's file system "
        "(default: served/ in the model's landing folder)",
    )
    capture.add_argument("--no-capture", action="store_true", help="capture nothing: served traffic is not data")
    _add_access_arguments(serve)
    serve.set_defaults(handler=_cmd_serve_model)


def _add_access_arguments(serve: argparse.ArgumentParser) -> None:
    """The options of `asset-platform serve --auth`, with the same names and meaning."""
    from pathlib import Path

    access = serve.add_argument_group(
        "access",
        "the UI's access policy in front of the endpoint: scoring needs the launcher role on the model (globally, "
        "on its code location or for one of its owners), reading its metadata the viewer role; health and "
        "readiness probes stay open; refusals are written to the UI's audit log. Only REST is served then.",
    )
    access.add_argument("--auth", metavar="POLICY", help="the access policy YAML file (as `serve --auth`)")
    access.add_argument("--auth-mode", choices=["proxy", "users", "single-user"], default="proxy")
    access.add_argument("--users-file", help="users YAML with argon2 password hashes (--auth-mode users)")
    access.add_argument("--single-user", metavar="NAME", help="the one user (--auth-mode single-user, loopback only)")
    access.add_argument(
        "--proxy-secret-env",
        default="ASSET_PLATFORM_PROXY_SECRET",
        help="environment variable holding the proxy's shared secret (default ASSET_PLATFORM_PROXY_SECRET)",
    )
    access.add_argument("--audit-log", type=Path, help="audit log file (default: <platform home>/audit/access.jsonl)")
    access.add_argument("--audit-stdout", action="store_true", help="also print each audit line (production)")


def _cmd_serve_model(args: argparse.Namespace) -> int:
    from asset_platform.app.cli import CliError
    from asset_platform.app.location import CodeLocation
    from asset_platform.serving.server import ServingOptions, serve

    options = ServingOptions(
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        poll_s=args.poll_s,
        max_rows=args.max_rows,
        max_body_bytes=int(args.max_body_mb * 2**20),
    )
    guard = _policy_and_identity(args) if args.auth else None
    location = CodeLocation.load()
    declaration = location.model(args.model)
    lineup = location.lineup(declaration)
    pointer = lineup.champion()
    if pointer is None:
        training = location.names(declaration).training_job
        raise CliError(f"model {declaration.name!r} has no champion yet: run its {training} job first")
    access = _endpoint_access(args, declaration, *guard) if guard else None
    capture = None if args.no_capture else _open_capture(args, location, declaration, options)
    canary = _canary_registry(location, declaration, options)
    url = f"http://{options.host}:{options.port}/v2/models/{declaration.name}/infer"
    fraction = declaration.serving.canary_fraction
    print(
        f"serving {declaration.name} (champion {pointer.describe()}) at {url}; "
        f"the champion pointer is read every {options.poll_s:g}s; "
        + (f"a challenger in shadow answers {fraction:.0%} of requests as a canary; " if canary else "")
        + f"metrics at http://{options.host}:{options.metrics_port}/metrics; "
        + (f"served rows land in {capture.settings.production}" if capture else "served rows are not captured")
        + (f"; behind the access policy {args.auth}, refusals audited in {access.audit.path}" if access else ""),
        flush=True,
    )
    serve(declaration, lineup, options, capture, canary, access)
    return 0


def _policy_and_identity(args: argparse.Namespace) -> tuple[Policy, Any]:
    """The policy and the identity mode `--auth` names, checked before anything loads (`serve --auth`'s options)."""
    from asset_platform.access.identity import IdentityConfigError
    from asset_platform.access.policy import PolicyError, load_policy
    from asset_platform.app.auth_server import make_authenticator
    from asset_platform.app.cli import CliError

    if args.grpc_port:
        raise CliError("--grpc-port with --auth: the access policy guards REST only, so gRPC is not served; drop it")
    try:
        policy = load_policy(args.auth)
        authenticator = make_authenticator(args)
        authenticator.check_bind(args.host)
    except (PolicyError, IdentityConfigError, ValueError) as error:
        raise CliError(str(error)) from None
    return policy, authenticator


def _endpoint_access(args: argparse.Namespace, declaration, policy: Policy, authenticator: Any) -> EndpointAccess:
    """Who may call this model: the policy's grants on it, refusals written to the UI's audit log."""
    from asset_platform.access.audit import AUDIT_FILE, AuditLog
    from asset_platform.home import PlatformHome
    from asset_platform.serving.access import EndpointAccess

    audit = AuditLog(args.audit_log or PlatformHome.from_env().root / AUDIT_FILE, to_stdout=args.audit_stdout)
    owners = tuple(declaration.owners)
    return EndpointAccess(declaration.name, policy, authenticator, audit, _location_of(declaration), owners)


def _location_of(declaration) -> str | None:
    """The name of the code location declaring the model, for the policy's `location:` grants."""
    from asset_platform.app.location import project_target
    from asset_platform.project.locate import load_location

    target = project_target()
    if len(target.locations) == 1:
        return target.locations[0].name
    champion = f"{declaration.name}/champion"
    for location in target.locations:  # several: the one whose definitions hold the model's assets
        keys = {key.to_user_string() for key in load_location(location).resolve_all_asset_keys()}
        if champion in keys:
            return location.name
    return None


def _canary_registry(location, declaration, options) -> CanaryRegistry | None:
    """Where a declared canary is found and its withdrawal recorded: the project's Dagster instance."""
    import os
    import socket

    if declaration.serving.canary_fraction <= 0:
        return None
    import dagster as dg

    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome
    from asset_platform.serving.canary import CanaryRegistry

    os.environ.setdefault("DAGSTER_HOME", str(prepare_dagster_home(PlatformHome.from_env())))
    actor = f"serve-model:{socket.gethostname()}:{options.port}"
    notifier = location.resources["notifier"]
    return CanaryRegistry(dg.DagsterInstance.get(), location.names(declaration), notifier, actor)


def _open_capture(args: argparse.Namespace, location, declaration, options) -> TrafficCapture:
    """The capture folder taken (one server each) and what a killed server left landed, before serving."""
    from pathlib import Path

    from asset_platform.app.cli import CliError
    from asset_platform.app.location import resolved
    from asset_platform.landing import LandingZone
    from asset_platform.serving.capture import CaptureFolderInUse, CaptureSettings, TrafficCapture

    landing = LandingZone(root=str(resolved(location.resources["landing"].root))).for_model(declaration)
    settings = CaptureSettings(
        model=declaration.name,
        id_column=declaration.id_column,
        folder=Path(args.capture_dir) if args.capture_dir else landing.folder / "served",
        production=landing.production,
        pattern=landing.pattern,
        batch_rows=args.batch_rows,
        batch_minutes=args.batch_minutes,
        # Room for a few full requests while one write is under way; more wait on a disk that does not keep up.
        buffer_rows=max(50_000, 4 * options.max_rows),
    )
    capture = TrafficCapture(settings)
    try:
        landed = capture.open()
    except CaptureFolderInUse as error:
        raise CliError(str(error)) from None
    for path in landed:
        print(f"landed {path.name}: served rows a previous server left", flush=True)
    return capture
