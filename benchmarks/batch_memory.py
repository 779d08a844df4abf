"""Benchmark: peak memory of taking in one large production batch (read, times, data contract).

The `<model>/batches` step reads the landed file, normalizes its timestamps and checks
it against the declaration's contract; Helm gives non-training pods 2 GiB. Each
contender runs in its own process on the same Parquet file (the e-commerce example's
columns, generated once), and reports its peak resident memory above its resident memory
with the libraries imported:

* ours  - the step's own calls for a batch bigger than the batch engine's chunk (131,072
  rows): the contract checked chunk by chunk and the unique columns across the batch
  (declaration/streamed_check.py), the validated chunks written as Parquet row groups;
* ours_whole - the step's calls for a batch read whole: `read_table`, `normalize_times`
  (shallow copy) and `check_against_schema(..., inplace=True)`;
* limit - reading the file into pandas and nothing else: no step can hold less;
* peer  - what a pandera user writes: `schema.validate(pd.read_parquet(path), lazy=True)`
  (a coerced copy), after normalizing times on a deep copy.

The steps after it (`<model>/predictions`, `<model>/drift`) read the stored batch in
chunks: benchmarks/scale.py measures them.

Run: .venv/bin/python benchmarks/batch_memory.py [--quick] (2,000,000 rows; --quick
200,000). The last line is JSON; `vs_limit` = ours / limit, `vs_peer` = ours / peer.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = "ecommerce"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _resident_mb() -> float:
    """Resident memory now (the peak so far may be higher, from the imports)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _declaration():
    from definitions import project_declarations

    return {d.name: d for d in project_declarations()}[MODEL]


def _generate(path: Path, rows: int) -> None:
    import datetime as dt

    from asset_platform.synthetic import demo_dataset

    declaration = _declaration()
    frame = demo_dataset(MODEL).generate(rows, dt.date(2026, 3, 1), 1, None, 1.0)
    frame.drop(columns=[declaration.label_column]).to_parquet(path)


def _contender(name: str, path: Path) -> dict:
    """Run one contender in this process; its peak memory above the imports."""
    import pandas as pd

    from asset_platform.declaration.contract import contract_schema, normalize_times
    from asset_platform.landing import read_table
    from asset_platform.validation.checks import check_against_schema

    declaration = _declaration()
    schema = contract_schema(declaration, with_label=False)
    import gc

    gc.collect()
    base = _resident_mb()
    started = time.perf_counter()
    if name == "limit":
        frame = pd.read_parquet(path)
    elif name == "ours":
        report = _streamed(declaration, path)
        assert report.passed, report.summary()
    elif name == "ours_whole":
        frame = normalize_times(read_table(path, "benchmark batch"), declaration)
        report = check_against_schema(frame, schema, inplace=True)
        assert report.passed, report.summary()
        frame = report.validated
    else:
        frame = normalize_times(pd.read_parquet(path), declaration).copy()
        report = check_against_schema(frame, schema)
        assert report.passed, report.summary()
        frame = schema.validate(frame, lazy=True)
    return {"extra_mb": round(_peak_mb() - base, 1), "seconds": round(time.perf_counter() - started, 2)}


def _streamed(declaration, path: Path):
    """What the batches step runs for a batch bigger than a chunk (lifecycle/monitoring.py `_streamed_batch`)."""
    from asset_platform.batch_engine import DEFAULT_CHUNK_ROWS, ParquetParts
    from asset_platform.declaration.contract import normalize_times
    from asset_platform.declaration.contract_check import ContractCheck
    from asset_platform.declaration.streamed_check import check_in_chunks, duplicated_values, unique_columns
    from asset_platform.drift.chunks import frames_as_read, row_schema, stream_frames

    check = ContractCheck(declaration, with_label=False, unique=False)
    unique = unique_columns(declaration, row_schema(path).names)

    def column(name: str):
        return lambda: (chunk[name] for chunk in stream_frames(path, DEFAULT_CHUNK_ROWS, [name]))

    duplicated = {name: duplicated_values(column(name)) for name in unique}
    chunks = (normalize_times(chunk, declaration) for chunk in frames_as_read(path, DEFAULT_CHUNK_ROWS))
    with ParquetParts(path.with_name("stored.parquet")) as out:
        return check_in_chunks(check, chunks, duplicated, out.write)


def run_benchmark(quick: bool) -> dict:
    rows = 200_000 if quick else 2_000_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "batch.parquet"
        _generate(path, rows)
        results = {}
        for name in ("limit", "ours", "ours_whole", "peer"):
            command = [sys.executable, __file__, "--contender", name, "--path", str(path)]
            output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800).stdout
            results[name] = json.loads(output.strip().splitlines()[-1])
            print(f"{name:6s} {json.dumps(results[name])}", flush=True)
    ours, limit, peer = (results[name]["extra_mb"] for name in ("ours", "limit", "peer"))
    return {
        "bench": "batch_memory",
        "rows": rows,
        "ours_mb": ours,
        "limit_mb": limit,
        "peer_mb": peer,
        "vs_limit": round(ours / limit, 2),
        "vs_peer": round(ours / peer, 2),
        "ours_s": results["ours"]["seconds"],
        "ours_whole_mb": results["ours_whole"]["extra_mb"],
        "ours_whole_s": results["ours_whole"]["seconds"],
        "quick": quick,
    }


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows instead of 2,000,000")
    parser.add_argument("--contender", choices=["ours", "ours_whole", "limit", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(_contender(args.contender, args.path)))
        return
    print(json.dumps(run_benchmark(args.quick)))


if __name__ == "__main__":
    main()
