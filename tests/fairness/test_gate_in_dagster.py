"""The fairness rule inside the real lifecycle: a retrain that starves a group is rejected at the gate.

Run 1 trains the champion on days where every region is well represented. Run 2
retrains on a window (days 9-12) where "west" is 1 % of the rows, and is scored
on a holdout where it is 15 % again. The metric gate is told to pass anything
(margin -1), so the rejection is the fairness rule's alone.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import CHAMPION, EVALUATION
from asset_platform.synthetic.fairness import SHARES, fairness_columns, fairness_rows
from definitions import build_definitions

ROWS_PER_DAY = 700
STARVED = (0.40, 0.34, 0.25, 0.01)

AUDITED = ModelDeclaration(
    name="audited",
    task="binary_classification",
    id_column="row_id",
    label_column="label",
    time_column="at",
    columns=fairness_columns(),
    models=[{"family": "lightgbm", "params": {"max_rounds": 150, "bagging_fraction": 0.8, "bagging_freq": 1}}],
    gate={"resamples": 200},
    fairness={"attributes": ["region", "segment_flag"], "tolerance": 0.03, "min_group_size": 40},
    explanations={"sample_rows": 300, "top_reasons": 2},
)
NAMES = lifecycle_names(AUDITED)


def _land(folder, first: int, last: int, shares: tuple[float, ...]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(first, last + 1):
        start = (dt.date(2026, 1, 1) + dt.timedelta(days=day - 1)).isoformat()
        fairness_rows(ROWS_PER_DAY, seed=day, start=start, days=1, shares=shares).to_parquet(
            folder / f"rows_{start}.parquet"
        )


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == NAMES.key(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    from asset_platform.resources.local import local_resources

    home = PlatformHome(tmp_path_factory.mktemp("fairness") / "platform").ensure()
    resources = local_resources(home)
    history = resources["landing"].for_model(AUDITED).history
    defs = build_definitions([AUDITED], resources)
    job = defs.resolve_job_def(NAMES.training_job)
    with dg.instance_for_test() as instance:
        _land(history, 1, 8, SHARES)
        first = job.execute_in_process(instance=instance)
        _land(history, 9, 11, STARVED)
        _land(history, 12, 12, SHARES)
        config = {
            "ops": {
                NAMES.feature_op: {"config": {"window_days": 4, "holdout_fraction": 0.25}},
                NAMES.op(CHAMPION): {"config": {"margin": -1.0}},
            }
        }
        second = job.execute_in_process(instance=instance, run_config=config)
        logs = [entry.user_message for entry in instance.all_logs(second.run_id)]
        monitored = _monitor_a_drifted_batch(instance, defs, resources)
        yield first, second, logs, monitored


def _monitor_a_drifted_batch(instance, defs, resources) -> list[dg.ExecuteInProcessResult]:
    """One production batch in which x1 (the feature that drives most groups' label) moved, x4 too."""
    from asset_platform.app.demo import LoopState, tick

    landing = resources["landing"].for_model(AUDITED).ensure()
    batch = fairness_rows(ROWS_PER_DAY, seed=99, start="2026-01-13", days=1).drop(columns=["label"])
    batch["x1"] += 1.5
    batch["x4"] += 1.5
    landing.production.mkdir(parents=True, exist_ok=True)
    temporary = landing.production / ".rows_2026-01-13.parquet.tmp"
    batch.to_parquet(temporary)
    temporary.rename(landing.production / "rows_2026-01-13.parquet")
    return tick(LoopState(instance, defs, NAMES, landing), NAMES.batch_sensor)


def test_the_evaluation_page_has_per_group_tables_charts_and_attributions(runs) -> None:
    first, _, _, _ = runs
    assert first.success
    metadata = _metadata(first, EVALUATION)
    assert "region=west" in metadata["fairness/groups"] and "segment_flag=True" in metadata["fairness/groups"]
    assert "data:image/png;base64," in metadata["fairness/chart_region"]
    assert "data:image/png;base64," in metadata["explanations/chart"]
    assert "lightgbm pred_contrib" in metadata["explanations/methods"]["lightgbm_model"]
    assert "region=west" in metadata["explanations/by_group"]


def test_a_retrain_that_starves_a_group_is_rejected_by_the_fairness_rule(runs) -> None:
    _, second, logs, _ = runs
    assert second.success
    decision = _metadata(second, CHAMPION)
    assert decision["decision"] == "rejected"
    assert "by the fairness rule" in decision["reason"] and "worst region=west" in decision["reason"]
    assert "the metric gate alone would pass" in decision["reason"]
    assert decision["fairness/blocked"] is True
    assert "region BLOCKS" in decision["fairness"] and "95% CI" in decision["fairness"]
    assert "champion" in decision["fairness/groups"] and "challenger" in decision["fairness/groups"]
    assert "data:image/png;base64," in decision["fairness/chart_region"]
    assert -1.0 <= decision["explanations/rank_correlation"] <= 1.0
    [outcome] = [line for line in logs if line.startswith("[retraining_outcome]")]
    assert "Fairness: region blocked" in outcome and "worst region=west" in outcome


def test_the_model_page_shows_its_attributions(runs) -> None:
    first, _, _, _ = runs
    metadata = _metadata(first, "lightgbm_model")
    assert "data:image/png;base64," in metadata["explanations/chart"]
    assert metadata["explanations/method"] == "lightgbm pred_contrib (TreeSHAP)"
    assert "x1" in metadata["explanations/global"]


def test_the_drift_report_says_which_drifted_features_move_the_output(runs) -> None:
    *_, monitored = runs
    [drift] = [
        event.materialization.metadata
        for result in monitored
        for event in result.get_asset_materialization_events()
        if event.asset_key == NAMES.key("drift")
    ]
    moving = drift["attribution_drift/moving_drifted_features"].value
    assert "x1" in moving
    values = drift["attribution_drift/values"].value
    assert set(values) == {"x1", "x2", "x3", "x4", "region", "segment_flag"}
    assert "drifted features that move the output" in drift["attribution_drift"].value


def test_predictions_carry_each_rows_top_reasons(runs) -> None:
    import pandas as pd

    *_, monitored = runs
    # The predictions as stored (the step writes them chunk by chunk to a Parquet file, not a frame in memory).
    [frame] = [
        pd.read_parquet(_metadata(result, "predictions")["dvc/path"])
        for result in monitored
        if NAMES.op("predictions") in {node.name for node in result.job_def.nodes}
    ]
    reasons = frame["reasons"].tolist()
    assert len(reasons) == ROWS_PER_DAY and all(len(r.split("; ")) == 2 for r in reasons)
    assert sum(r.startswith("x1 ") for r in reasons) > ROWS_PER_DAY / 4
