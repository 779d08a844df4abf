"""`asset-platform serve-model`: a declared model's champion over the Open Inference Protocol (V2).

MLServer answers `POST /v2/models/<model>/infer`; the served version follows the champion
pointer (promotions, rollbacks) within `--poll-s` seconds plus the new version's load. Each
answered request's rows are captured and land as the model's production batches (by
`--batch-rows` or `--batch-minutes`); Prometheus scrapes `/metrics` on `--metrics-port`. Where the
declaration's `serving.canary_fraction` is set, the challenger in shadow answers that share of requests
until its failures or latency pass the declared margins (asset_platform/serving/canary.py).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asset_platform.serving.canary import CanaryRegistry
    from asset_platform.serving.capture import TrafficCapture


def register(commands: argparse._SubParsersAction) -> None:
    """Add `serve-model` to the `asset-platform` parser."""
    help_text = "serve a model's champion over the V2 inference protocol (MLServer); it follows promotions"
    description = (
        f"{help_text}. Each request sends one input per contract column (the label excepted) and gets one "
        "output, 'scores', and the answering version in the response's parameters. Ctrl-C stops it."
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
    serve.set_defaults(handler=_cmd_serve_model)


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
    location = CodeLocation.load()
    declaration = location.model(args.model)
    lineup = location.lineup(declaration)
    pointer = lineup.champion()
    if pointer is None:
        training = location.names(declaration).training_job
        raise CliError(f"model {declaration.name!r} has no champion yet: run its {training} job first")
    capture = None if args.no_capture else _open_capture(args, location, declaration, options)
    canary = _canary_registry(location, declaration, options)
    url = f"http://{options.host}:{options.port}/v2/models/{declaration.name}/infer"
    fraction = declaration.serving.canary_fraction
    print(
        f"serving {declaration.name} (champion {pointer.describe()}) at {url}; "
        f"the champion pointer is read every {options.poll_s:g}s; "
        + (f"a challenger in shadow answers {fraction:.0%} of requests as a canary; " if canary else "")
        + f"metrics at http://{options.host}:{options.metrics_port}/metrics; "
        + (f"served rows land in {capture.settings.production}" if capture else "served rows are not captured"),
        flush=True,
    )
    serve(declaration, lineup, options, capture, canary)
    return 0


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
