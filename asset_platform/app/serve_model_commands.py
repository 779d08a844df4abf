"""`asset-platform serve-model`: a declared model's champion over the Open Inference Protocol (V2).

MLServer answers `POST /v2/models/<model>/infer`; the served version follows the champion
pointer (promotions, rollbacks) within `--poll-s` seconds plus the new version's load.
"""

from __future__ import annotations

import argparse


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
    serve.set_defaults(handler=_cmd_serve_model)


def _cmd_serve_model(args: argparse.Namespace) -> int:
    from asset_platform.app.cli import CliError
    from asset_platform.app.location import CodeLocation
    from asset_platform.serving.server import ServingOptions, serve

    options = ServingOptions(
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
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
    url = f"http://{options.host}:{options.port}/v2/models/{declaration.name}/infer"
    print(
        f"serving {declaration.name} (champion {pointer.describe()}) at {url}; "
        f"the champion pointer is read every {options.poll_s:g}s",
        flush=True,
    )
    serve(declaration, lineup, options)
    return 0
