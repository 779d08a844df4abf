"""Starting and stopping the real servers these tests talk to, with bounded waits only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], T | None],
    timeout_s: float,
    what: str,
    alive: list[subprocess.Popen] | None = None,
    interval_s: float = 1.0,
) -> T:
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout_s`.

    Errors raised by `condition` count as "not yet" (a server still starting);
    the last one is reported if time runs out. A process in `alive` that exits
    ends the wait at once, since its server will never answer.
    """
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        for process in alive or []:
            if process.poll() is not None:
                raise AssertionError(f"{process.args[0]} exited ({process.returncode}) while waiting for {what}")
        try:
            value = condition()
        except Exception as error:  # any failure means: not ready yet
            last_error, value = error, None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last error: {last_error!r}")
        time.sleep(interval_s)


@contextmanager
def running(command: list[str], log_path: Path, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group for the block, then stop the whole group."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
        try:
            yield process
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen, grace_s: float = 30) -> None:
    """SIGINT the process group `process` leads, then SIGKILL what is left after `grace_s`.

    SIGINT, as Ctrl-C: Dagster's servers stop at once on it, while on SIGTERM a
    code server can wait for its streaming calls to end.
    """
    if process.poll() is None:
        _signal_group(process, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    # Children (code servers, run workers) may outlive their parent: end them too.
    _signal_group(process, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=grace_s)


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a server's log, for failure messages."""
    if not path.exists():
        return f"({path} not written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def graphql(port: int, query: str, timeout_s: float = 30) -> dict:
    """POST a query to a Dagster webserver on 127.0.0.1 and return its `data`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())["data"]


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP endpoint on 127.0.0.1 that records each JSON body POSTed to it: (url, bodies)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def run_coroutine(coroutine):
    """`asyncio.run(coroutine)`, also where an asyncio loop already runs in this thread: the one Playwright's
    sync API leaves running for the session once a browser test ran. There it runs in a thread of its own."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()
