"""The whole closed loop with the `spark` batch engine: baseline, stable and drifted batches, retrain, gate.

A team's own declaration (the loans model, nothing like the examples) runs on a real
Dagster instance with `BatchEngine(engine="spark")` on `local[2]`: every batch is
scored and summarized by Spark, the shifted batches are judged drifted and retrain,
the gate decides, and labels join the Spark-written predictions.
"""

from __future__ import annotations

import dagster as dg

from asset_platform.declaration.names import BATCH_CONTRACT_CHECK
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import BATCHES, DRIFT, PREDICTIONS
from asset_platform.testing import BatchFiles, run_declared_loop
from tests.project.samples import loans_declaration, sample_files
from tests.spark import spark_engine


def test_the_closed_loop_runs_on_the_spark_engine(tmp_path):
    declaration = loans_declaration()
    # One clean batch, then one shifted: as few Spark jobs as the loop's every step needs.
    history, batches = sample_files(declaration, tmp_path / "samples", history_days=6, clean=1, drifted=1)
    result = run_declared_loop(
        declaration,
        history=history,
        batches=[BatchFiles(production, labels, drifting) for production, labels, drifting in batches],
        home=tmp_path / "home",
        resources={"batch_engine": spark_engine(chunk_rows=250)},
    )
    assert result.baseline["decision"] == "promoted"
    assert result.days[0].drift_status == "pass"
    assert result.days[1].drift_status not in ("pass", "-")
    assert result.detection_delay == 0
    assert result.summary["false_retrains"] == 0
    assert result.gate_decisions and result.gate_decisions[0] in ("promoted", "rejected")
    assert all(day.realized_metric == day.realized_metric for day in result.days)  # labels joined: a number

    # Every batch's predictions and drift verdict came from Spark, recorded on the materializations.
    names = lifecycle_names(declaration)
    with dg.DagsterInstance.local_temp(str(PlatformHome(tmp_path / "home").dagster_home)) as instance:
        for key in (names.key(PREDICTIONS), names.key(DRIFT)):
            events = instance.fetch_materializations(key, limit=100).records
            engines = {event.asset_materialization.metadata["batch_engine"].value for event in events}
            assert len(events) >= len(batches) and engines == {"spark"}, key
        # The batches, bigger than a chunk, had their contract checked on Spark (batch_engine/spark_contract.py).
        check = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(names.key(BATCHES), BATCH_CONTRACT_CHECK)
        )
        assert check.event.asset_check_evaluation.metadata["contract_checked_by"].value == "spark"
