"""Benchmark: `asset-platform serve-model` against `mlflow models serve` and the in-process call, on loopback.

One LightGBM champion, trained in a temporary platform home as tests/serving/conftest.py does
(the loans declaration; when the gate crowns its scikit-learn model, the LightGBM version is
promoted with the set_champion job). Then, one server at a time on 127.0.0.1:

* ours - `asset-platform serve-model --model loans` (MLServer 1.7, one process): V2 requests,
  one input per contract column; each request is checked against the data contract,
  featurized and scored, and (where serve-model captures served traffic) its rows are made
  durable before it is answered; `ours_no_capture` is the same with `--no-capture`;
* peer - `mlflow models serve --env-manager local` of the same booster, saved with mlflow's
  lightgbm flavour, in a virtualenv of its own (created under
  ~/.cache/asset-platform-bench/mlflow-venv on first use: `pip install mlflow==MLFLOW_PIN
  lightgbm==<ours>`; --peer-venv to point elsewhere). Its requests carry the model's
  feature columns (`dataframe_split`): it neither checks a contract nor featurizes. Its
  scores are checked equal to ours before it is timed;
* limit - the in-process predict call (`score_rows`: featurize + booster, as a batch is
  scored), plus the round trip of an empty handler: a minimal asyncio HTTP/1.1 server on
  loopback answering `{}` to the same request bodies (this file, --empty-handler PORT).
  `in_process_ms` also times what our runtime calls for a request of a few rows: the compiled
  contract (`contract_rows`) and the compiled featurizer with the booster (`served_scores`).

All servers run at once and take turns in each cell, so a change in the machine's load falls on
all alike; each cell is timed in one round (`--quick`) or three, keeping the round with the most
answers. Load: this process, a raw HTTP/1.1 keep-alive client on asyncio (uvloop where installed),
C connections each sending its next request when the last is answered (closed loop), for
C = 1, 8, 32 and 1-row and 100-row requests. Answers other than 200 are counted (`errors`).
rps is the answers that arrive in the timed window over its length; p50/p99 are the client's
times of the requests sent in the window; `cpu_ms_per_request` is the server's CPU time per
answer, which a busy machine changes less than the rates.
The client is not the bottleneck when the empty handler answers it several times faster than
the faster server at the same concurrency (`client.headroom_c32`) and when the server process
is busy near one core while the client is not (`cpu` per cell: CPU seconds per wall second, from
/proc via psutil, the server's process tree and this process).

Headline: `rps_ours`, `rps_peer`, `vs_peer` at concurrency 32 with 1-row requests (the goal:
vs_peer >= 2); `p99_ms_ours` at concurrency 1 with 1 row; `p99_ms_limit` = the in-process
call's p99 + the empty handler's p99 for that request (the goal: p99_ms_ours <= 3 x it).
Timings are reported, never asserted; on a shared machine they move with its load. Every
server and the in-process call inherit this process's environment: `OMP_NUM_THREADS=1` (as
deployments/k8s/serving.yaml sets) keeps LightGBM from waking a thread team per request.

Run: .venv/bin/python benchmarks/serving.py [--quick]. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MLFLOW_PIN = "3.17.2"
DEFAULT_PEER_VENV = Path.home() / ".cache" / "asset-platform-bench" / "mlflow-venv"
CONCURRENCY = (1, 8, 32)
SIZES = (1, 100)
HOST = "127.0.0.1"
ANSWER_LIMIT_S = 120  # liveness only: a server that answers nothing in this long fails the run


# ---------------------------------------------------------------- the empty handler (the limit's HTTP part)


class _EmptyHandler(asyncio.Protocol):
    """Reads one HTTP/1.1 request (headers, then content-length bytes) and answers `{}`; keep-alive."""

    ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"

    def connection_made(self, transport: Any) -> None:
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(self.ANSWER)


def run_empty_handler(port: int) -> None:
    _use_uvloop()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_EmptyHandler, HOST, port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _use_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


# ---------------------------------------------------------------- the load generator


@dataclass
class Cell:
    """One server at one concurrency and request size: what the client saw."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": _ms(self.p50_ms),
            "p99_ms": _ms(self.p99_ms),
            "requests": self.requests,
            "errors": self.errors,
            "cpu": {k: round(v, 2) for k, v in self.cpu.items()},
            "cpu_ms_per_request": round(1000 * self.cpu["server"] / self.rps, 3) if self.rps else None,
        }


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def http_request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length = None
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not read by this client")
    return status, await reader.readexactly(length or 0)


async def _load(port: int, request: bytes, concurrency: int, warm_s: float, measure_s: float) -> Cell:
    """Closed loop: requests sent in the timed window give the latencies (however long they take),
    answers that arrive in it the rate."""
    latencies: list[float] = []
    answered, errors = 0, 0
    start = time.perf_counter()
    measure_from, stop_at = start + warm_s, start + warm_s + measure_s

    async def connection() -> None:
        nonlocal answered, errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                writer.write(request)
                status, _ = await asyncio.wait_for(_read_answer(reader), ANSWER_LIMIT_S)
                done = time.perf_counter()
                if sent >= measure_from:
                    latencies.append(done - sent)
                    errors += status != 200
                answered += measure_from <= done <= stop_at
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    latencies.sort()
    return Cell(
        rps=answered / measure_s,
        p50_ms=1000 * _quantile(latencies, 0.5),
        p99_ms=1000 * _quantile(latencies, 0.99),
        requests=len(latencies),
        errors=errors,
    )


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(port: int, request: bytes, concurrency: int, warm_s: float, measure_s: float, server_pid: int) -> Cell:
    """One cell, with the CPU seconds per wall second of the server's process tree and of this client."""
    import psutil

    tree = [psutil.Process(server_pid), *psutil.Process(server_pid).children(recursive=True)]

    def cpu_seconds(processes: list[Any]) -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    me = [psutil.Process()]
    server_before, client_before, wall_before = cpu_seconds(tree), cpu_seconds(me), time.perf_counter()
    cell = asyncio.run(_load(port, request, concurrency, warm_s, measure_s))
    wall = time.perf_counter() - wall_before
    server, client = cpu_seconds(tree) - server_before, cpu_seconds(me) - client_before
    cell.cpu = {"server": server / wall, "client": client / wall}
    if cell.errors:  # counted, not hidden: every answer should be 200
        print(f"  {cell.errors} of {cell.requests} answers were not 200 at concurrency {concurrency}", flush=True)
    return cell


@dataclass(frozen=True)
class Target:
    """A running server and the requests it is sent."""

    name: str
    port: int
    pid: int
    requests: dict[int, bytes]


def sweep(targets: list[Target], timing: tuple[float, float], rounds: int) -> dict[str, Any]:
    """Every cell of every server, the servers taking turns within each cell (so a change in the
    machine's load falls on all of them alike); per cell, the round with the most answers."""
    detail: dict[str, Any] = {target.name: {str(size): {} for size in SIZES} for target in targets}
    for size in SIZES:
        for concurrency in CONCURRENCY:
            best: dict[str, Cell] = {}
            for _ in range(rounds):
                for target in targets:
                    cell = measure(target.port, target.requests[size], concurrency, *timing, server_pid=target.pid)
                    if target.name not in best or cell.rps > best[target.name].rps:
                        best[target.name] = cell
            for name, cell in best.items():
                detail[name][str(size)][str(concurrency)] = cell.as_dict()
                print(
                    f"{name:15s} rows={size:3d} c={concurrency:2d}: {cell.rps:8.1f} req/s  p50 {cell.p50_ms:7.2f} ms  "
                    f"p99 {cell.p99_ms:7.2f} ms  cpu server {cell.cpu['server']:.2f} client {cell.cpu['client']:.2f}  "
                    f"server cpu/request {cell.as_dict()['cpu_ms_per_request']} ms",
                    flush=True,
                )
    return detail


# ---------------------------------------------------------------- the model, in a temporary home


def train_lightgbm_champion(root: Path) -> Any:
    """The loans declaration trained once (as tests/serving/conftest.py), LightGBM the champion."""
    import dagster as dg

    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions
    from tests.declaration.loans import loans_declaration, write_history
    from tests.serving.conftest import HISTORY_DAYS, HISTORY_START, ROWS_PER_DAY, Trained

    home = PlatformHome(root / "platform").ensure()
    declaration = loans_declaration()
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    landing = resources["landing"].for_model(declaration).ensure()
    write_history(landing.history, HISTORY_START, HISTORY_DAYS, ROWS_PER_DAY)
    training = defs.resolve_job_def(lifecycle_names(declaration).training_job)
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(home))) as instance:
        assert training.execute_in_process(instance=instance).success
    trained = Trained(home, defs)
    lineup = trained.lineup()
    if lineup.load_champion(lineup.champion()).flavor != "lightgbm":
        lightgbm = next(v for v in lineup.versions() if v.manifest.get("flavor") == "lightgbm")
        trained.set_champion("promote", lightgbm.version)
    return trained


def request_rows(rows: int) -> Any:
    from tests.declaration.loans import generate_loans

    return generate_loans(rows, dt.date(2026, 7, 4), seed=21).drop(columns=["defaulted"])


# ---------------------------------------------------------------- the limit: in-process


def _timed(call: Any, seconds: float) -> dict[str, float]:
    call()  # first call outside the timing (imports, caches)
    times = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "p50_ms": round(1000 * _quantile(times, 0.5), 3),
        "p99_ms": round(1000 * _quantile(times, 0.99), 3),
        "calls_per_s": round(len(times) / sum(times), 1),
    }


def in_process(trained: Any, frames: dict[int, Any], payloads: dict[int, dict], seconds: float) -> dict[str, Any]:
    """The predict call alone, and what our runtime does per request besides HTTP (contract + predict)."""
    import numpy as np
    from mlserver.types import InferenceRequest

    from asset_platform.ml.scoring import featurize, score_rows
    from asset_platform.serving.rows import RequestContract
    from asset_platform.serving.runtime import load_served
    from tests.declaration.loans import loans_declaration

    lineup = trained.lineup()
    served = load_served(lineup, lineup.champion())
    model = served.model
    contract = RequestContract(loans_declaration(), 10_000)
    result: dict[str, Any] = {
        "predict": {},
        "featurize": {},
        "booster": {},
        "contract_rows": {},
        "parse_request": {},
        "served_scores": {},
    }
    for size, frame in frames.items():
        matrix = featurize(model, frame)[model.feature_names].to_numpy(dtype=np.float32)
        body = json.dumps(payloads[size])
        parsed = InferenceRequest.model_validate_json(body)
        judged = contract.judge(parsed, served.learned_until)
        calls = {
            "predict": (lambda f=frame: score_rows(model, f), seconds),
            "featurize": (lambda f=frame: featurize(model, f), seconds / 2),
            "booster": (lambda m=matrix: model.estimator.predict(m), seconds / 2),
            "parse_request": (lambda b=body: InferenceRequest.model_validate_json(b), seconds / 2),
            # What the runtime calls: a small request judged by the compiled contract, scored by the compiled
            # featurizer (both fall back to the frame path for more rows).
            "contract_rows": (lambda p=parsed: contract.judge(p, served.learned_until), seconds / 2),
            "served_scores": (lambda r=judged: served.scores(r), seconds / 2),
        }
        for name, (call, budget) in calls.items():
            result[name][str(size)] = _timed(call, budget)
    return result


# ---------------------------------------------------------------- the peer: mlflow in its own virtualenv


def ensure_peer_venv(venv: Path) -> Path | None:
    """The venv's python with mlflow and our lightgbm version; created when absent. None when it cannot be."""
    python = venv / "bin" / "python"
    lightgbm = importlib.metadata.version("lightgbm")
    if (venv / "bin" / "mlflow").exists():
        return python
    print(f"creating the peer's virtualenv at {venv}: mlflow=={MLFLOW_PIN} lightgbm=={lightgbm}", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    base = Path(sys.base_prefix) / "bin" / "python3"
    steps = [
        [str(base), "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_PIN}", f"lightgbm=={lightgbm}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"the peer is unavailable: {' '.join(step)} failed:\n{done.stderr[-2000:]}", flush=True)
            return None
    return python


def save_peer_model(python: Path, booster: Any, folder: Path) -> Path:
    """The champion's booster, saved by mlflow's lightgbm flavour from the peer's venv."""
    model_file, saved = folder / "booster.txt", folder / "mlflow-model"
    booster.save_model(str(model_file))
    script = (
        "import sys, lightgbm, mlflow.lightgbm\n"
        "mlflow.lightgbm.save_model(lightgbm.Booster(model_file=sys.argv[1]), sys.argv[2])\n"
    )
    subprocess.run([str(python), "-c", script, str(model_file), str(saved)], check=True, cwd=folder)
    return saved


def peer_version(python: Path) -> str:
    script = "import mlflow, lightgbm; print(mlflow.__version__, lightgbm.__version__)"
    mlflow_version, lightgbm_version = subprocess.check_output([str(python), "-c", script], text=True).split()
    return f"mlflow {mlflow_version} models serve (lightgbm {lightgbm_version}, 1 worker)"


# ---------------------------------------------------------------- the run


def ours_variants(env: dict[str, str]) -> list[tuple[str, list[str]]]:
    """`ours` as deployed (served traffic captured, where serve-model captures), and without capture."""
    from tests.processes import free_port
    from tests.serving.conftest import serve_model_command

    usage = subprocess.run(
        [*serve_model_command(), "--help"], capture_output=True, text=True, env=env, cwd=REPO, check=True
    ).stdout
    # Free metrics ports: the default one may be taken on a shared machine.
    variants = [("ours", [])]
    if "--no-capture" in usage:
        variants.append(("ours_no_capture", ["--no-capture"]))
    if "--metrics-port" in usage:
        variants = [(name, [*options, "--metrics-port", str(free_port())]) for name, options in variants]
    return variants


def post_json(port: int, path: str, payload: Any) -> Any:
    import urllib.request

    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def answers(port: int, path: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=5) as response:
        return response.status == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one round of 0.5 s warm-up and 2 s timed per cell (else 3 of 1 s and 4 s)"
    )
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV, help="the mlflow virtualenv")
    parser.add_argument("--empty-handler", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.empty_handler:
        run_empty_handler(args.empty_handler)
        return
    timing, rounds = ((0.5, 2.0), 1) if args.quick else ((1.0, 4.0), 3)
    loop = _use_uvloop()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as temporary:
        result = run(Path(temporary), args, timing, rounds, loop)
    print(json.dumps(result))


def run(root: Path, args: argparse.Namespace, timing: tuple[float, float], rounds: int, loop: str) -> dict[str, Any]:
    import numpy as np

    from asset_platform.ml.scoring import featurize, score_rows
    from tests.conftest import subprocess_env
    from tests.processes import free_port, running, wait_for
    from tests.serving.client import v2_inputs
    from tests.serving.conftest import MODEL, serve_model_command

    started = time.perf_counter()
    trained = train_lightgbm_champion(root)
    lineup = trained.lineup()
    pointer = lineup.champion()
    model = lineup.load_champion(pointer)
    print(f"trained in {time.perf_counter() - started:.0f}s; champion {pointer.describe()}", flush=True)

    frames = {size: request_rows(100).head(size) for size in SIZES}
    ours_payloads = {size: {"inputs": v2_inputs(frame)} for size, frame in frames.items()}
    features = {size: featurize(model, frame)[model.feature_names].astype(np.float32) for size, frame in frames.items()}
    peer_payloads = {
        size: {"dataframe_split": {"columns": list(f.columns), "data": f.astype(float).to_numpy().tolist()}}
        for size, f in features.items()
    }
    path = f"/v2/models/{MODEL}/infer"
    ours_requests = {size: http_request(path, json.dumps(p).encode()) for size, p in ours_payloads.items()}
    peer_requests = {size: http_request("/invocations", json.dumps(p).encode()) for size, p in peer_payloads.items()}
    expected = score_rows(model, frames[100])
    targets: list[Target] = []
    with contextlib.ExitStack() as servers:
        # The limit's HTTP part: the empty handler, with our request bodies.
        port = free_port()
        command = [sys.executable, str(Path(__file__).resolve()), "--empty-handler", str(port)]
        process = servers.enter_context(running(command, root / "empty.log", subprocess_env(), REPO))
        wait_for(lambda: post_json(port, "/", {}) == {}, 30, "the empty handler", [process], interval_s=0.1)
        targets.append(Target("empty", port, process.pid, ours_requests))

        env = subprocess_env(ASSET_PLATFORM_HOME=str(trained.home.root), DAGSTER_HOME=str(trained.home.dagster_home))
        for name, options in ours_variants(env):
            port = free_port()
            command = serve_model_command(*options, "--port", str(port))
            process = servers.enter_context(running(command, root / f"{name}.log", env, REPO))
            try:
                wait_for(lambda p=port: answers(p, f"/v2/models/{MODEL}/ready"), 180, name, [process], 0.2)
            except AssertionError:
                print((root / f"{name}.log").read_text()[-3000:], file=sys.stderr)
                raise
            answer = post_json(port, path, ours_payloads[100])
            np.testing.assert_allclose(answer["outputs"][0]["data"], expected, rtol=0, atol=1e-9)
            targets.append(Target(name, port, process.pid, ours_requests))

        peer = None
        python = ensure_peer_venv(args.peer_venv)
        if python is not None:
            peer = peer_version(python)
            saved = save_peer_model(python, model.estimator, root)
            port = free_port()
            mlflow = [str(args.peer_venv / "bin" / "mlflow"), "models", "serve", "-m", str(saved)]
            mlflow += ["--env-manager", "local", "-h", HOST, "-p", str(port), "-w", "1"]
            peer_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
            peer_env.update(PATH=f"{args.peer_venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
            peer_env.update(MLFLOW_TRACKING_URI=(root / "mlruns").as_uri())
            process = servers.enter_context(running(mlflow, root / "peer.log", peer_env, root))
            wait_for(lambda: answers(port, "/ping"), 180, "mlflow models serve", [process], 0.2)
            answer = post_json(port, "/invocations", peer_payloads[100])
            np.testing.assert_allclose(answer["predictions"], expected, rtol=0, atol=1e-9)
            targets.append(Target("peer", port, process.pid, peer_requests))

        detail = sweep(targets, timing, rounds)

    limit = in_process(trained, frames, ours_payloads, timing[1])
    return summary(detail, limit, peer, loop, args.quick, {s: len(r) for s, r in ours_requests.items()})


def summary(
    detail: dict, limit: dict, peer: str | None, loop: str, quick: bool, request_bytes: dict[int, int]
) -> dict[str, Any]:
    def cell(server: str, size: int, concurrency: int) -> dict[str, Any]:
        return detail.get(server, {}).get(str(size), {}).get(str(concurrency), {})

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    rps_ours = cell("ours", 1, 32).get("rps")
    rps_peer = cell("peer", 1, 32).get("rps")
    p99_limit = limit["predict"]["1"]["p99_ms"] + cell("empty", 1, 1)["p99_ms"]
    p99_ours = cell("ours", 1, 1).get("p99_ms")
    vs_peer = ratio(rps_ours, rps_peer)
    result = {
        "bench": "serving",
        "rps_ours": rps_ours,
        "rps_peer": rps_peer,
        "vs_peer": vs_peer,
        "vs_peer_100_rows": ratio(cell("ours", 100, 32).get("rps"), cell("peer", 100, 32).get("rps")),
        "p99_ms_ours": p99_ours,
        "p99_ms_limit": round(p99_limit, 3),
        "p99_vs_limit": ratio(p99_ours, p99_limit),
        "goal_throughput_2x_peer": bool(vs_peer and vs_peer >= 2),
        "goal_p99_within_3x_limit": p99_ours is not None and p99_ours <= 3 * p99_limit,
        # The server's CPU per answer at concurrency 32, 1 row: the cost behind the rates.
        "cpu_ms_per_request_ours": cell("ours", 1, 32).get("cpu_ms_per_request"),
        "cpu_ms_per_request_peer": cell("peer", 1, 32).get("cpu_ms_per_request"),
    }
    if "ours_no_capture" in detail:
        result["rps_ours_no_capture"] = cell("ours_no_capture", 1, 32)["rps"]
        result["vs_peer_no_capture"] = ratio(result["rps_ours_no_capture"], rps_peer)
        result["p99_ms_ours_no_capture"] = cell("ours_no_capture", 1, 1)["p99_ms"]
        result["cpu_ms_per_request_ours_no_capture"] = cell("ours_no_capture", 1, 32).get("cpu_ms_per_request")
    return {
        **result,
        "peer": peer or "unavailable",
        "in_process_ms": limit,
        "client": {
            "kind": f"raw HTTP/1.1 keep-alive, asyncio ({loop}), closed loop, one process",
            "headroom_c32": ratio(cell("empty", 1, 32)["rps"], max(rps_ours or 0, rps_peer or 0)),
            "request_bytes": {str(k): v for k, v in request_bytes.items()},
        },
        "detail": detail,
        "cpus": os.cpu_count(),
        # Other work on the machine takes cores from the servers and the client alike.
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "quick": quick,
    }


if __name__ == "__main__":
    main()
