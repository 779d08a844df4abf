"""Run `ChampionRuntime` on MLServer: V2 REST (and gRPC) on loopback by default, in this process.

Served traffic is captured (capture.py) until the server stopped answering (what is buffered is then
written and sealed); Prometheus metrics are served by MLServer's metrics server on `metrics_port`
(metrics.py).

Two guards sit in front of MLServer's REST app, which has no hook for either: a request body over
`max_body_bytes` is refused with 413 before it is parsed, and MLServer's model repository API
(`/v2/repository/...`, which loads and unloads models on request) is not served: what is served
is the registry's decision. Malformed bodies get a message naming the field, not FastAPI's list.
With an access policy (access.py), a third guard, outermost, refuses callers without the role, and
the gRPC endpoint, which the policy cannot guard, is not opened.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asset_platform.declaration import ModelDeclaration
    from asset_platform.registry.models import ModelLineup
    from asset_platform.serving.access import EndpointAccess
    from asset_platform.serving.canary import CanaryRegistry
    from asset_platform.serving.capture import TrafficCapture

_REPOSITORY_API = "/v2/repository"


@dataclass(frozen=True)
class ServingOptions:
    """Where the server listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = 8080
    grpc_port: int = 0  # 0: a free port (the V2 gRPC endpoint MLServer always opens)
    metrics_port: int = 8082  # MLServer's metrics server: Prometheus scrapes /metrics there
    poll_s: float = 5.0  # how often the champion pointer is read: a promotion is served within this plus a load
    max_rows: int = 10_000
    max_body_bytes: int = 16 * 2**20

    def __post_init__(self) -> None:
        # Named as the command line names them: that is where a wrong value comes from.
        ports = (("--port", self.port), ("--grpc-port", self.grpc_port), ("--metrics-port", self.metrics_port))
        for option, value in ports:
            if not 0 <= value <= 65535:
                raise ValueError(f"{option} must be between 0 and 65535, got {value}")
        if not (math.isfinite(self.poll_s) and self.poll_s > 0):
            raise ValueError(f"--poll-s must be a positive number of seconds, got {self.poll_s:g}")
        if self.max_rows < 1:
            raise ValueError(f"--max-rows must be at least 1, got {self.max_rows}")
        if self.max_body_bytes < 1:
            raise ValueError(f"--max-body-mb must be above 0, got {self.max_body_bytes / 2**20:g}")


def serve(
    declaration: ModelDeclaration,
    lineup: ModelLineup,
    options: ServingOptions,
    capture: TrafficCapture | None = None,
    canary: CanaryRegistry | None = None,
    access: EndpointAccess | None = None,
) -> None:
    """Serve `declaration`'s champion until SIGINT or SIGTERM; `capture` (opened) takes each answered request;
    `canary` (where the declaration asks for one) names the challenger and records its withdrawal; `access`
    (with --auth) refuses callers the policy does not let in."""
    with (
        tempfile.TemporaryDirectory(prefix="asset-platform-serving-") as empty,
        asyncio.Runner(loop_factory=_loop_factory()) as runner,
    ):
        runner.run(_serve(declaration, lineup, options, empty, capture, canary, access))


def _loop_factory() -> Any:
    """uvloop's event loop where installed (MLServer depends on it): its transports and scheduling in C cost
    less per request than asyncio's own loop, which MLServer would not replace when run in our loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(
    declaration: ModelDeclaration,
    lineup: ModelLineup,
    options: ServingOptions,
    empty: str,
    capture: TrafficCapture | None,
    canary: CanaryRegistry | None,
    access: EndpointAccess | None,
) -> None:
    from mlserver import MLServer
    from mlserver.settings import ModelParameters, ModelSettings, Settings

    from asset_platform.serving.runtime import ChampionRuntime

    _log_to_stderr()
    if capture is not None:
        await capture.start()
    settings = Settings(
        host=options.host,
        http_port=options.port,
        grpc_port=options.grpc_port,
        parallel_workers=0,  # in this process: the follower's swap is seen by every request
        metrics_endpoint="/metrics",  # prometheus_client's default registry, where metrics.py counts
        metrics_port=options.metrics_port,
        model_repository_root=empty,  # nothing to find there: only the declared model is served
        load_models_at_startup=False,
        debug=False,
    )
    model = ModelSettings(
        name=declaration.name,
        implementation=ChampionRuntime,
        parameters=ModelParameters(
            extra={
                "declaration": declaration,
                "lineup": lineup,
                "poll_s": options.poll_s,
                "max_rows": options.max_rows,
                "capture": capture,
                "canary": canary,
            }
        ),
    )
    server = MLServer(settings)  # in the running loop: it installs its signal handlers on it
    _guard(server, options, access)
    try:
        await server.start([model])  # returns once stopped, in-flight requests answered
    finally:
        if capture is not None:
            await capture.close()


def _log_to_stderr() -> None:
    """The runtime's lines (which version serves, a swap, a failed load) beside MLServer's own."""
    import logging

    from asset_platform.serving.runtime import logger

    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s - %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _guard(server: Any, options: ServingOptions, access: EndpointAccess | None) -> None:
    from fastapi.exceptions import RequestValidationError

    # MLServer 1.7 builds its FastAPI app in the constructor and offers no middleware hook; the
    # version is pinned (constraints/lock.txt) and tests/serving/ checks every guard.
    app = server._rest_server._app
    app.add_middleware(_BodyGuard, max_bytes=options.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    if access is not None:
        from asset_platform.serving.access import AccessGuard

        app.add_middleware(AccessGuard, access=access)  # added last: outermost, before the body is read
        # MLServer's gRPC server has no hook for the policy either: behind one, only REST is served.
        server._grpc_server = _NoGrpc()


class _NoGrpc:
    """Stands in for MLServer's gRPC server, which its `start` and `stop` always call."""

    async def start(self) -> None:
        return None

    async def stop(self, sig: int | None = None) -> None:
        return None


class _BodyGuard:
    """Pure ASGI: refuses the repository API and bodies over `max_bytes`, counted as they arrive."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(_REPOSITORY_API):
            message = "the model repository API is not served: the registry decides what is served"
            await _answer(send, 404, f"{message} (asset-platform models promote / rollback)")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(send, 413, self._too_large(int(declared)))
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                # Read the rest unkept before answering: closing on unread bytes resets the connection,
                # and the client would see that instead of the 413.
                while more:
                    message = await receive()
                    more = message["type"] == "http.request" and message.get("more_body", False)
                await _answer(send, 413, self._too_large(len(body), at_least=True))
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self, size: int, at_least: bool = False) -> str:
        return (
            f"request body is {'over ' if at_least else ''}{size} bytes; at most {self.max_bytes} "
            "(serve-model --max-body-mb): send fewer rows per request"
        )


async def _answer(send: Any, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _invalid_request(request: Any, error: Any) -> Any:
    """FastAPI's 422 for a body that is not a V2 request, as one message naming the field."""
    from fastapi.responses import JSONResponse

    problems = error.errors()
    if problems and problems[0].get("type") == "json_invalid":
        return JSONResponse({"error": _json_problem(problems[0], getattr(error, "body", None))}, status_code=400)
    named = "; ".join(f"{'.'.join(str(part) for part in p.get('loc', ()))}: {p.get('msg', '')}" for p in problems)
    return JSONResponse({"error": f"not a V2 inference request: {named}"}, status_code=422)


def _json_problem(problem: dict, body: Any) -> str:
    """Why the body is not JSON; NaN and Infinity (which Python's json writes) named by their input."""
    where = problem.get("loc", ("body", "?"))[-1]
    plain = f"request body is not valid JSON at character {where}: {problem.get('ctx', {}).get('error', '')}"
    try:
        parsed = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        return plain
    inputs = parsed.get("inputs") if isinstance(parsed, dict) else None
    named = [
        str(tensor.get("name"))
        for tensor in inputs or []
        if isinstance(tensor, dict) and _non_finite(tensor.get("data"))
    ]
    if not named:
        return plain
    return (
        f"input(s) {', '.join(map(repr, named))} hold NaN or Infinity, which JSON does not have: "
        "send a missing value as null (where the data contract lets the column be missing)"
    )


def _non_finite(data: Any) -> bool:
    if isinstance(data, list):
        return any(_non_finite(item) for item in data)
    return isinstance(data, float) and not math.isfinite(data)
