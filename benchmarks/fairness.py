"""Benchmark: what fairness and explanations cost beside training, and how often the rule blocks by chance.

Data (numpy, seeded; `asset_platform.synthetic.fairness`): rows with four
regions, in one of which ("west") the label follows its own rule; 40,000 rows
(`--quick`: 6,000), the newest 30 % held out.

* Cost. Baseline: training the three built-in families of the e-commerce
  example (LightGBM, scikit-learn logistic regression, PyTorch MLP) on the
  training rows, as the model assets do. Fairness + explanation steps: what the
  evaluation asset adds (per-group metrics with 300 paired bootstrap resamples
  for two attributes and three models, tables, charts; attributions of the three
  models on a 2,000-row sample, per group, chart) plus what the gate adds (the
  fairness rule for champion vs challenger; both models' attributions and their
  rank correlation). ours_s is those steps (the holdout's scores, which the
  evaluation and the gate compute anyway, and matplotlib's import, which their
  other charts pay, are outside it); limit_s is 20 % of the baseline.
* False blocks. A LightGBM champion (bagging, so the seed matters) against
  retrains that differ only by seed (20 in --quick, 50 in full); a block is a
  false block. Tolerance 0.03 AUC, groups of at least 50 holdout rows.
  Also the share of planted-bias retrains (5 % of "west" kept, different draws)
  that the rule blocks.
* Peer: fairlearn's `MetricFrame(n_boot=300)` for the same per-group metrics of
  one model (its own resamples), against our weighted-sum bootstrap.
* Drift step (`--drift-step`, run alone): the ecommerce example's baseline
  trained in a fresh platform home (8 days x 1,200 rows, seed 7), then
  `DRIFT_BATCHES` stable production batches scored through the batch sensor, in
  process. Per batch: champion loads (`ModelLineup.load` calls) in the run, and
  the drift and predictions steps' times (STEP_START to STEP_SUCCESS in the
  event log); medians over the batches after the first (imports warm). Then
  `drift_own_process_s`: each batch's drift step again, alone, in a step
  process of its own (Dagster's multiprocess executor; a pod in production),
  where a model load starts cold.

Run: .venv/bin/python benchmarks/fairness.py [--quick | --drift-step]. The last line is JSON.
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asset_platform.declaration import ModelDeclaration  # noqa: E402
from asset_platform.fairness import evaluate_groups, group_labels, judge  # noqa: E402
from asset_platform.fairness.audit import (  # noqa: E402
    evaluation_metadata,
    gate_explanations,
    gate_fairness,
    holdout_attribute_rows,
)
from asset_platform.ml.features import time_split  # noqa: E402
from asset_platform.ml.scoring import score_rows  # noqa: E402
from asset_platform.synthetic.fairness import (  # noqa: E402
    fairness_columns,
    fairness_rows,
    fit_on_fairness_rows,
    under_represent,
)

TOLERANCE = 0.03
SEEDED = {"bagging_fraction": 0.8, "bagging_freq": 1, "max_rounds": 200}
DECLARATION = ModelDeclaration(
    name="bench",
    task="binary_classification",
    id_column="row_id",
    label_column="label",
    time_column="at",
    columns=fairness_columns(),
    models=[{"family": "lightgbm"}],
    fairness={"attributes": ["region", "segment_flag"], "tolerance": TOLERANCE, "min_group_size": 50},
)


def train(rows, family: str, params: dict | None = None):
    return fit_on_fairness_rows(rows, family, params)[0]


def cost(train_rows, holdout) -> dict:
    started = time.perf_counter()
    models = {family: train(train_rows, family) for family in ("lightgbm", "sklearn", "torch")}
    baseline_s = time.perf_counter() - started
    features = {name: m.extra["feature_pipeline"] for name, m in models.items()}
    from asset_platform.ml.features import FeaturePipeline

    holdout_features = FeaturePipeline.from_dict(features["lightgbm"]).transform(holdout)
    # The evaluation asset and the gate score the holdout and draw their charts without fairness:
    # scores and the plotting library's import are theirs, not the fairness steps' cost.
    scores = {name: score_rows(model, holdout) for name, model in models.items()}
    import matplotlib.pyplot  # noqa: F401

    started = time.perf_counter()
    attributes = holdout_attribute_rows(DECLARATION, holdout_features, holdout)
    evaluation = evaluation_metadata(DECLARATION, holdout_features, attributes, scores, models)
    gate = gate_fairness(DECLARATION, holdout, scores["sklearn"], scores["lightgbm"])
    explanations = gate_explanations(DECLARATION, holdout, models["sklearn"], models["lightgbm"])
    extra_s = time.perf_counter() - started
    assert evaluation and gate is not None and explanations
    return {"baseline_s": baseline_s, "extra_s": extra_s}


def false_blocks(train_rows, holdout, seeds: int, biased: int) -> dict:
    champion = train(train_rows, "lightgbm", {**SEEDED, "seed": 1})
    retrains = {f"seed_{s}": train(train_rows, "lightgbm", {**SEEDED, "seed": s}) for s in range(2, seeds + 2)}
    for draw in range(biased):
        retrains[f"biased_{draw}"] = train(under_represent(train_rows, 0.05, seed=draw), "lightgbm", {**SEEDED})
    scores = {"champion": score_rows(champion, holdout), **{n: score_rows(m, holdout) for n, m in retrains.items()}}
    groups = {"region": group_labels(holdout["region"]), "segment_flag": group_labels(holdout["segment_flag"])}
    evidence = evaluate_groups(
        groups, holdout["label"].to_numpy(), scores, task="binary_classification", metric="auc", resamples=300
    )
    blocked = {name: judge(evidence, "champion", name, "auc", TOLERANCE).blocked for name in retrains}
    seed_blocks = [blocked[n] for n in blocked if n.startswith("seed_")]
    bias_blocks = [blocked[n] for n in blocked if n.startswith("biased_")]
    return {
        "false_block_rate": float(np.mean(seed_blocks)),
        "seeds": len(seed_blocks),
        "bias_block_rate": float(np.mean(bias_blocks)) if bias_blocks else float("nan"),
        "biased_retrains": len(bias_blocks),
    }


def peer(holdout, model) -> dict:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import roc_auc_score

    scores = score_rows(model, holdout)
    labels, groups = holdout["label"].to_numpy(), group_labels(holdout["region"])
    started = time.perf_counter()
    evaluate_groups({"region": groups}, labels, {"m": scores}, task="binary_classification", metric="auc")
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    predicted = (scores >= 0.5).astype(int)
    MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate},
        y_true=labels,
        y_pred=predicted,
        sensitive_features=groups,
        n_boot=300,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    MetricFrame(
        metrics=roc_auc_score,
        y_true=labels,
        y_pred=scores,
        sensitive_features=groups,
        n_boot=300,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    return {"group_bootstrap_s": ours_s, "fairlearn_s": time.perf_counter() - started}


DRIFT_BATCHES = 8
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def drift_step(batches: int) -> dict:
    """Per scored ecommerce batch: champion loads in its run, and the drift and predictions steps' seconds."""
    import os
    import statistics
    import tempfile

    import dagster as dg

    from asset_platform.app.demo import HISTORY_START, DemoSettings, land_day, start_loop, tick
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import HOME_ENV_VAR, PlatformHome
    from asset_platform.lifecycle.names import CHAMPION, DRIFT, PREDICTIONS
    from asset_platform.registry.models import ModelLineup
    from asset_platform.synthetic import write_batches

    loads: list[str] = []
    load = ModelLineup.load

    def counted(lineup, asset, version):  # the registry's one way to read a model version
        loads.append(version)
        return load(lineup, asset, version)

    settings = DemoSettings("covariate", batches, batches, 1200, 8, 7, model="ecommerce")
    per_batch: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        home = PlatformHome(Path(folder) / "platform").ensure()
        os.environ[HOME_ENV_VAR] = str(home.root)  # for `_score_job` in the step processes
        with dg.DagsterInstance.from_config(str(prepare_dagster_home(home))) as instance:
            state = start_loop(home, "ecommerce", instance)
            write_batches(state.landing.history, HISTORY_START, 8, 1200, seed=7)
            training = state.defs.resolve_job_def(state.names.training_job)
            assert training.execute_in_process(instance=instance, run_config=QUIET).success
            for index in range(batches):
                path, _labels = land_day(state, settings, index, None)[1:]
                before, ModelLineup.load = len(loads), counted
                try:
                    [run] = tick(state, state.names.batch_sensor)
                finally:
                    ModelLineup.load = load
                assert run.success
                seconds = _step_seconds(instance, run.run_id)
                per_batch.append(
                    {
                        "loads": len(loads) - before,
                        "drift_s": seconds[state.names.op(DRIFT)],
                        "predictions_s": seconds[state.names.op(PREDICTIONS)],
                        "drift_own_process_s": _drift_in_own_process(instance, path.stem, state.names, DRIFT),
                    }
                )
            champion = state.defs.resources["registry"].store.get(state.names.path(CHAMPION))["model_asset"]
    warm = per_batch[1:] or per_batch
    return {
        "batches": batches,
        "champion": champion,
        "model_loads_per_batch": statistics.median(b["loads"] for b in per_batch),
        **{key: round(statistics.median(b[key] for b in warm), 4) for key in per_batch[0] if key != "loads"},
        "per_batch": [{k: round(v, 4) for k, v in b.items()} for b in per_batch],
    }


def _score_job():
    """The ecommerce score job on the home in $ASSET_PLATFORM_HOME; each step process rebuilds it from here."""
    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions, project_declarations

    [declaration] = [d for d in project_declarations() if d.name == "ecommerce"]
    defs = build_definitions([declaration], local_resources(PlatformHome.from_env()))
    return defs.resolve_job_def(lifecycle_names(declaration).score_batch_job)


def _drift_in_own_process(instance, batch: str, names, drift: str) -> float:
    """The drift step of `batch` again, alone, in a step process of its own (the multiprocess executor; a pod in
    production): its seconds from STEP_START to STEP_SUCCESS, a model load there included."""
    import dagster as dg

    job = dg.reconstructable(_score_job)
    # One executor process at a time, as on a loaded worker: the step's own cost, not its neighbours'.
    config = {**QUIET, "execution": {"config": {"multiprocess": {"max_concurrent": 1}}}}
    with dg.execute_job(
        job,
        instance=instance,
        run_config=config,
        tags={"dagster/partition": batch},
        asset_selection=[names.key(drift)],
    ) as result:
        assert result.success
        return _step_seconds(instance, result.run_id)[names.op(drift)]


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    """Each step's seconds from its STEP_START to its STEP_SUCCESS event."""
    import dagster as dg

    started, seconds = {}, {}
    for entry in instance.all_logs(run_id):
        kind = entry.dagster_event.event_type if entry.dagster_event else None
        if kind == dg.DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            seconds[entry.step_key] = entry.timestamp - started[entry.step_key]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6,000 rows, 20 seeds (a few minutes on 2 cores)")
    parser.add_argument("--drift-step", action="store_true", help="only the ecommerce drift step's model loads")
    args = parser.parse_args()
    if args.drift_step:
        print(json.dumps({"bench": "fairness_drift_step", **drift_step(DRIFT_BATCHES)}))
        return
    rows = fairness_rows(6_000 if args.quick else 40_000, seed=1)
    train_rows, holdout, _ = time_split(rows, "at", 0.3)
    measured = cost(train_rows, holdout)
    blocks = false_blocks(train_rows, holdout, 20 if args.quick else 50, 5 if args.quick else 10)
    compared = peer(holdout, train(train_rows, "lightgbm"))
    limit_s = 0.2 * measured["baseline_s"]
    result = {
        "bench": "fairness",
        "rows": len(rows),
        "baseline_training_s": round(measured["baseline_s"], 3),
        "overhead_ratio": round(measured["extra_s"] / measured["baseline_s"], 4),
        **{key: round(value, 4) if isinstance(value, float) else value for key, value in blocks.items()},
        "tolerance": TOLERANCE,
        "group_bootstrap_s": round(compared["group_bootstrap_s"], 4),
        "peer": "fairlearn MetricFrame n_boot=300",
        "peer_s": round(compared["fairlearn_s"], 3),
        "vs_peer": round(compared["group_bootstrap_s"] / compared["fairlearn_s"], 4),
        "ours_s": round(measured["extra_s"], 3),
        "limit_s": round(limit_s, 3),
        "vs_limit": round(measured["extra_s"] / limit_s, 3),
        "quick": args.quick,
    }
    print(f"{'step':<44}{'seconds':>10}")
    print(f"{'baseline training (lightgbm, sklearn, torch)':<44}{measured['baseline_s']:>10.2f}")
    print(f"{'fairness + explanation steps':<44}{measured['extra_s']:>10.2f}")
    print(f"{'  overhead (goal <= 20 %)':<44}{result['overhead_ratio']:>10.1%}")
    print(f"{'per-group bootstrap, ours (1 model)':<44}{compared['group_bootstrap_s']:>10.3f}")
    print(f"{'per-group bootstrap, fairlearn MetricFrame':<44}{compared['fairlearn_s']:>10.3f}")
    print(f"false blocks over {blocks['seeds']} seed-only retrains: {blocks['false_block_rate']:.1%} (goal <= 5 %)")
    print(f"planted-bias retrains blocked: {blocks['bias_block_rate']:.0%} of {blocks['biased_retrains']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
