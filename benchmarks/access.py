"""Benchmark: what `serve --auth` costs per GraphQL request against Dagster's own webserver.

Both serve the two tiny code locations of tests/access on a fresh instance, one
after the other, on loopback. Each gets the same sequence of requests, sent one
at a time from this process (urllib, keep-alive off, as a browser's first load):

* query - the permissions and the workspace's locations (what every UI page asks first);
* mutation - `setNuxSeen` (no arguments, one instance write): through our gate, its audit
  line and the request context built from the caller's roles.

ours_s is our server's mean seconds per request, peer_s dagster-webserver's;
vs_peer is their ratio (1.0: no cost). Times are the median of 3 rounds of N
requests of each kind (N = 300, `--quick` 60). Timings are reported, never asserted.

Run: .venv/bin/python benchmarks/access.py [--quick]. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.access.server import INSTANCE_YAML, POLICY_YAML, SECRET, WORKSPACE  # noqa: E402
from tests.conftest import VENV_BIN, subprocess_env  # noqa: E402
from tests.processes import free_port, running, wait_for  # noqa: E402

QUERY = "{ permissions { permission value } workspaceOrError { ... on Workspace { locationEntries { name } } } }"
MUTATION = "mutation { setNuxSeen }"


def _post(port: int, query: str, headers: dict[str, str]) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _measure(port: int, headers: dict[str, str], n: int) -> dict[str, float]:
    results = {}
    for name, query in (("query", QUERY), ("mutation", MUTATION)):
        rounds = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(n):
                body = _post(port, query, headers)
                assert not body.get("errors"), body
            rounds.append((time.perf_counter() - start) / n)
        results[name] = statistics.median(rounds)
    return results


def _serve(root: Path, command_for, headers: dict[str, str], n: int) -> dict[str, float]:
    home = root / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(INSTANCE_YAML)
    (root / "policy.yaml").write_text(POLICY_YAML)
    port = free_port()
    env = subprocess_env(
        DAGSTER_HOME=str(home / "dagster"), ASSET_PLATFORM_HOME=str(home), ASSET_PLATFORM_PROXY_SECRET=SECRET
    )
    with running(command_for(root, port), root / "server.log", env, REPO) as process:
        query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"

        def loaded() -> bool:
            entries = _post(port, query, headers)["data"]["workspaceOrError"]["locationEntries"]
            return len(entries) == 2 and all(e["loadStatus"] == "LOADED" for e in entries)

        wait_for(loaded, 180, "both code locations", [process])
        _measure(port, headers, max(5, n // 10))  # warm up
        return _measure(port, headers, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 requests per round instead of 300")
    args = parser.parse_args()
    n = 60 if args.quick else 300

    def ours(root: Path, port: int) -> list[str]:
        command = [str(VENV_BIN / "asset-platform"), "serve", "--auth", str(root / "policy.yaml")]
        return command + ["-w", str(WORKSPACE), "--port", str(port)]

    def peer(root: Path, port: int) -> list[str]:
        return [str(VENV_BIN / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]

    admin = {"X-Asset-Platform-Proxy-Secret": SECRET, "X-Forwarded-User": "admin"}
    with tempfile.TemporaryDirectory() as folder:
        timed_ours = _serve(Path(folder) / "ours", ours, admin, n)
        timed_peer = _serve(Path(folder) / "peer", peer, {}, n)
    print(f"{'request':10} {'serve --auth (ms)':>18} {'dagster-webserver (ms)':>23} {'ratio':>6}")
    for name in ("query", "mutation"):
        ratio = timed_ours[name] / timed_peer[name]
        print(f"{name:10} {timed_ours[name] * 1e3:18.2f} {timed_peer[name] * 1e3:23.2f} {ratio:6.2f}")
    ours_s = statistics.mean(timed_ours.values())
    peer_s = statistics.mean(timed_peer.values())
    line = {"bench": "access", "ours_s": round(ours_s, 5), "peer_s": round(peer_s, 5)}
    print(json.dumps({**line, "vs_peer": round(ours_s / peer_s, 3), "quick": args.quick}))


if __name__ == "__main__":
    main()
