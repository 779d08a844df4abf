"""The multiclass ticket router through its closed loop on a real instance (asset_platform.testing): batches
are scored into the predicted team and a score per team, drift is measured on those scores, labels land and
give the realized macro AUC and the class shares' shift, and a drifted batch retrains through the gate."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from asset_platform.lifecycle import lifecycle_names
from asset_platform.synthetic.tickets import TEAMS, generate_tickets
from asset_platform.testing import BatchFiles, run_declared_loop
from tests.ml.tickets import START, tickets_declaration


def _files(folder, days: range, drift: str | None) -> list[BatchFiles]:
    batches = []
    for day in days:
        frame = generate_tickets(1000, START + dt.timedelta(days=day), 1, drift)
        production, labels = folder / "production" / f"tickets_{day:02d}.parquet", folder / "labels"
        production.parent.mkdir(parents=True, exist_ok=True)
        labels.mkdir(exist_ok=True)
        frame.drop(columns=["team"]).to_parquet(production)
        frame[["ticket_id", "team"]].to_parquet(labels / production.name)
        batches.append(BatchFiles(production, labels=labels / production.name, drifting=drift is not None))
    return batches


def test_the_ticket_router_is_scored_watched_and_retrained_through_its_loop(tmp_path) -> None:
    declaration = tickets_declaration(
        models=[
            {"family": "lightgbm", "params": {"max_rounds": 60, "early_stopping_rounds": 10, "learning_rate": 0.1}},
            {"family": "sklearn"},
        ],
        retraining={"window_days": None, "min_rows": 1000},
    )
    samples = tmp_path / "samples"
    (samples / "history").mkdir(parents=True)
    history = []
    for day in range(3):
        path = samples / "history" / f"tickets_h{day}.parquet"
        generate_tickets(1000, START + dt.timedelta(days=day), 0).to_parquet(path)
        history.append(path)
    batches = [*_files(samples, range(3, 5), None), *_files(samples, range(5, 7), "prior")]
    result = run_declared_loop(declaration, history, batches, tmp_path / "home")

    assert result.baseline["decision"] == "promoted"
    rows = [day.row() for day in result.days]
    assert all(day.drift_status in ("pass", "warn") and not day.retrain for day in result.days[:2]), rows
    assert all(0.75 < day.realized_metric < 0.95 for day in result.days), rows
    # The odds of a sales ticket triple: once the first drifted batch's labels land, the class shares have moved
    # past Cohen's small effect, and the next batch retrains; the gate judges the challenger on macro AUC.
    assert result.detection_delay is not None and result.detection_delay <= 1, rows
    assert result.summary["false_retrains"] == 0
    assert result.gate_decisions and "macro_auc" in result.retrains[0]["reason"]

    names = lifecycle_names(declaration)
    with dg.DagsterInstance.from_config(str(tmp_path / "home" / "dagster")) as instance:

        def latest(asset: str) -> dict[str, dict]:
            records = instance.fetch_materializations(names.key(asset), limit=50).records
            found: dict[str, dict] = {}
            for record in reversed(records):  # newest last, so a re-materialized partition keeps its latest
                materialization = record.asset_materialization
                found[materialization.partition] = {k: v.value for k, v in materialization.metadata.items()}
            return found

        performance = latest("performance")
        shifts = {batch: found["performance/label_shift_effect"] for batch, found in performance.items()}
        assert all(found["metric"] == "macro_auc" for found in performance.values())
        assert max(shifts["tickets_03"], shifts["tickets_04"]) < 0.2 < min(shifts["tickets_05"], shifts["tickets_06"])
        assert {f"performance/label_share/{team}" for team in TEAMS} <= set(performance["tickets_05"])
        # Drift is measured on each team's score and on the predicted teams' shares, and estimated before labels.
        drift = latest("drift")["tickets_05"]
        assert all(f"| score_{team} |" in str(drift["features"]) for team in TEAMS)
        assert "| prediction |" in str(drift["features"])
        low, high = drift["estimated_macro_auc_ci_low"], drift["estimated_macro_auc_ci_high"]
        assert low < drift["estimated_macro_auc"] < high
        shares = latest("predictions")["tickets_05"]["predicted_shares"]
        assert set(shares) == set(TEAMS) and abs(sum(shares.values()) - 1) < 1e-3
