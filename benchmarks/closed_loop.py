"""Benchmark: the closed loop end to end, per drift scenario, against an oracle.

For each model of the plan, each of its drift scenarios and each seed, a fresh
platform home runs the closed loop: the baseline trains, then one production
batch a day lands, the real sensors are evaluated as the daemon would, the runs
they request execute on a real instance, labels land after scoring. The scenario
starts at the middle day. The models (`--models`), one per task:

* ecommerce: binary classification, AUC (the project's example; `asset-platform demo`'s machinery);
* deliveries: regression, RMSE (the project's example; likewise);
* tickets: multiclass (four teams), macro one-vs-rest AUC (tests/ml/tickets.py);
* payments: binary with rare positives (about 1 % fraud), average precision (tests/ml/payments.py),
  at 25 times the rows a day, so a batch holds about 500 positives: with 200, a batch's realized
  average precision alone varies so much that a perfect estimate would miss it by 0.021 on average
  (`estimate_noise_floor_by_task`), above the 0.02 asked of the estimate.

The last two are declarations of a team's own kind, outside the project, so they run through
`asset_platform.testing.run_declared_loop` (the same loop, fed the generator's files).

Per run: detection delay (batches from the drift's start to the first retrain;
data-quality scenarios must never retrain), retrains triggered, false retrains
(any before the drift, any on a data-quality fault), batches until the champion
is a post-drift model, the realized metric before / during / after, and the
label-free estimate's mean absolute error against the realized metric on stable
and covariate batches: AUC for the classifier (`estimate_mae`), RMSE for the
regression model (`regression_estimate_mae`, and relative to the realized RMSE
`regression_estimate_mape`), each model's declared metric per task
(`estimate_mae_by_task`: macro AUC for multiclass, average precision for the rare
positives). The **oracle** is the champion's model family trained
on ample post-drift data (6 days of the scenario, another seed) and scored on
the same later batches: `vs_oracle` is ours over the oracle's (for an error
metric the oracle's over ours, so 1.0 is the oracle and higher is better), from
the first post-drift champion on (where the gate rejected every challenger, from
the first retrain on: `kept_champion`); `vs_oracle_end` the same over the run's
last quarter, after any follow-up retrains (`follow_ups`: retrains after the
drift-triggered one while the realized metric stayed below its pre-drift level).
Plus one long stable run per model: it must trigger nothing.

The last line is JSON with the worst case of each figure:
`worst_detection_delay`, `false_retrains`, `worst_vs_oracle`, `worst_vs_oracle_end`,
`follow_ups`, `estimate_mae`, `regression_estimate_mae`, and per task (binary,
regression, multiclass, binary_rare): `worst_detection_delay_by_task`,
`false_retrains_by_task`, `worst_vs_oracle_by_task`, `worst_vs_oracle_end_by_task`,
`follow_ups_by_task`, `max_follow_ups_in_a_run_by_task`, `estimate_mae_by_task`, and beside it
`estimate_noise_floor_by_task` (the error a perfect estimator would still make: a batch's realized metric
varies with its own labels, as wide as the estimate's 95 % interval says) and `estimate_coverage_by_task`
(how often the realized metric fell in that interval).
`--quick` runs the ecommerce model (or `--models`) on covariate, concept and nulls
with one seed and a short stable run; the full run takes hours on a laptop.

Usage: .venv/bin/python benchmarks/closed_loop.py [--quick] [--models tickets payments]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUALITY = ("nulls", "out_of_range", "missing_column")
# Days of labeled history before the first production batch (the demo's `history_days` here).
HISTORY_DAYS = 10


@dataclass(frozen=True)
class Subject:
    """A model the benchmark runs: its declaration, the generator of its days, and the task it stands for."""

    name: str
    task: str  # the key of the per-task figures
    declaration: Callable[[], Any]
    generate: Callable[[int, dt.date, int, str | None, float], Any]
    scenarios: Mapping[str, str]
    file_prefix: str
    # Declared in this project: runs through `asset-platform demo`'s machinery; else through the testing loop.
    project: bool = False
    # Rows a day relative to the plan's: rare positives need more rows for a batch to hold enough of them.
    rows_factor: int = 1


def _subjects() -> dict[str, Subject]:
    from asset_platform.synthetic import demo_dataset
    from asset_platform.synthetic.payments import PAYMENT_SCENARIOS, generate_payments
    from asset_platform.synthetic.tickets import TICKET_DRIFTS, generate_tickets
    from tests.ml.payments import payments_declaration
    from tests.ml.tickets import FAMILIES, tickets_declaration

    def project(name: str, task: str) -> Subject:
        data = demo_dataset(name)
        return Subject(
            name,
            task,
            lambda: _project_declaration(name),
            data.generate,
            data.scenarios,
            data.file_prefix,
            project=True,
        )

    @functools.cache  # built once: the declaration trains a small forest to list its custom family's types
    def tickets():
        # The router's two cheapest families, and the retraining defaults every other model here has.
        return tickets_declaration(models=FAMILIES[:2], retraining={})

    return {
        "ecommerce": project("ecommerce", "binary"),
        "deliveries": project("deliveries", "regression"),
        "tickets": Subject(
            "tickets",
            "multiclass",
            tickets,
            lambda rows, day, seed, scenario, _intensity: generate_tickets(rows, day, seed, scenario),
            TICKET_DRIFTS,
            "tickets_",
        ),
        "payments": Subject(
            "payments",
            "binary_rare",
            payments_declaration,
            generate_payments,
            PAYMENT_SCENARIOS,
            "payments_",
            rows_factor=25,
        ),
    }


def _project_declaration(name: str):
    from definitions import project_declarations

    return next(d for d in project_declarations() if d.name == name)


def _run(subject: Subject, scenario: str | None, seed: int, days: int, drift_day: int, rows: int) -> dict[str, Any]:
    if not subject.project:
        return _run_declared(subject, scenario, seed, days, drift_day, rows)
    import dagster as dg

    from asset_platform.app.demo import DemoSettings, run_demo
    from asset_platform.home import PlatformHome

    model = subject.name
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        home = PlatformHome(Path(folder)).ensure()
        # In-process: the loop's decisions are what is measured; a process per run would only add time.
        settings = DemoSettings(
            scenario or "covariate", days, drift_day, rows, HISTORY_DAYS, seed, model=model, in_process=True
        )
        if scenario is None:  # a stable run: the "drift" day is past the end
            settings.drift_day = days - 1
            settings.scenario = "covariate"
            settings.intensity = 0.0
        summary = run_demo(home, settings, outcomes.append)
        with dg.DagsterInstance.get() as instance:
            summary["estimates"] = _estimates(instance, subject)
    summary["outcomes"] = outcomes
    return summary


def _run_declared(
    subject: Subject, scenario: str | None, seed: int, days: int, drift_day: int, rows: int
) -> dict[str, Any]:
    """The same loop for a declaration outside the project: the generator's days written as a team's sample
    files (history labeled; each production batch and, landed after it is scored, its labels)."""
    import dagster as dg

    from asset_platform.app.demo import HISTORY_START
    from asset_platform.testing import BatchFiles, run_declared_loop

    declaration = subject.declaration()
    label, identity = declaration.label_column, declaration.id_column
    outcomes: list[Any] = []
    with tempfile.TemporaryDirectory() as folder:
        samples = Path(folder) / "samples"
        for part in ("history", "production", "labels"):
            (samples / part).mkdir(parents=True)
        history = []
        for index in range(HISTORY_DAYS):
            day = HISTORY_START + dt.timedelta(days=index)
            history.append(samples / "history" / f"{subject.file_prefix}{day}.parquet")
            subject.generate(rows, day, seed, None, 1.0).to_parquet(history[-1], index=False)
        batches = []
        for index in range(days):
            day = HISTORY_START + dt.timedelta(days=HISTORY_DAYS + index)
            drifting = scenario is not None and index >= drift_day
            frame = subject.generate(rows, day, seed, scenario if drifting else None, 1.0)
            name = f"{subject.file_prefix}{day}.parquet"
            frame.drop(columns=[label]).to_parquet(samples / "production" / name, index=False)
            frame[[identity, label]].to_parquet(samples / "labels" / name, index=False)
            batches.append(BatchFiles(samples / "production" / name, samples / "labels" / name, drifting))
        home = Path(folder) / "home"
        result = run_declared_loop(declaration, history, batches, home, report=outcomes.append)
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            estimates = _estimates(instance, subject)
    return {**result.summary, "estimates": estimates, "outcomes": outcomes}


def _estimates(instance, subject: Subject) -> dict[str, tuple[float, float, float | None, float | None]]:
    """Per batch: (estimated metric before labels, realized metric, the estimate's 95 % interval's low and high
    ends), read from the instance."""
    from asset_platform.lifecycle import lifecycle_names

    declaration = subject.declaration()
    metric = declaration.metric_name
    found = {}
    records = instance.fetch_materializations(lifecycle_names(declaration).key("performance"), limit=500).records
    for record in records:
        metadata = record.asset_materialization.metadata
        if f"performance/estimated_{metric}" in metadata:
            interval = metadata.get("performance/estimate_low"), metadata.get("performance/estimate_high")
            found[record.partition_key] = (
                metadata[f"performance/estimated_{metric}"].value,
                metadata[f"performance/{metric}"].value,
                *(None if bound is None else bound.value for bound in interval),
            )
    return found


def _oracle(subject: Subject, scenario: str, seed: int, start: dt.date, days: range, rows: int, family: str) -> float:
    """The metric of the champion's family trained on ample post-drift data, on the given later days."""
    import pandas as pd

    from asset_platform.declaration import ModelFamilySpec
    from asset_platform.ml.families import TrainingData, train_family, validation_split
    from asset_platform.ml.features import fit_declared_pipeline
    from asset_platform.ml.metrics import task_metrics
    from asset_platform.ml.scoring import label_values

    declaration = subject.declaration()
    generate = subject.generate
    train = pd.concat([generate(rows, start - dt.timedelta(days=30 + i), seed + 101, scenario, 1.0) for i in range(6)])
    pipeline = fit_declared_pipeline(declaration, train)
    fit, valid = validation_split(pipeline.transform(train), declaration.time_column)
    spec = next((s for s in declaration.models if s.family == family), ModelFamilySpec(family="lightgbm"))
    model_fit = train_family(spec, TrainingData(pipeline, declaration.task, fit, valid)).model
    later = pd.concat([generate(rows, start + dt.timedelta(days=d), seed, scenario, 1.0) for d in days])
    scores = model_fit.predict(pipeline.transform(later, with_label=False))
    # A multiclass label as its class codes, the order of the score columns.
    return task_metrics(declaration.task, label_values(declaration, later), scores)[declaration.metric_name]


def _figures(subject: Subject, scenario: str, seed: int, summary: dict[str, Any], rows: int) -> dict[str, Any]:
    from asset_platform.app.demo import HISTORY_START
    from asset_platform.ml.metrics import METRIC_DIRECTION

    drift_day, days = summary["drift_day"], summary["days"]
    retrains = summary["retrains"]
    promoted = [r["day"] for r in retrains if r["day"] >= drift_day and r.get("decision") == "promoted"]
    false = sum(1 for r in retrains if r["day"] < drift_day or scenario in QUALITY)
    figures = {
        "model": subject.name,
        "task": subject.task,
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
    # Where every challenger was rejected (a covariate shift the champion handles as well), the loop's answer
    # was to keep it: it is judged from the first drift-triggered retrain on, as a promoted one would be.
    answered = [r["day"] for r in retrains if r["day"] >= drift_day]
    decided = promoted[0] if promoted else (answered[0] if answered else None)
    if decided is not None and decided + 1 < days and scenario not in QUALITY:
        figures["kept_champion"] = not promoted
        first_production_day = HISTORY_START + dt.timedelta(days=HISTORY_DAYS)
        metric = subject.declaration().metric_name

        def versus(later: range) -> tuple[float, float, float]:
            oracle = _oracle(subject, scenario, seed, first_production_day, later, rows, "lightgbm")
            ours = statistics.mean(o.realized_metric for o in summary["outcomes"] if o.day in later)
            return oracle, ours, ours / oracle if METRIC_DIRECTION[metric] > 0 else oracle / ours

        # From the first post-drift champion on, and over the run's last quarter: after the follow-ups.
        oracle, ours, ratio = versus(range(decided + 1, days))
        figures.update(oracle=round(oracle, 4), ours_after=round(ours, 4), vs_oracle=round(ratio, 4))
        end = range(max(decided + 1, days - max(days // 4, 2)), days)
        figures["vs_oracle_end"] = round(versus(end)[2], 4)
    return figures


def main() -> None:
    # The composition root (definitions.py) and the declarations under tests/ live in the repository's root.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    subjects = _subjects()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="ecommerce (or --models), three scenarios, one seed")
    parser.add_argument("--models", nargs="+", choices=list(subjects), help="a subset of the models (default: all)")
    parser.add_argument("--scenarios", nargs="+", help="a subset of the scenarios (default: every one)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (default: 7 11 23)")
    parser.add_argument("--stable-days", type=int, help="days of the stable run (default: 60)")
    args = parser.parse_args()
    quick = args.quick
    if quick:
        plan = [(subjects[m], s) for m in args.models or ["ecommerce"] for s in ("covariate", "concept", "nulls")]
        seeds, days, rows, stable_days = [7], 10, 1000, 12
    else:
        # A subset (for a partial run on a small machine) keeps the full run's days and rows.
        chosen = [subjects[m] for m in args.models or subjects]
        plan = [(m, s) for m in chosen for s in m.scenarios if not args.scenarios or s in args.scenarios]
        seeds, days, rows = args.seeds or [7, 11, 23], 20, 2000
        stable_days = args.stable_days or 60
    started = time.perf_counter()
    results = []
    estimate_errors: dict[str, list[float]] = {}
    # Per task: each estimated batch's interval (low, high) and its realized metric.
    intervals: dict[str, list[tuple[float, float, float]]] = {}
    relative_errors: list[float] = []
    for subject, scenario in plan:
        metric = subject.declaration().metric_name
        for seed in seeds:
            model_rows = rows * subject.rows_factor
            summary = _run(subject, scenario, seed, days, days // 2, model_rows)
            figures = _figures(subject, scenario, seed, summary, model_rows)
            results.append(figures)
            run_errors = []
            for key, (estimated, realized, low, high) in summary["estimates"].items():
                day = next(o for o in summary["outcomes"] if o.batch == key)
                if not day.drifting or scenario == "covariate":
                    run_errors.append(abs(estimated - realized))
                    estimate_errors.setdefault(f"{subject.task}/{metric}", []).append(run_errors[-1])
                    if low is not None and high is not None:
                        intervals.setdefault(subject.task, []).append((low, high, realized))
                    if metric == "rmse" and realized > 0:
                        relative_errors.append(abs(estimated - realized) / realized)
            # This run's share of the label-free estimate's figures, so that runs split over processes add up.
            figures["estimate_errors"] = [round(error, 6) for error in run_errors]
            print(json.dumps(figures), flush=True)
    stable: dict[str, int] = {}
    for subject in {subject.name: subject for subject, _ in plan}.values():  # every model of the plan, in order
        run = _run(subject, None, seeds[0], stable_days, stable_days - 1, rows * subject.rows_factor)
        stable[subject.task] = stable.get(subject.task, 0) + run["retrains_triggered"]
        print(
            json.dumps(
                {"model": subject.name, "scenario": f"stable {stable_days} days", "retrains": run["retrains_triggered"]}
            ),
            flush=True,
        )
    _table(results)
    last = _last_line(results, stable, estimate_errors, relative_errors, started, stable_days, seeds, quick)
    print(json.dumps(last | _interval_figures(intervals)))


def _table(results: list[dict[str, Any]]) -> None:
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


def _worst(values: list[Any], pick: Callable[[list[Any]], Any]) -> Any:
    """The worst of `values` (None when there are none, or when any is None: a drift never detected)."""
    return None if not values or any(v is None for v in values) else pick(values)


def _last_line(
    results: list[dict[str, Any]],
    stable: dict[str, int],
    estimate_errors: dict[str, list[float]],
    relative_errors: list[float],
    started: float,
    stable_days: int,
    seeds: list[int],
    quick: bool,
) -> dict[str, Any]:
    # Prior shift counts too: its labels land the day its batch is scored, and a label shift is evidence.
    drifts = [r for r in results if r["scenario"] not in QUALITY]
    delays = [r["detection_delay"] for r in drifts]
    ratios = [r["vs_oracle"] for r in results if r["vs_oracle"] is not None]
    end_ratios = [r["vs_oracle_end"] for r in results if r["vs_oracle_end"] is not None]
    tasks = list(dict.fromkeys(r["task"] for r in results))

    def by_task(figure: Callable[[list[dict[str, Any]]], Any]) -> dict[str, Any]:
        return {task: figure([r for r in results if r["task"] == task]) for task in tasks}

    def of(errors: str) -> list[float]:
        return next((found for key, found in estimate_errors.items() if key.split("/")[1] == errors), [])

    return {
        "bench": "closed_loop",
        "ours_s": round(time.perf_counter() - started, 1),
        "runs": len(results) + len(stable),
        "worst_detection_delay": _worst(delays, max),
        "undetected": sum(1 for d in delays if d is None),
        "false_retrains": sum(r["false_retrains"] for r in results) + sum(stable.values()),
        "worst_vs_oracle": min(ratios) if ratios else None,
        "worst_vs_oracle_end": min(end_ratios) if end_ratios else None,
        "follow_ups": sum(r["follow_ups"] for r in results),
        "max_follow_ups_in_a_run": max((r["follow_ups"] for r in results), default=0),
        "estimate_mae": _mean(estimate_errors.get("binary/auc", [])),
        "regression_estimate_mae": _mean(of("rmse")),
        "regression_estimate_mape": _mean(relative_errors),
        "estimated_batches": {key: len(errors) for key, errors in estimate_errors.items()},
        "worst_detection_delay_by_task": by_task(
            lambda rows: _worst([r["detection_delay"] for r in rows if r["scenario"] not in QUALITY], max)
        ),
        "false_retrains_by_task": {
            task: sum(r["false_retrains"] for r in results if r["task"] == task) + stable.get(task, 0) for task in tasks
        },
        "stable_retrains_by_task": stable,
        "worst_vs_oracle_by_task": by_task(lambda rows: _worst([r["vs_oracle"] for r in rows if r["vs_oracle"]], min)),
        "worst_vs_oracle_end_by_task": by_task(
            lambda rows: _worst([r["vs_oracle_end"] for r in rows if r["vs_oracle_end"]], min)
        ),
        "follow_ups_by_task": by_task(lambda rows: sum(r["follow_ups"] for r in rows)),
        "max_follow_ups_in_a_run_by_task": by_task(lambda rows: max((r["follow_ups"] for r in rows), default=0)),
        # Each task's declared metric: AUC, RMSE, macro AUC, average precision.
        "estimate_mae_by_task": {key.split("/")[0]: _mean(errors) for key, errors in estimate_errors.items()},
        "estimate_metric_by_task": {key.split("/")[0]: key.split("/")[1] for key in estimate_errors},
        "stable_days": stable_days,
        "scenarios": sorted({r["scenario"] for r in results}),
        "seeds": seeds,
        "quick": quick,
    }


def _interval_figures(intervals: dict[str, list[tuple[float, float, float]]]) -> dict[str, Any]:
    """Per task, how often the realized metric fell in the estimate's 95 % interval, and the noise floor of the
    estimate's error: the mean absolute error a perfect estimator would still make because a batch's realized
    metric varies with its labels, E|X - mu| = sigma * sqrt(2 / pi) with sigma = interval width / 3.92."""
    floor = math.sqrt(2 / math.pi) / (2 * 1.959964)
    return {
        "estimate_coverage_by_task": {
            task: _mean([float(low <= realized <= high) for low, high, realized in found])
            for task, found in intervals.items()
        },
        "estimate_noise_floor_by_task": {
            task: _mean([floor * (high - low) for low, high, _realized in found]) for task, found in intervals.items()
        },
    }


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 4) if values else None


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
