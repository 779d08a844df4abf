"""A peer's drift check of one batch against a reference, for benchmarks/scale.py.

Runs with a peer's own virtualenv (build/peers/<tool>/bin/python), never with the platform's:
it imports only the peer, pandas and pyarrow (and what they import), so it stays a standalone file.

* evidently - the 0.7 Report API: `Report([DataDriftPreset(columns=...)])` run on the batch
  (current) and the reference, both read whole into pandas as Evidently needs them; a feature
  drifts where its ValueDrift score crosses the preset's threshold (Evidently's default method per
  column: Wasserstein distance for numeric, Jensen-Shannon for categorical at these sizes).
* whylogs - its documented way: profile the reference (`why.log`) and the batch, the batch tracked
  `--chunk-rows` rows at a time into one profile (its mergeable sketches need no whole batch),
  then `calculate_drift_scores` on the two profile views (KS on the KLL sketches for numeric,
  chi-square on frequent items for categorical); a feature drifts where its category is DRIFT.

The last line printed is JSON: the tool and its version, rows, wall and CPU seconds, peak resident
memory (ru_maxrss of this process, libraries included), and per feature its score and verdict.
Run: build/peers/<tool>/bin/python benchmarks/scale_peers.py --tool TOOL --batch B --reference R
--numeric x00,x01 --categorical c0,c1
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def run_evidently(batch: Path, reference: Path, numeric: list[str], categorical: list[str], chunk_rows: int) -> dict:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [*numeric, *categorical]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    current = Dataset.from_pandas(pd.read_parquet(batch, columns=columns), data_definition=definition)
    reference_data = Dataset.from_pandas(pd.read_parquet(reference, columns=columns), data_definition=definition)
    rows = len(current.as_dataframe())
    snapshot = Report([DataDriftPreset(columns=columns)]).run(current, reference_data)
    features = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift") and config.get("column") in columns:
            score, threshold = float(metric["value"]), float(config["threshold"])
            method = config.get("method")
            # Evidently's verdict: a p-value drifts below its threshold, a distance at or above it.
            drifted = score < threshold if method and "p_value" in method else score >= threshold
            features[config["column"]] = {"method": method, "score": round(score, 6), "drifted": drifted}
    return {"n_rows": rows, "features": features}


def run_whylogs(batch: Path, reference: Path, numeric: list[str], categorical: list[str], chunk_rows: int) -> dict:
    import pandas as pd
    import pyarrow.parquet as pq
    import whylogs as why
    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    columns = [*numeric, *categorical]
    reference_view = why.log(pandas=pd.read_parquet(reference, columns=columns)).view()
    profile, rows = None, 0
    for record_batch in pq.ParquetFile(batch).iter_batches(batch_size=chunk_rows, columns=columns):
        chunk = record_batch.to_pandas()
        rows += len(chunk)
        if profile is None:
            profile = why.log(pandas=chunk).profile()
        else:
            profile.track(pandas=chunk)
    if profile is None:
        raise SystemExit(f"the batch {batch} has no rows")
    scores = calculate_drift_scores(target_view=profile.view(), reference_view=reference_view, with_thresholds=True)
    features = {}
    for name in columns:
        found = scores.get(name) or {}
        features[name] = {
            "method": found.get("algorithm"),
            "score": found.get("pvalue"),
            "drifted": found.get("drift_category") == "DRIFT",
        }
    return {"n_rows": rows, "features": features}


TOOLS = {"evidently": run_evidently, "whylogs": run_whylogs}
# Imported before the clock starts, as the platform's contenders have their libraries loaded.
MODULES = {"evidently": "evidently.presets", "whylogs": "whylogs.viz.drift.column_drift_algorithms"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", choices=sorted(TOOLS), required=True)
    parser.add_argument("--batch", type=Path, required=True, help="the batch, one Parquet file")
    parser.add_argument("--reference", type=Path, required=True, help="the reference rows, one Parquet file")
    parser.add_argument("--numeric", required=True, help="numeric feature names, comma-separated")
    parser.add_argument("--categorical", required=True, help="categorical feature names, comma-separated")
    parser.add_argument("--chunk-rows", type=int, default=131_072, help="rows per tracked chunk (whylogs)")
    args = parser.parse_args()
    for path in (args.batch, args.reference):
        if not path.is_file():
            raise SystemExit(f"no Parquet file at {path}")
    import importlib
    from importlib.metadata import version

    importlib.import_module("pandas")
    importlib.import_module(MODULES[args.tool])
    numeric, categorical = args.numeric.split(","), args.categorical.split(",")
    start = round(_peak_mb(), 1)
    started, cpu = time.perf_counter(), time.process_time()
    found = TOOLS[args.tool](args.batch, args.reference, numeric, categorical, args.chunk_rows)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    found["drifted"] = sorted(name for name, feature in found["features"].items() if feature["drifted"])
    measured = {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_mb": round(_peak_mb(), 1)}
    print(json.dumps({"tool": args.tool, "version": version(args.tool), **found, **measured, "start_mb": start}))


if __name__ == "__main__":
    main()
