"""Benchmark: the closed loop end to end, per drift scenario, against an oracle.

For each example model (ecommerce: binary classification, AUC; deliveries:
regression, RMSE), each of its drift scenarios and each seed, a fresh platform
home runs `asset-platform demo`'s machinery: the baseline trains, then one
production batch a day lands, the real sensors are evaluated as the daemon
would, the runs they request execute on a real instance, labels land after
scoring. The scenario starts at the middle day.

Per run: detection delay (batches from the drift's start to the first retrain;
data-quality scenarios must never retrain), retrains triggered, false retrains
(any before the drift, any on a data-quality fault), batches until the champion
is a post-drift model, the realized metric before / during / after, and the
label-free estimate's mean absolute error against the realized metric on stable
and covariate batches: AUC for the classifier (`estimate_mae`), RMSE for the
regression model (`regression_estimate_mae`, and relative to the realized RMSE
`regression_estimate_mape`). The **oracle** is the champion's model family trained
on ample post-drift data (6 days of the scenario, another seed) and scored on
the same later batches: `vs_oracle` is ours over the oracle's (for an error
metric the oracle's over ours, so 1.0 is the oracle and higher is better);
`vs_oracle_end` the same over the run's last quarter, after any follow-up
retrains (`follow_ups`: retrains after the drift-triggered one while the
realized metric stayed below its pre-drift level). Plus one long stable run: it must trigger nothing.

The last line is JSON with the worst case of each figure:
`worst_detection_delay`, `false_retrains`, `worst_vs_oracle`, `worst_vs_oracle_end`,
`follow_ups`, `estimate_mae`,
`regression_estimate_mae`. `--quick` runs the ecommerce model (or `--models`) on
covariate, concept and nulls with one seed and a short stable run; the full run
takes hours on a laptop.

Usage: .venv/bin/python benchmarks/closed_loop.py [--quick] [--models deliveries]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

QUALITY = ("nulls", "out_of_range", "missing_column")


def _run(model: str, scenario: str | None, seed: int, days: int, drift_day: int, rows: int) -> dict[str, Any]:
    from asset_platform.app.demo import DemoSettings, run_demo
    from asset_platform.home import PlatformHome

    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        home = PlatformHome(Path(folder)).ensure()
        # In-process: the loop's decisions are what is measured; a process per run would only add time.
        settings = DemoSettings(scenario or "covariate", days, drift_day, rows, 10, seed, model=model, in_process=True)
        if scenario is None:  # a stable run: the "drift" day is past the end
            settings.drift_day = days - 1
            settings.scenario = "covariate"
            settings.intensity = 0.0
        summary = run_demo(home, settings, outcomes.append)
        summary["estimates"] = _estimates(home, model)
    summary["outcomes"] = outcomes
    return summary


def _estimates(home, model: str) -> dict[str, tuple[float, float]]:
    """Per batch: (estimated metric before labels, realized metric), read from the instance."""
    import dagster as dg

    metric = _metric(model)
    found = {}
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey([model, "performance"]), limit=500).records
        for record in records:
            metadata = record.asset_materialization.metadata
            if f"performance/estimated_{metric}" in metadata:
                found[record.partition_key] = (
                    metadata[f"performance/estimated_{metric}"].value,
                    metadata[f"performance/{metric}"].value,
                )
    return found


def _metric(model: str) -> str:
    return "auc" if model == "ecommerce" else "rmse"


def _oracle(model: str, scenario: str, seed: int, start: dt.date, days: range, rows: int, family: str) -> float:
    """The metric of the champion's family trained on ample post-drift data, on the given later days."""
    import pandas as pd

    from asset_platform.declaration import ModelFamilySpec
    from asset_platform.ml.families import TrainingData, train_family, validation_split
    from asset_platform.ml.features import fit_declared_pipeline
    from asset_platform.ml.metrics import task_metrics
    from asset_platform.synthetic import demo_dataset
    from definitions import project_declarations

    declaration = next(d for d in project_declarations() if d.name == model)
    data = demo_dataset(model)
    train = pd.concat(
        [data.generate(rows, start - dt.timedelta(days=30 + i), seed + 101, scenario, 1.0) for i in range(6)]
    )
    pipeline = fit_declared_pipeline(declaration, train)
    fit, valid = validation_split(pipeline.transform(train), declaration.time_column)
    spec = next((s for s in declaration.models if s.family == family), ModelFamilySpec(family="lightgbm"))
    model_fit = train_family(spec, TrainingData(pipeline, declaration.task, fit, valid)).model
    later = pd.concat([data.generate(rows, start + dt.timedelta(days=d), seed, scenario, 1.0) for d in days])
    scores = model_fit.predict(pipeline.transform(later, with_label=False))
    return task_metrics(declaration.task, later[declaration.label_column].to_numpy(), scores)[declaration.metric_name]


def _figures(model: str, scenario: str, seed: int, summary: dict[str, Any], rows: int) -> dict[str, Any]:
    from asset_platform.app.demo import HISTORY_START
    from asset_platform.ml.metrics import METRIC_DIRECTION

    drift_day, days = summary["drift_day"], summary["days"]
    retrains = summary["retrains"]
    promoted = [r["day"] for r in retrains if r["day"] >= drift_day and r.get("decision") == "promoted"]
    false = sum(1 for r in retrains if r["day"] < drift_day or scenario in QUALITY)
    figures = {
        "model": model,
        "scenario": scenario,
        "seed": seed,
        "detection_delay": summary["detection_delay_batches"],
        "retrains": summary["retrains_triggered"],
        "false_retrains": false,
        "batches_to_post_drift_champion": (promoted[0] - drift_day + 1) if promoted else None,
        "before": summary["production_metric_before_drift"],
        "during": summary["production_metric_during_drift"],
        "after": summary["production_metric_after_retraining"],
        "follow_ups": summary.get("follow_ups", 0),
        "vs_oracle": None,
        "vs_oracle_end": None,
    }
    if promoted and promoted[0] + 1 < days and scenario not in QUALITY:
        first_production_day = HISTORY_START + dt.timedelta(days=10)
        metric = _metric(model)

        def versus(later: range) -> tuple[float, float, float]:
            oracle = _oracle(model, scenario, seed, first_production_day, later, rows, "lightgbm")
            ours = statistics.mean(o.realized_metric for o in summary["outcomes"] if o.day in later)
            return oracle, ours, ours / oracle if METRIC_DIRECTION[metric] > 0 else oracle / ours

        # From the first post-drift champion on, and over the run's last quarter: after the follow-ups.
        oracle, ours, ratio = versus(range(promoted[0] + 1, days))
        figures.update(oracle=round(oracle, 4), ours_after=round(ours, 4), vs_oracle=round(ratio, 4))
        end = range(max(promoted[0] + 1, days - max(days // 4, 2)), days)
        figures["vs_oracle_end"] = round(versus(end)[2], 4)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="ecommerce (or --models), three scenarios, one seed")
    parser.add_argument("--models", nargs="+", help="a subset of the example models (default: both)")
    parser.add_argument("--scenarios", nargs="+", help="a subset of the scenarios (default: every one)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (default: 7 11 23)")
    parser.add_argument("--stable-days", type=int, help="days of the stable run (default: 60)")
    args = parser.parse_args()
    quick = args.quick
    from asset_platform.synthetic import demo_dataset

    if quick:
        plan = [(m, s) for m in args.models or ["ecommerce"] for s in ("covariate", "concept", "nulls")]
        seeds, days, rows, stable_days = [7], 10, 1000, 12
    else:
        # A subset (for a partial run on a small machine) keeps the full run's days and rows.
        models = args.models or ["ecommerce", "deliveries"]
        plan = [(m, s) for m in models for s in demo_dataset(m).scenarios if not args.scenarios or s in args.scenarios]
        seeds, days, rows = args.seeds or [7, 11, 23], 20, 2000
        stable_days = args.stable_days or 60
    started = time.perf_counter()
    results = []
    estimate_errors: dict[str, list[float]] = {"auc": [], "rmse": []}
    relative_errors: list[float] = []
    for model, scenario in plan:
        for seed in seeds:
            summary = _run(model, scenario, seed, days, days // 2, rows)
            figures = _figures(model, scenario, seed, summary, rows)
            results.append(figures)
            for key, (estimated, realized) in summary["estimates"].items():
                day = next(o for o in summary["outcomes"] if o.batch == key)
                if not day.drifting or scenario == "covariate":
                    estimate_errors[_metric(model)].append(abs(estimated - realized))
                    if _metric(model) == "rmse" and realized > 0:
                        relative_errors.append(abs(estimated - realized) / realized)
            print(json.dumps(figures), flush=True)
    stable_model = plan[0][0] if quick else "ecommerce"  # quick: the model asked for
    stable = _run(stable_model, None, seeds[0], stable_days, stable_days - 1, rows)
    stable_false = stable["retrains_triggered"]
    print(json.dumps({"model": stable_model, "scenario": f"stable {stable_days} days", "retrains": stable_false}))
    # Prior shift counts too: its labels land the day its batch is scored, and a label shift is evidence.
    drifts = [r for r in results if r["scenario"] not in QUALITY]
    delays = [r["detection_delay"] for r in drifts]
    ratios = [r["vs_oracle"] for r in results if r["vs_oracle"] is not None]
    end_ratios = [r["vs_oracle_end"] for r in results if r["vs_oracle_end"] is not None]
    print(
        f"{'model':10} {'scenario':15} {'seed':>4} {'delay':>5} {'retr':>4} {'false':>5} {'to_post':>7} "
        f"{'before':>7} {'during':>7} {'after':>7} {'vs_oracle':>9} {'end':>6} {'f-ups':>5}"
    )
    for r in results:
        print(
            f"{r['model']:10} {r['scenario']:15} {r['seed']:>4} {_cell(r['detection_delay']):>5} {r['retrains']:>4} "
            f"{r['false_retrains']:>5} {_cell(r['batches_to_post_drift_champion']):>7} {_cell(r['before']):>7} "
            f"{_cell(r['during']):>7} {_cell(r['after']):>7} {_cell(r['vs_oracle']):>9} "
            f"{_cell(r['vs_oracle_end']):>6} {r['follow_ups']:>5}"
        )
    worst_delay = None if any(d is None for d in delays) or not delays else max(delays)
    print(
        json.dumps(
            {
                "bench": "closed_loop",
                "ours_s": round(time.perf_counter() - started, 1),
                "runs": len(results) + 1,
                "worst_detection_delay": worst_delay,
                "undetected": sum(1 for d in delays if d is None),
                "false_retrains": sum(r["false_retrains"] for r in results) + stable_false,
                "worst_vs_oracle": min(ratios) if ratios else None,
                "worst_vs_oracle_end": min(end_ratios) if end_ratios else None,
                "follow_ups": sum(r["follow_ups"] for r in results),
                "max_follow_ups_in_a_run": max((r["follow_ups"] for r in results), default=0),
                "estimate_mae": _mean(estimate_errors["auc"]),
                "regression_estimate_mae": _mean(estimate_errors["rmse"]),
                "regression_estimate_mape": _mean(relative_errors),
                "estimated_batches": {metric: len(errors) for metric, errors in estimate_errors.items()},
                "stable_days": stable_days,
                "scenarios": sorted({scenario for _, scenario in plan}),
                "seeds": seeds,
                "quick": quick,
            }
        )
    )


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 4) if values else None


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
