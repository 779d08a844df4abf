"""Benchmark: batch drift with our reference profile vs Evidently and scipy's exact tests.

Frames (numpy, seeded): a reference of 1,000,000 rows x 50 features (40 numeric
of seven distribution families, some with missing values; 10 categorical with
5-40 Zipf-distributed categories, as Python strings) and a batch of 100,000
rows in which 6 numeric and 2 categorical columns drift (one gains a new
category). `--quick` uses 100,000 and 10,000 rows.

Contenders, each in its own subprocess so that time and memory are its own:

* ours - `build_profile` on the reference (timed separately, once), then
  `compute_drift` + `assess_batch` on the batch with the profile loaded from
  its JSON; also timed on a 1,000,000-row batch (`drift_1m_batch_s`). Every
  statistic of the results is computed, p-values included (asymptotic, against
  the profile's full-reference counts; no exact test), under the default policy.
* peer "evidently" - `Report([DataDriftPreset()])` on the same reference and
  batch (its default tests: normed Wasserstein for numeric, Jensen-Shannon for
  categorical columns, on the full reference).
* scipy - exact per-column tests on the full reference: `ks_2samp` for each
  numeric column, `chi2_contingency` on the category counts for each categorical.

Times are the best of 3 runs (Evidently and the profile builds: one run).
Memory is the peak resident-set growth during the first run: the kernel's
high-water mark (VmHWM) is reset through /proc/self/clear_refs after the
inputs are loaded, and read afterwards.

limit_s is one pass over every batch column: `np.bincount` of each numeric
column's index among its 9 reference decile edges (`np.searchsorted`), and
pandas `value_counts` of each categorical one - the least work any binned
drift statistic needs. Profile size independence: profile JSON bytes for the
1M-row reference and for a 5M-row reference (built in memory in a separate
subprocess; 500k in --quick).

Evidently is not a project dependency. Create a separate environment for it
(Evidently 0.7 needs pandas < 3):

    python3 -m venv .venv-bench && .venv-bench/bin/pip install evidently "pandas<3" numpy scipy pyarrow

The benchmark uses evidently from the running interpreter if it has it, else
from .venv-bench (or --peer-python), else reports the peer as unavailable.

Run: .venv/bin/python benchmarks/drift.py [--quick]. The last line is JSON.
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PEER_PYTHON = REPO_ROOT / ".venv-bench" / "bin" / "python"
NUMERIC = [f"num_{i:02d}" for i in range(40)]
CATEGORICAL = [f"cat_{i}" for i in range(10)]
DRIFTED_NUMERIC = NUMERIC[:6]
DRIFTED_CATEGORICAL = CATEGORICAL[:2]
REPEATS = 3
SIZES = {"full": (1_000_000, 100_000, 1_000_000, 5_000_000), "quick": (100_000, 10_000, 100_000, 500_000)}


# ---------------------------------------------------------------- synthetic frames


def _numeric_column(rng: np.random.Generator, index: int, rows: int, drift: bool) -> np.ndarray:
    shift = 0.5 if drift else 0.0
    family = index % 7
    if family == 0:
        values = rng.normal(10.0 + shift, 2.0, rows)
    elif family == 1:
        values = rng.lognormal(3.0 + shift / 2, 0.6, rows)
    elif family == 2:
        values = rng.exponential(5.0 * (1 + shift), rows)
    elif family == 3:
        values = rng.uniform(0.0, 100.0 + 40 * shift, rows)
    elif family == 4:
        values = rng.poisson(4.0 + 2 * shift, rows).astype(np.float64)
    elif family == 5:
        values = rng.gamma(2.0, 3.0 + shift, rows)
    else:
        values = rng.standard_t(4, rows) + shift
    if index % 5 == 4:
        values[rng.random(rows) < 0.02] = np.nan
    return values


def _categorical_column(rng: np.random.Generator, index: int, rows: int, drift: bool) -> np.ndarray:
    size = 5 + (index * 7) % 36
    names = np.array([f"c{index}_{j}" for j in range(size + 1)], dtype=object)
    weights = 1.0 / np.arange(1, size + 2)
    weights[-1] = 0.0  # the last category exists only in drifted batches
    if drift:
        weights = weights[::-1].copy()
        weights[0] = 0.3
    return names[rng.choice(size + 1, size=rows, p=weights / weights.sum())]


def make_frame(rows: int, seed: int, drifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        columns[name] = _numeric_column(rng, i, rows, drifted and name in DRIFTED_NUMERIC)
    for i, name in enumerate(CATEGORICAL):
        columns[name] = _categorical_column(rng, i, rows, drifted and name in DRIFTED_CATEGORICAL)
    return pd.DataFrame(columns)


# ---------------------------------------------------------------- measuring one call


def _memory_kb() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) for key in ("VmRSS", "VmHWM")}


def _reset_peak() -> bool:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed loading buffers back first
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure(call: Callable[[], Any], repeats: int = REPEATS) -> tuple[Any, float, float | None]:
    """Its result, the best wall seconds of `repeats` runs, and the first run's peak RSS growth in MB.

    Best-of-n, because other processes on a shared machine only ever add time.
    The peak is None where /proc/self/clear_refs cannot be written.
    """
    exact = _reset_peak()
    baseline = _memory_kb()["VmRSS"]
    start = time.perf_counter()
    result = call()
    best = time.perf_counter() - start
    peak = (_memory_kb()["VmHWM"] - baseline) / 1024 if exact else None
    for _ in range(repeats - 1):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return result, best, peak


# ---------------------------------------------------------------- contenders (run in subprocesses)


def contender_profile(data: Path) -> dict[str, Any]:
    from asset_platform.drift import build_profile

    reference = pd.read_parquet(data / "reference.parquet")
    profile, seconds, peak = measure(lambda: build_profile(reference, NUMERIC, CATEGORICAL), repeats=1)
    text = json.dumps(profile.to_dict())
    (data / "profile.json").write_text(text)
    return {"seconds": seconds, "peak_mb": peak, "profile_bytes": len(text.encode("utf-8"))}


def contender_profile_large(data: Path, rows: int) -> dict[str, Any]:
    from asset_platform.drift import build_profile

    reference = make_frame(rows, seed=11, drifted=False)
    profile, seconds, peak = measure(lambda: build_profile(reference, NUMERIC, CATEGORICAL), repeats=1)
    return {"seconds": seconds, "peak_mb": peak, "profile_bytes": len(json.dumps(profile.to_dict()).encode("utf-8"))}


def contender_ours(data: Path, batch_file: str) -> dict[str, Any]:
    from asset_platform.drift import DriftPolicy, ReferenceProfile, assess_batch, compute_drift

    stored = json.loads((data / "profile.json").read_text())
    batch = pd.read_parquet(data / batch_file)
    policy = DriftPolicy()

    def run() -> Any:
        # From the stored dict each time, as an asset run would, so no lookup grid is reused.
        profile = ReferenceProfile.from_dict(stored)
        return assess_batch(compute_drift(profile, batch, batch_file), policy)

    assessment, seconds, peak = measure(run)
    return {"seconds": seconds, "peak_mb": peak, "drifted": sorted(assessment.drifted_features)}


def contender_evidently(data: Path) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(data / "reference.parquet")
    batch = pd.read_parquet(data / "batch.parquet")
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)

    def run() -> Any:
        current = Dataset.from_pandas(batch, data_definition=definition)
        previous = Dataset.from_pandas(reference, data_definition=definition)
        return Report([DataDriftPreset()]).run(current, previous)

    snapshot, seconds, peak = measure(run, repeats=1)  # minutes per run at full size
    drifted = sorted(_evidently_drifted(snapshot.dict()))
    return {"seconds": seconds, "peak_mb": peak, "drifted": drifted}


def _evidently_drifted(report: dict[str, Any]) -> list[str]:
    drifted = []
    for metric in report["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift") and float(metric["value"]) >= config["threshold"]:
            drifted.append(config["column"])
    return drifted


def contender_scipy(data: Path) -> dict[str, Any]:
    from scipy import stats

    reference = pd.read_parquet(data / "reference.parquet")
    batch = pd.read_parquet(data / "batch.parquet")

    def run() -> dict[str, float]:
        pvalues = {}
        for name in NUMERIC:
            pvalues[name] = stats.ks_2samp(reference[name].dropna(), batch[name].dropna()).pvalue
        for name in CATEGORICAL:
            table = pd.concat([reference[name].value_counts(), batch[name].value_counts()], axis=1).fillna(0)
            pvalues[name] = stats.chi2_contingency(table.to_numpy().T).pvalue
        return pvalues

    pvalues, seconds, peak = measure(run)
    significant = int(sum(p < 0.05 / len(pvalues) for p in pvalues.values()))
    return {"seconds": seconds, "peak_mb": peak, "significant": significant}


def contender_limit(data: Path) -> dict[str, Any]:
    reference = pd.read_parquet(data / "reference.parquet", columns=NUMERIC)
    edges = {name: np.nanquantile(reference[name].to_numpy(), np.arange(1, 10) / 10) for name in NUMERIC}
    del reference
    batch = pd.read_parquet(data / "batch.parquet")

    def run() -> int:
        total = 0
        for name in NUMERIC:
            total += int(np.bincount(np.searchsorted(edges[name], batch[name].to_numpy()), minlength=11)[0])
        for name in CATEGORICAL:
            total += int(batch[name].value_counts().iloc[0])
        return total

    _, seconds, peak = measure(run)
    return {"seconds": seconds, "peak_mb": peak}


# ---------------------------------------------------------------- orchestration


def _run_contender(python: str, data: Path, *extra: str, timeout: int = 3_600) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [python, str(Path(__file__).resolve()), "--contender", *extra, "--data", str(data)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peer_python(requested: str | None) -> str | None:
    if requested:
        return requested
    if importlib.util.find_spec("evidently") is not None:
        return sys.executable
    return str(DEFAULT_PEER_PYTHON) if DEFAULT_PEER_PYTHON.exists() else None


def _write_frames(data: Path, reference_rows: int, batch_rows: int, big_rows: int) -> float:
    start = time.perf_counter()
    make_frame(reference_rows, seed=1, drifted=False).to_parquet(data / "reference.parquet", index=False)
    make_frame(batch_rows, seed=2, drifted=True).to_parquet(data / "batch.parquet", index=False)
    make_frame(big_rows, seed=3, drifted=True).to_parquet(data / "batch_1m.parquet", index=False)
    return time.perf_counter() - start


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return float(f"{numerator / denominator:.3g}") if numerator and denominator else None


def _seconds(result: dict[str, Any]) -> float | None:
    return round(result["seconds"], 4) if "seconds" in result else None


def _peak(result: dict[str, Any]) -> float | None:
    return round(result["peak_mb"], 1) if result.get("peak_mb") is not None else None


def run_benchmark(quick: bool, peer_python: str | None) -> dict[str, Any]:
    reference_rows, batch_rows, big_rows, large_reference_rows = SIZES["quick" if quick else "full"]
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as folder:
        data = Path(folder)
        print(f"writing frames: reference {reference_rows:,} x 50, batch {batch_rows:,} and {big_rows:,}", flush=True)
        print(f"  {_write_frames(data, reference_rows, batch_rows, big_rows):.1f} s", flush=True)
        results = {"profile": _run_contender(python, data, "profile")}
        results["ours"] = _run_contender(python, data, "ours", "--batch-file", "batch.parquet")
        results["ours_1m"] = _run_contender(python, data, "ours", "--batch-file", "batch_1m.parquet")
        results["limit"] = _run_contender(python, data, "limit")
        results["scipy"] = _run_contender(python, data, "scipy")
        peer = _peer_python(peer_python)
        results["evidently"] = _run_contender(peer, data, "evidently") if peer else {"error": "peer unavailable"}
        results["profile_large"] = _run_contender(python, data, "profile-large", "--rows", str(large_reference_rows))
    for name, result in results.items():
        print(f"{name:14s} {json.dumps(result)}", flush=True)
    return _summary(results, quick, big_rows, large_reference_rows)


def _summary(results: dict[str, dict[str, Any]], quick: bool, big_rows: int, large_rows: int) -> dict[str, Any]:
    ours, peer, scipy_ = _seconds(results["ours"]), _seconds(results["evidently"]), _seconds(results["scipy"])
    limit = _seconds(results["limit"])
    return {
        "bench": "drift-quick" if quick else "drift",
        "ours_s": ours,
        "limit_s": limit,
        "vs_limit": _ratio(ours, limit),
        "peer": "evidently",
        "peer_s": peer,
        "vs_peer": _ratio(ours, peer),
        "peer_status": results["evidently"].get("error", "ok"),
        "scipy_s": scipy_,
        "vs_scipy": _ratio(ours, scipy_),
        "ours_peak_mb": _peak(results["ours"]),
        "peer_peak_mb": _peak(results["evidently"]),
        "scipy_peak_mb": _peak(results["scipy"]),
        "profile_build_s": _seconds(results["profile"]),
        "drift_1m_batch_s": _seconds(results["ours_1m"]),
        "drift_1m_batch_rows": big_rows,
        "profile_bytes_1m": results["profile"].get("profile_bytes"),
        "profile_bytes_5m": results["profile_large"].get("profile_bytes"),
        "profile_5m_rows": large_rows,
        "ours_drifted": len(results["ours"].get("drifted", [])),
        "peer_drifted": len(results["evidently"].get("drifted", [])) if "drifted" in results["evidently"] else None,
    }


def _contender(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data)
    name = args.contender
    if name == "profile":
        return contender_profile(data)
    if name == "profile-large":
        return contender_profile_large(data, args.rows)
    if name == "ours":
        return contender_ours(data, args.batch_file)
    if name == "evidently":
        return contender_evidently(data)
    if name == "scipy":
        return contender_scipy(data)
    if name == "limit":
        return contender_limit(data)
    raise SystemExit(f"unknown contender {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k-row reference, 10k-row batch")
    parser.add_argument("--peer-python", help="python with evidently installed (default: this one or .venv-bench)")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--batch-file", default="batch.parquet", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(_contender(args)))
        return
    print(json.dumps(run_benchmark(args.quick, args.peer_python)))


if __name__ == "__main__":
    main()
