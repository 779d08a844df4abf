"""Benchmark: the `local` batch engine on big production batches, memory and time against the limit.

A generated batch (20 features: 15 numeric, some with missing values, 5 categorical) is
written as a Parquet file and taken through what the `<model>/predictions` and
`<model>/drift` steps run (asset_platform/batch_engine.py), each measurement in a fresh
process that reports its peak resident memory (ru_maxrss, libraries and model included):

* local - the engine path: score chunk by chunk (predictions written as Parquet row
  groups), the label-free estimate, the batch-wide figures, then the drift summary of
  batch and predictions read in step and merged, and the drift results from it;
* limit - reading the same Parquet file with pyarrow and the champion's predict on the
  same rows, in the same chunks: no engine can do less.

The champion is a LightGBM model trained on 20,000 reference rows, with its label-free
estimator; its reference profile (the step's input) is built from them. The batch is
shifted in two features, so the drift summary has work to do. `--quick`: one batch of
1,000,000 rows; full: 5M, 20M and 50M rows (`--rows` to choose). One JSON line per size
(peaks, times, and each phase of the local path: the peak so far, its seconds and CPU
seconds), then the last line, JSON: `rows` (the largest batch), `local_peak_mb` (its
peak), `local_vs_limit` (its wall time over the limit's; `local_vs_limit_cpu` in CPU
seconds, which a busy machine disturbs less; each contender runs `--repeats` times,
alternated, the fastest counting) and the sizes.

The reference profile at scale (asset_platform/drift/sketches.py): a generated reference of
10,000,000 rows (`--quick`: 1,000,000, profiled from sketches above 100,000 rows so the same
path runs) with the champion's score column, written as Parquet and profiled with
`build_profile_parquet` in a fresh process: `reference_peak_mb` (its peak, libraries
included), `reference_s`, and `ks_bound` (the largest share of a feature's values between two
adjacent cut points, over all numeric features); `--quick` also profiles the same rows the
way a smaller reference is profiled (read whole, sorted) for comparison. `--part reference`
(or `engine`) runs only that part.

The spark engine (`spark local[2]`, a local JVM on the same two cores) runs the same path once
per batch up to `--spark-max-rows` (default 5M): `spark_s` (its wall time, JVM start included),
`spark_vs_local`, `spark_counts_equal` (the drift summary's cells and exact sums byte-identical
to the local engine's) and `spark_predictions_equal`.

The peers, in the same run (`--peers`, default both): Evidently 0.7.23 (its 0.7 Report API with
`DataDriftPreset`, batch and reference read whole into pandas) and whylogs 1.6.4 (the reference
and the batch profiled, the batch chunk by chunk into one profile, then `calculate_drift_scores`)
compute the per-feature drift of the same batch file against the very 20,000 reference rows the
profile is built from, on the 20 features (ours also scores the batch, writes its predictions and
drifts the score: the ratios favour the peers). Each runs in benchmarks/scale_peers.py with the
python of its own virtualenv, build/peers/<tool> (created and installed on first use: their pins
conflict with ours; a peer whose install fails is skipped with its reason), once per size in
increasing sizes, under an address-space cap (`--peer-memory-gb`, default 20, RLIMIT_AS) and a time
cap (`--peer-timeout`, default 1800 s); the first size it fails, exceeds a cap or misreads stops
it. `peer_rows_max` is the largest size any peer finished, and `peers` says per peer `rows_max`,
`stopped_at` and `reason`, and per size finished its `wall_s`, `peak_mb` (ru_maxrss, libraries
included), the features it calls drifted, and `local_vs_peer_wall` / `local_vs_peer_cpu` /
`local_vs_peer_peak` (our local engine's wall, CPU seconds and peak over the peer's at that size).

The `<model>/batches` step before them (landing, the contract check) reads a batch bigger
than a chunk chunk by chunk too (declaration/streamed_check.py); benchmarks/batch_memory.py
measures the step.
Run: .venv/bin/python benchmarks/scale.py [--quick].
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NUMERIC = [f"x{i:02d}" for i in range(15)]
CATEGORICAL = [f"c{i}" for i in range(5)]
CATEGORIES = [f"v{i}" for i in range(12)]
ID, TIME, LABEL = "row_id", "at", "y"
REFERENCE_ROWS = 20_000
# Rows generated and written at a time: generation stays small for a batch of any size.
WRITE_ROWS = 1_000_000
# The reference profile's part: rows of the generated reference, and above how many it is profiled from sketches.
REFERENCE_PROFILE_ROWS = {"full": 10_000_000, "quick": 1_000_000}
REFERENCE_SKETCH_ROWS = {"full": None, "quick": 100_000}  # None: DriftMonitor's default (2,000,000)
# The spark engine's contender: Spark in a local JVM with this machine's two cores.
SPARK_MASTER = "local[2]"
# The peers, each in its own virtualenv under build/peers/<tool> (their pins conflict with ours and
# each other's), run by benchmarks/scale_peers.py on the same batch and reference files.
PEERS_DIR = Path(__file__).resolve().parents[1] / "build" / "peers"
PEER_SCRIPT = Path(__file__).resolve().parent / "scale_peers.py"
PEERS = {
    # pandas below 3: Evidently 0.7.23 imports a pandas name (infer_dtype_from_object) that pandas 3 removed.
    "evidently": ["evidently==0.7.23", "pandas<3", "pyarrow"],
    # The viz extra brings scipy, which whylogs' drift scores (calculate_drift_scores) need.
    "whylogs": ["whylogs[viz]==1.6.4", "pandas<3", "pyarrow"],
}
# What pip prints when no index answers (or none has the pinned release).
PIP_UNREACHABLE = (
    "Could not find a version that satisfies",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ConnectTimeout",
    "ProxyError",
)
# What a peer prints when its address-space cap (RLIMIT_AS) stops an allocation.
OUT_OF_MEMORY = ("MemoryError", "bad_alloc", "Unable to allocate", "Cannot allocate memory", "ArrowMemoryError")


def scale_declaration(sample_rows: int = 1000) -> Any:
    """A binary classifier over the generated columns (one small LightGBM family)."""
    from asset_platform.declaration import ColumnSpec, ModelDeclaration

    columns = [
        ColumnSpec(name=ID, dtype="int"),
        ColumnSpec(name=TIME, dtype="datetime"),
        *(ColumnSpec(name=name, dtype="float", nullable=True) for name in NUMERIC),
        *(ColumnSpec(name=name, dtype="str") for name in CATEGORICAL),
        ColumnSpec(name=LABEL, dtype="int"),
    ]
    return ModelDeclaration(
        name="scale",
        description="The scale benchmark's generated batches.",
        owners=["team:ml-platform"],
        task="binary_classification",
        metric="auc",
        id_column=ID,
        label_column=LABEL,
        time_column=TIME,
        columns=columns,
        models=[{"family": "lightgbm", "params": {"max_rounds": 40, "early_stopping_rounds": 10}}],
        explanations={"sample_rows": sample_rows},
    )


def generate(rows: int, seed: int, shift: float = 0.0, start: int = 0) -> Any:
    """`rows` rows (ids from `start`) with the label; `shift` moves x00 and the share of c0's first category."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, start])
    data: dict[str, Any] = {
        ID: np.arange(start, start + rows, dtype=np.int64),
        TIME: pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 86_399, rows), unit="s"),
    }
    for index, name in enumerate(NUMERIC):
        values = rng.normal(shift if index == 0 else 0.0, 1.0 + index / 10, rows)
        if index % 4 == 1:
            values[rng.random(rows) < 0.05] = np.nan
        data[name] = values
    for index, name in enumerate(CATEGORICAL):
        weights = np.linspace(2.0, 1.0, len(CATEGORIES))
        if index == 0:
            weights[0] += 10 * shift
        data[name] = np.asarray(CATEGORIES)[rng.choice(len(CATEGORIES), rows, p=weights / weights.sum())]
    logit = data["x00"] - 0.5 * np.nan_to_num(data["x01"]) + (data["c0"] == CATEGORIES[0]) - 0.5
    data[LABEL] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(data)


def write_batch(path: Path, rows: int, seed: int = 7, shift: float = 0.3) -> None:
    """A production batch (no label) as one Parquet file, written `WRITE_ROWS` rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for start in range(0, rows, WRITE_ROWS):
        frame = generate(min(WRITE_ROWS, rows - start), seed, shift, start).drop(columns=[LABEL])
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def train_champion(declaration: Any, rows: int = REFERENCE_ROWS) -> tuple[Any, Any]:
    """(the champion, its reference profile), trained and profiled on `rows` generated reference rows."""
    from asset_platform.declaration.names import PREDICTION
    from asset_platform.drift import build_profile
    from asset_platform.ml.families import TrainingData, train_family, validation_split
    from asset_platform.ml.features import fit_declared_pipeline
    from asset_platform.ml.scoring import fit_model_estimator, score_rows

    reference = generate(rows, seed=1)
    pipeline = fit_declared_pipeline(declaration, reference)
    fit, valid = validation_split(pipeline.transform(reference), TIME)
    spec = declaration.models[0]
    model = train_family(spec, TrainingData(pipeline, declaration.task, fit, valid)).model
    # The label-free estimator, fitted on the holdout as the training step fits it.
    model.extra["estimation"] = fit_model_estimator(model, valid, LABEL)
    scored = reference.assign(**{PREDICTION: score_rows(model, reference)})
    profile = build_profile(scored, numeric=[*NUMERIC, PREDICTION], categorical=CATEGORICAL)
    return model, profile


def local_path(
    declaration: Any, model: Any, profile: Any, batch: Path, chunk_rows: int, folder: Path, engine_name: str = "local"
) -> dict:
    """What the predictions and drift steps compute for `batch` (asset_platform/lifecycle/monitoring.py)."""
    import hashlib

    from asset_platform.batch_engine import BatchEngine, ParquetParts
    from asset_platform.drift import drift_from_summary
    from asset_platform.fairness.attribution_drift import mean_attribution
    from asset_platform.lifecycle.estimates import estimate_batch

    engine = BatchEngine(chunk_rows=chunk_rows, engine=engine_name, spark_master=SPARK_MASTER)
    scored_path, predictions = folder / "scored.parquet", folder / "predictions.parquet"
    phases, started, cpu = {}, time.perf_counter(), time.process_time()

    def phase(name: str) -> None:  # the peak so far, and the seconds and CPU seconds since the previous phase
        nonlocal started, cpu
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        phases[name] = {"peak_mb": round(_peak_mb(), 1), "s": round(seconds, 2), "cpu_s": round(cpu_s, 2)}
        started, cpu = time.perf_counter(), time.process_time()

    with ParquetParts(scored_path) as out:
        scored = engine.score(declaration, model, batch, out, estimator=model.extra["estimation"])
    phase("score")
    found = estimate_batch(declaration.metric_name, scored.estimate, "bench", "")
    phase("estimate")
    figures = {"champion_version": "bench", "estimated_metric": float("nan") if found.value is None else found.value}
    with ParquetParts(predictions) as out:
        engine.with_figures(scored_path, figures, out)
    mean_attribution(declaration, model, scored.attribution_sample)
    del scored
    phase("figures_and_attribution")
    summarized = engine.summarize(declaration, profile, batch, predictions)
    results = drift_from_summary(profile, summarized.summary)
    phase("drift")
    # What the engines must agree on: the summary's cells and sums, and every prediction.
    summary = json.dumps(summarized.summary.to_dict(), sort_keys=True).encode()
    return {
        "n_rows": results.n_rows,
        "summary_sha256": hashlib.sha256(summary).hexdigest(),
        "predictions": _prediction_figures(predictions),
        "phases": phases,
        "drifted_psi": sorted(f.name for f in results.features if (f.psi or 0) > 0.2),
    }


def _prediction_figures(predictions: Path) -> list[float]:
    """The predictions' min, max and exact sum, read a row group at a time: the engines' predictions are compared
    by these, and reading the column whole (400 MB at 50M rows) would count in the engine's peak."""
    import numpy as np
    import pyarrow.parquet as pq

    from asset_platform.declaration.names import PREDICTION
    from asset_platform.exact_sums import ExactSums, exact_float

    low, high, total = float("inf"), float("-inf"), ExactSums(1)
    for batch in pq.ParquetFile(predictions).iter_batches(columns=[PREDICTION]):
        values = batch.column(0).to_numpy(zero_copy_only=False).astype(np.float64)
        if values.size:
            low, high = min(low, float(values.min())), max(high, float(values.max()))
            total.add(None, values)
    return [low, high, exact_float(total.totals()[0])]


def write_reference(path: Path, rows: int, seed: int = 1) -> None:
    """A reference (the champion's training rows and its score) as one Parquet file, `WRITE_ROWS` at a time.

    The score is the generating logit's probability: profiling it costs what profiling the champion's does.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from asset_platform.declaration.names import PREDICTION

    writer = None
    for start in range(0, rows, WRITE_ROWS):
        frame = generate(min(WRITE_ROWS, rows - start), seed, 0.0, start)
        logit = frame["x00"] - 0.5 * np.nan_to_num(frame["x01"]) + (frame["c0"] == CATEGORIES[0]) - 0.5
        frame = frame[[*NUMERIC, *CATEGORICAL]].assign(**{PREDICTION: 1 / (1 + np.exp(-logit))})
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def profile_reference(path: Path, sketch_rows: int | None, exact: bool) -> dict:
    """The reference asset's profile of the file at `path`: streamed from sketches, or read whole and sorted."""
    import pandas as pd

    from asset_platform.declaration.names import PREDICTION
    from asset_platform.drift import build_profile
    from asset_platform.drift.profile import DEFAULT_SKETCH_ROWS, build_profile_parquet

    numeric = [*NUMERIC, PREDICTION]
    gc.collect()
    start, started, cpu = round(_peak_mb(), 1), time.perf_counter(), time.process_time()
    if exact:
        frame = pd.read_parquet(path, columns=[*numeric, *CATEGORICAL])
        profile = build_profile(frame, numeric, CATEGORICAL, sketch_rows=len(frame))
    else:
        profile = build_profile_parquet(path, numeric, CATEGORICAL, sketch_rows=sketch_rows or DEFAULT_SKETCH_ROWS)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    found = {"n_rows": profile.n_rows, "sketch": profile.sketch, "ks_bound": profile.ks_bound}
    if profile.sketch is not None:
        found["sample_ecdf_error_max"] = max(p.sample_ecdf_error for p in profile.numeric.values())
    measured = {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_mb": round(_peak_mb(), 1)}
    return {**found, **measured, "start_mb": start}


def run_reference(quick: bool) -> dict:
    """The reference profile's part: write the reference, then profile it in a fresh process (and, quick,
    the way a smaller reference is profiled)."""
    mode = "quick" if quick else "full"
    rows, sketch_rows = REFERENCE_PROFILE_ROWS[mode], REFERENCE_SKETCH_ROWS[mode]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        _child("--prepare-reference", "--folder", str(folder), "--rows", str(rows))
        limit = ["--sketch-rows", str(sketch_rows)] if sketch_rows else []
        sketched = _child("--contender", "reference", "--folder", str(folder), "--rows", str(rows), *limit)
        exact = (
            _child("--contender", "reference-exact", "--folder", str(folder), "--rows", str(rows)) if quick else None
        )
    assert sketched["n_rows"] == rows and sketched["sketch"] is not None, sketched
    entry = {
        "reference_rows": rows,
        "reference_peak_mb": sketched["peak_mb"],
        "reference_start_mb": sketched["start_mb"],
        "reference_s": sketched["seconds"],
        "reference_cpu_s": sketched["cpu_s"],
        "ks_bound": round(sketched["ks_bound"], 6),
        "sample_ecdf_error_max": round(sketched["sample_ecdf_error_max"], 6),
        "sketch": sketched["sketch"],
    }
    if exact is not None:
        entry |= {"reference_exact_peak_mb": exact["peak_mb"], "reference_exact_s": exact["seconds"]}
    print(json.dumps(entry), flush=True)
    return entry


def limit_path(model: Any, batch: Path, chunk_rows: int) -> dict:
    """Read the Parquet file with pyarrow and predict on the same rows, chunk by chunk: nothing more."""
    import pyarrow.dataset as ds

    from asset_platform.ml.scoring import featurize

    rows = 0
    for record_batch in ds.dataset(str(batch), format="parquet").to_batches(batch_size=chunk_rows):
        chunk = record_batch.to_pandas()
        model.predict(featurize(model, chunk))
        rows += len(chunk)
    return {"n_rows": rows}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(folder: Path, sizes: list[int]) -> None:
    """Train the champion, store it and its reference profile as the steps load them, and write the batches."""
    declaration = scale_declaration()
    model, profile = train_champion(declaration)
    (folder / "model").mkdir()
    model.save(folder / "model")
    (folder / "profile.json").write_text(json.dumps(profile.to_dict()))
    for rows in sizes:
        write_batch(folder / f"batch-{rows}.parquet", rows)
    # The peers' reference: the very rows the champion's reference profile is built from, as a file.
    generate(REFERENCE_ROWS, seed=1)[[*NUMERIC, *CATEGORICAL]].to_parquet(folder / "peer-reference.parquet")


def _measure(name: str, folder: Path, rows: int, chunk_rows: int | None) -> dict:
    """One contender in this process: its wall time and peak memory (ru_maxrss, the champion loaded)."""
    from asset_platform.batch_engine import DEFAULT_CHUNK_ROWS
    from asset_platform.drift import ReferenceProfile
    from asset_platform.ml import TrainedModel

    chunk_rows = chunk_rows or DEFAULT_CHUNK_ROWS
    model = TrainedModel.load(folder / "model")
    profile = ReferenceProfile.from_dict(json.loads((folder / "profile.json").read_text()))
    batch = folder / f"batch-{rows}.parquet"
    gc.collect()
    start, started, cpu = round(_peak_mb(), 1), time.perf_counter(), time.process_time()
    if name in ("local", "spark"):
        found = local_path(scale_declaration(), model, profile, batch, chunk_rows, folder, name)
    else:
        found = limit_path(model, batch, chunk_rows)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    measured = {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_mb": round(_peak_mb(), 1)}
    return {**found, **measured, "start_mb": start}


def _child(*arguments: str) -> dict:
    """Run this script with `arguments` in a fresh process (ru_maxrss survives fork and exec: the parent
    stays small and generates nothing itself) and return its last line's JSON."""
    command = [sys.executable, __file__, *arguments]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=7200).stdout
    lines = output.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def peer_python(tool: str) -> tuple[Path | None, str | None]:
    """(the python of `tool`'s own virtualenv, None), created and installed when missing; (None, why) if not."""
    folder, requirements = PEERS_DIR / tool, PEERS[tool]
    python, marker, log = folder / "bin" / "python", folder / "requirements.json", folder / "install.log"
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == requirements:
        return python, None
    wanted = " ".join(requirements)
    print(f"scale: installing {wanted} into {folder} (once; a few minutes)", file=sys.stderr, flush=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True, timeout=600)
        command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.SubprocessError) as error:
        reason = f"not installed: creating {folder} or running pip failed ({error})"
        print(f"scale: {tool} skipped, {reason}", file=sys.stderr, flush=True)
        return None, reason
    output = done.stdout + done.stderr
    log.write_text(output)
    if done.returncode != 0:
        # pip repeats a warning per package for each local index folder it lacks: not the cause.
        lines = [line for line in output.splitlines() if line.strip() and "is ignored" not in line]
        last = lines[-1].strip() if lines else f"exit status {done.returncode}"
        if any(sign in output for sign in PIP_UNREACHABLE):
            reason = f"not installed: pip could not reach a package index with {wanted} ({last}); see {log}"
        else:
            reason = f"not installed: pip failed ({last}); see {log}"
        print(f"scale: {tool} skipped, {reason}", file=sys.stderr, flush=True)
        return None, reason
    marker.write_text(json.dumps(requirements))
    return python, None


def run_peer(tool: str, python: Path, folder: Path, rows: int, timeout_s: float, memory_gb: float) -> dict:
    """`tool` on the batch of `rows` rows in a child process capped at `memory_gb` of address space and
    `timeout_s` seconds: its measurement, or {"failed": why}."""
    limit = int(memory_gb * 2**30)

    def cap() -> None:  # in the child, before exec: every allocation past the cap fails there
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    command = [
        str(python),
        str(PEER_SCRIPT),
        *("--tool", tool, "--batch", str(folder / f"batch-{rows}.parquet")),
        *("--reference", str(folder / "peer-reference.parquet")),
        *("--numeric", ",".join(NUMERIC), "--categorical", ",".join(CATEGORICAL)),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, preexec_fn=cap)
    except subprocess.TimeoutExpired:
        return {"failed": f"time: not done within --peer-timeout {timeout_s:g} s"}
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])[-400:]
    if done.returncode == -9:
        return {"failed": f"memory: killed by SIGKILL (the kernel's out-of-memory killer?) ({tail})"}
    if any(sign in done.stderr for sign in OUT_OF_MEMORY):
        return {"failed": f"memory: an allocation failed under the {memory_gb:g} GiB address-space cap ({tail})"}
    return {"failed": f"error: exit status {done.returncode} ({tail})"}


def run_benchmark(
    sizes: list[int],
    chunk_rows: int | None,
    repeats: int,
    quick: bool,
    spark_max_rows: int,
    peers: list[str],
    peer_timeout_s: float = 1800,
    peer_memory_gb: float = 20,
) -> dict:
    per_size = []
    # Each peer: its python (None: not installed), then per size finished, then where and why it stopped.
    pythons, reasons = {}, {}
    for tool in peers:
        pythons[tool], reasons[tool] = peer_python(tool)
    finished: dict[str, list[dict]] = {tool: [] for tool in peers}
    stopped_at: dict[str, int | None] = dict.fromkeys(peers)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        _child("--prepare", "--folder", str(folder), "--rows", *map(str, sizes))
        print(json.dumps({"prepared_s": round(time.perf_counter() - started, 1)}), flush=True)
        for rows in sizes:
            runs: dict[str, list[dict]] = {"local": [], "limit": []}
            for _ in range(repeats):  # alternated, so that a busy machine slows both alike; the fastest counts
                for name in runs:
                    arguments = ["--contender", name, "--folder", str(folder), "--rows", str(rows)]
                    runs[name].append(_child(*arguments, *(["--chunk-rows", str(chunk_rows)] if chunk_rows else [])))
            local, limit = (min(found, key=lambda run: run["seconds"]) for found in runs.values())
            assert local["n_rows"] == limit["n_rows"] == rows, (local["n_rows"], limit["n_rows"], rows)
            entry = {
                "rows": rows,
                "local_peak_mb": max(run["peak_mb"] for run in runs["local"]),
                "limit_peak_mb": max(run["peak_mb"] for run in runs["limit"]),
                "model_loaded_mb": local["start_mb"],
                "local_s": local["seconds"],
                "limit_s": limit["seconds"],
                "local_vs_limit": round(local["seconds"] / limit["seconds"], 2),
                # CPU seconds (all threads): what a busy shared machine disturbs least.
                "local_cpu_s": local["cpu_s"],
                "limit_cpu_s": limit["cpu_s"],
                "local_vs_limit_cpu": round(local["cpu_s"] / limit["cpu_s"], 2),
                "local_phases": local["phases"],
                "drifted_psi": local["drifted_psi"],
            }
            if rows <= spark_max_rows:  # once: Spark local[2] on this machine is the slow one
                spark = _child("--contender", "spark", "--folder", str(folder), "--rows", str(rows))
                entry |= {
                    "spark_s": spark["seconds"],
                    "spark_vs_local": round(spark["seconds"] / local["seconds"], 2),
                    "spark_counts_equal": spark["summary_sha256"] == local["summary_sha256"],
                    "spark_predictions_equal": bool(
                        max(abs(a - b) for a, b in zip(spark["predictions"], local["predictions"], strict=True)) < 1e-6
                    ),
                }
            for tool in peers:  # once per size, in increasing sizes, until a size stops the peer
                if pythons[tool] is None or stopped_at[tool] is not None:
                    continue
                print(f"scale: {tool} on {rows:,} rows", file=sys.stderr, flush=True)
                found = run_peer(tool, pythons[tool], folder, rows, peer_timeout_s, peer_memory_gb)
                if "failed" in found or found.get("n_rows") != rows:
                    stopped_at[tool] = rows
                    reasons[tool] = found.get("failed") or f"error: read {found.get('n_rows')} rows of {rows}"
                    entry[f"{tool}_stopped"] = reasons[tool]
                    continue
                measured = {
                    "rows": rows,
                    "wall_s": found["seconds"],
                    "cpu_s": found["cpu_s"],
                    "peak_mb": found["peak_mb"],
                    "drifted": found["drifted"],
                    # Ours over theirs at this size; ours also scores the batch and writes its predictions.
                    "local_vs_peer_wall": round(entry["local_s"] / found["seconds"], 2),
                    "local_vs_peer_cpu": round(entry["local_cpu_s"] / found["cpu_s"], 2),  # a busy machine skews less
                    "local_vs_peer_peak": round(entry["local_peak_mb"] / found["peak_mb"], 2),
                }
                finished[tool].append({"version": found["version"], **measured})
                entry |= {f"{tool}_s": found["seconds"], f"{tool}_peak_mb": found["peak_mb"]}
            print(json.dumps(entry), flush=True)
            per_size.append(entry)
            (folder / f"batch-{rows}.parquet").unlink()
    largest = per_size[-1]
    with_spark = [entry for entry in per_size if "spark_s" in entry]
    spark = {key: with_spark[-1][key] for key in ("spark_s", "spark_vs_local")} if with_spark else {}
    spark_measured = {"spark_rows": with_spark[-1]["rows"]} if with_spark else {}
    if with_spark:
        spark["spark_counts_equal"] = all(entry["spark_counts_equal"] for entry in with_spark)
        spark["spark_predictions_equal"] = all(entry["spark_predictions_equal"] for entry in with_spark)
    peer_results = {}
    for tool in peers:
        done = finished[tool]
        if pythons[tool] is not None and stopped_at[tool] is None:
            reasons[tool] = f"finished every size tried, up to {sizes[-1]:,} rows"
        peer_results[tool] = {
            "version": done[0]["version"] if done else PEERS[tool][0].split("==")[-1],
            "rows_max": done[-1]["rows"] if done else None,
            "stopped_at": stopped_at[tool],
            "reason": reasons[tool],
            "sizes": [{key: value for key, value in size.items() if key != "version"} for size in done],
        }
    reached = [peer["rows_max"] for peer in peer_results.values() if peer["rows_max"] is not None]
    # Measured once a peer ran, even if it finished no size (then peer_rows_max is null, with its reason).
    peers_ran = any(python is not None for python in pythons.values())
    return {
        "bench": "scale",
        "rows": largest["rows"],
        "local_peak_mb": largest["local_peak_mb"],
        "local_vs_limit": largest["local_vs_limit"],
        "local_vs_limit_cpu": largest["local_vs_limit_cpu"],
        "limit_peak_mb": largest["limit_peak_mb"],
        "estimate_cpu_s": largest["local_phases"]["estimate"]["cpu_s"],
        "chunk_rows": chunk_rows or "default",
        "sizes": [
            {k: e[k] for k in ("rows", "local_peak_mb", "limit_peak_mb", "local_vs_limit", "local_vs_limit_cpu")}
            for e in per_size
        ],
        **spark,
        **spark_measured,
        "peer_rows_max": max(reached) if reached else None,
        "peers": peer_results,
        "peer_memory_cap_gb": peer_memory_gb,
        "peer_timeout_s": peer_timeout_s,
        "not_measured": [
            *([] if with_spark else ["spark_s", "spark_counts_equal"]),
            *([] if peers_ran else ["peer_rows_max"]),
        ],
        "quick": quick,
    }


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one batch of 1,000,000 rows")
    parser.add_argument("--rows", type=int, nargs="+", help="batch sizes (default 5M 20M 50M)")
    parser.add_argument("--chunk-rows", type=int, help="rows per chunk (default: BatchEngine's)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each contender per size (fastest counts)")
    parser.add_argument("--part", choices=["all", "engine", "reference"], default="all", help="what to measure")
    parser.add_argument(
        "--spark-max-rows",
        type=int,
        default=5_000_000,
        help="run the spark engine (local[2]) on batches up to this many rows (0: never)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=sorted(PEERS),
        default=sorted(PEERS),
        help="the peers to run on each size, each in its own virtualenv under build/peers (none: --peers)",
    )
    parser.add_argument(
        "--peer-timeout", type=float, default=1800, help="seconds a peer gets per size before it is stopped there"
    )
    parser.add_argument(
        "--peer-memory-gb",
        type=float,
        default=20,
        help="address space (GiB) a peer may take (RLIMIT_AS) before it is stopped at that size",
    )
    parser.add_argument(
        "--contender", choices=["local", "limit", "spark", "reference", "reference-exact"], help=argparse.SUPPRESS
    )
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare-reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sketch-rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.rows or ([1_000_000] if args.quick else [5_000_000, 20_000_000, 50_000_000])
    if args.prepare:
        prepare(args.folder, sizes)
        return
    if args.prepare_reference:
        write_reference(args.folder / "reference.parquet", sizes[0])
        return
    if args.contender in ("reference", "reference-exact"):
        exact = args.contender == "reference-exact"
        print(json.dumps(profile_reference(args.folder / "reference.parquet", args.sketch_rows, exact)))
        return
    if args.contender:
        print(json.dumps(_measure(args.contender, args.folder, sizes[0], args.chunk_rows)))
        return
    result = {"bench": "scale"}
    if args.part in ("all", "engine"):
        result |= run_benchmark(
            sizes,
            args.chunk_rows,
            args.repeats,
            args.quick,
            args.spark_max_rows,
            args.peers,
            args.peer_timeout,
            args.peer_memory_gb,
        )
    if args.part in ("all", "reference"):
        reference = run_reference(args.quick)
        result |= {key: reference[key] for key in ("reference_rows", "reference_peak_mb", "ks_bound")}
    if args.part == "engine":
        result |= {"part": "engine", "not_measured": [*result["not_measured"], "reference_peak_mb", "ks_bound"]}
    elif args.part == "reference":
        engine = ["rows", "local_peak_mb", "local_vs_limit", "spark_s", "spark_counts_equal", "peer_rows_max"]
        result |= {"part": "reference", "not_measured": engine, "quick": args.quick}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
