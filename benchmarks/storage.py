"""Storage benchmark: storing and loading one big frame through the DVC-backed store.

Side by side, on the same mixed-dtype frame (floats, ints, categoricals, strings, nulls):
- ours: `AssetStore.put` (Parquet into DVC's cache layout, pushed to a local DVC remote,
  pointer written) and `AssetStore.get` (size check, Parquet read), which the IO manager calls;
- the limit: pyarrow writing the same Parquet file plus one md5 pass over it, and reading it back;
- peers: Dagster's FilesystemIOManager (pickle), and the naive DVC path (write Parquet,
  then `Repo.add` and `Repo.push` through DVC's Python API).

Each timing is the best of `--repeats` rounds, each on fresh folders (medians are printed too). Nothing asserts
on times. The last line printed is one JSON object.

    .venv/bin/python -m benchmarks.storage [--quick] [--rows N] [--repeats N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

COLUMNS = 50
QUICK_ROWS = 50_000
FULL_ROWS = 1_000_000
# (dtype kind, how many columns): 50 in all.
LAYOUT = [
    ("float64", 14),
    ("float32", 4),
    ("int64", 8),
    ("int32", 4),
    ("Int64", 4),
    ("category", 6),
    ("string", 6),
    ("bool", 2),
    ("datetime", 2),
]


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A `rows` x 50 frame of mixed dtypes with about 5% nulls where the dtype allows them."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"user-{i:06d}-{'x' * (i % 17)}" for i in range(5000)], dtype=object)
    columns: dict[str, object] = {}
    for kind, count in LAYOUT:
        for index in range(count):
            columns[f"{kind}_{index}"] = _column(kind, rows, rng, vocabulary)
    frame = pd.DataFrame(columns)
    assert frame.shape[1] == COLUMNS
    return frame


def _column(kind: str, rows: int, rng: np.random.Generator, vocabulary: np.ndarray) -> object:
    nulls = rng.random(rows) < 0.05
    if kind in ("float64", "float32"):
        values = rng.normal(size=rows).astype(kind)
        values[nulls] = np.nan
        return values
    if kind in ("int64", "int32"):
        return rng.integers(0, 1_000_000, size=rows).astype(kind)
    if kind == "Int64":
        return pd.arrays.IntegerArray(rng.integers(0, 1000, size=rows), mask=nulls)
    if kind == "category":
        codes = rng.integers(0, 40, size=rows)
        codes[nulls] = -1
        return pd.Categorical.from_codes(codes, categories=[f"cat-{i}" for i in range(40)])
    if kind == "string":
        values = vocabulary[rng.integers(0, len(vocabulary), size=rows)]
        values[nulls] = None
        return values
    if kind == "bool":
        return rng.random(rows) < 0.5
    start = np.datetime64("2026-01-01T00:00:00", "s")
    return start + rng.integers(0, 86400 * 365, size=rows).astype("timedelta64[s]")


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def timed(action: Callable[[], object]) -> tuple[float, object]:
    # Start each timing from the same state: no garbage from the last one, no dirty
    # pages of earlier writes for the kernel to flush in the middle of this one.
    gc.collect()
    os.sync()
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_limit(frame: pd.DataFrame, scratch: Path) -> tuple[float, float]:
    """Raw pyarrow write + one md5 pass, and raw pyarrow read: what no store can beat."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from asset_platform.storage.hashing import md5_file

    path = scratch / "limit.parquet"

    def store() -> None:
        pq.write_table(pa.Table.from_pandas(frame), path)
        md5_file(path)

    store_s, _ = timed(store)
    load_s, _ = timed(lambda: pq.read_table(path).to_pandas())
    return store_s, load_s


def new_store(scratch: Path):
    from asset_platform.storage import AssetStore
    from asset_platform.storage.workspace import ensure_workspace

    workspace, remote = scratch / "dvc", scratch / "dvc-remote"
    remote.mkdir(parents=True)
    ensure_workspace(workspace, "storage", str(remote))
    store = AssetStore(workspace)
    # The IO manager keeps one store per process: open the remote once, outside the timing.
    store.put(["warm_up"], pd.DataFrame({"x": [1]}))
    return store, workspace, remote


def bench_ours(frame: pd.DataFrame, scratch: Path) -> dict[str, float]:
    store, workspace, remote = new_store(scratch)
    store_s, _ = timed(lambda: store.put(["bench"], frame, run_id="first"))
    load_s, loaded = timed(lambda: store.get(["bench"]))
    assert loaded.shape == frame.shape
    before = folder_bytes(workspace / ".dvc" / "cache") + folder_bytes(remote)
    second_s, second = timed(lambda: store.put(["bench"], frame, run_id="second"))
    added = folder_bytes(workspace / ".dvc" / "cache") + folder_bytes(remote) - before
    return {
        "store_s": store_s,
        "load_s": load_s,
        "second_store_s": second_s,
        "bytes_added": added + second.bytes_added,
        "object_bytes": second.record.size,
    }


def bench_pickle(frame: pd.DataFrame, scratch: Path) -> tuple[float, float]:
    """Dagster's default FilesystemIOManager: one pickle per output."""
    import dagster as dg

    manager = dg.FilesystemIOManager(base_dir=str(scratch / "pickle")).create_io_manager(
        dg.build_init_resource_context()
    )
    key = dg.AssetKey("bench")
    store_s, _ = timed(lambda: manager.handle_output(dg.build_output_context(asset_key=key), frame))
    upstream = dg.build_output_context(asset_key=key)
    load_s, _ = timed(lambda: manager.load_input(dg.build_input_context(asset_key=key, upstream_output=upstream)))
    return store_s, load_s


def bench_dvc_naive(frame: pd.DataFrame, scratch: Path) -> float:
    """What a team would write first: Parquet into a DVC repo, then `dvc add` and `dvc push`."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from dvc.repo import Repo

    workspace, remote = scratch / "naive", scratch / "naive-remote"
    workspace.mkdir()
    remote.mkdir()
    Repo.init(str(workspace), no_scm=True)
    with Repo(str(workspace)) as repo, repo.config.edit("repo") as conf:
        conf["core"]["remote"] = "storage"
        conf["remote"]["storage"] = {"url": str(remote)}

    def store() -> None:
        path = workspace / "bench.parquet"
        pq.write_table(pa.Table.from_pandas(frame), path)
        with Repo(str(workspace)) as repo:
            repo.add(str(path))
            repo.push()

    seconds, _ = timed(store)
    return seconds


def run_once(frame: pd.DataFrame, index: int) -> dict[str, float]:
    """One round of every measurement, each in its own fresh temporary folder.

    The order rotates between rounds so that no contender always runs first or last.
    """
    measurements = [_measure_limit, _measure_ours, _measure_pickle, _measure_naive]
    shift = index % len(measurements)
    results: dict[str, float] = {}
    for measure in measurements[shift:] + measurements[:shift]:
        with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
            results.update(measure(frame, Path(scratch)))
    return results


def _measure_limit(frame: pd.DataFrame, scratch: Path) -> dict[str, float]:
    store_s, load_s = bench_limit(frame, scratch)
    return {"limit_s": store_s, "load_limit_s": load_s}


def _measure_ours(frame: pd.DataFrame, scratch: Path) -> dict[str, float]:
    ours = bench_ours(frame, scratch)
    return {
        "ours_s": ours["store_s"],
        "load_s": ours["load_s"],
        "second_store_s": ours["second_store_s"],
        "bytes_added_second_store": ours["bytes_added"],
        "object_bytes": ours["object_bytes"],
    }


def _measure_pickle(frame: pd.DataFrame, scratch: Path) -> dict[str, float]:
    store_s, load_s = bench_pickle(frame, scratch)
    return {"pickle_store_s": store_s, "pickle_load_s": load_s}


def _measure_naive(frame: pd.DataFrame, scratch: Path) -> dict[str, float]:
    return {"peer_s": bench_dvc_naive(frame, scratch)}


def profile_ours(frame: pd.DataFrame, top: int = 25) -> None:
    """Where `put` and `get` spend their time, by cumulative time."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        store, _, _ = new_store(Path(scratch))
        profiler = cProfile.Profile()
        profiler.runcall(store.put, ["bench"], frame)
        profiler.runcall(store.get, ["bench"])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def summarize(rounds: list[dict[str, float]], rows: int) -> dict[str, object]:
    # The same read of the same file took from 0.9 s to 4.8 s here, from memory
    # allocation and page reclaim, not from the code measured: the best round of
    # each is the steadiest estimate of its cost (medians are kept alongside).
    best = {key: min(r[key] for r in rounds) for key in rounds[0]}
    medians = {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
    return {
        "bench": "storage",
        "rows": rows,
        "cols": COLUMNS,
        "repeats": len(rounds),
        "stat": "best round",
        "object_mb": round(best["object_bytes"] / 2**20, 1),
        "ours_s": round(best["ours_s"], 3),
        "limit_s": round(best["limit_s"], 3),
        "vs_limit": round(best["ours_s"] / best["limit_s"], 3),
        "peer": "dvc-naive",
        "peer_s": round(best["peer_s"], 3),
        "vs_peer": round(best["ours_s"] / best["peer_s"], 3),
        "load_s": round(best["load_s"], 3),
        "load_limit_s": round(best["load_limit_s"], 3),
        "load_vs_limit": round(best["load_s"] / best["load_limit_s"], 3),
        "second_store_s": round(best["second_store_s"], 3),
        "pickle_store_s": round(best["pickle_store_s"], 3),
        "pickle_load_s": round(best["pickle_load_s"], 3),
        "bytes_added_second_store": int(max(r["bytes_added_second_store"] for r in rounds)),
        "median": {k: v for k, v in medians.items() if k.endswith("_s")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows instead of {FULL_ROWS:,}")
    parser.add_argument("--rows", type=int, help="rows of the frame (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; each timing is the best of them (default 5)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one put and get")
    args = parser.parse_args()
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    generated_s, frame = timed(lambda: make_frame(rows))
    print(
        f"frame: {rows:,} x {COLUMNS}, {frame.memory_usage(deep=True).sum() / 2**20:.0f} MiB in memory "
        f"(generated in {generated_s:.1f}s)",
        flush=True,
    )
    rounds = []
    for index in range(args.repeats):
        rounds.append(run_once(frame, index))
        print(f"round {index + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in rounds[-1].items()), flush=True)
    if args.profile:
        profile_ours(frame)
    print(json.dumps(summarize(rounds, rows)))


if __name__ == "__main__":
    main()
