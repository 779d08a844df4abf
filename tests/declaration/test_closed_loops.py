"""A user's own model, declared once, runs the whole closed loop on a real Dagster instance.

One code location holds the user's loan model (declared in Python, columns
named nothing like the examples) and the regression example (`deliveries`,
declared in YAML). Both train; stable batches change nothing; drift in the loan
model retrains the loan model only; drift in the delivery model retrains it with
RMSE in the gate and in `performance`. Notifications go to a real webhook.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from asset_platform.app.demo import LoopState, tick
from asset_platform.lifecycle import lifecycle_names
from asset_platform.notify import Notifier
from asset_platform.registry.models import lineup_for
from asset_platform.resources.local import local_resources
from asset_platform.synthetic import write_batches
from asset_platform.synthetic.landing import write_labels, write_production_day
from asset_platform.testing import automate
from definitions import build_definitions, project_declarations
from tests.declaration.loans import PYTHON_DECLARATION, land_batch, land_labels, loans_declaration, write_history
from tests.processes import webhook_receiver

START = dt.date(2026, 3, 1)
HISTORY_DAYS, ROWS = 6, 1000


@pytest.fixture(scope="module")
def webhook():
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def location(tmp_path_factory, webhook):
    """Both models trained on one instance; returns (loans state, deliveries state, resources)."""
    import os

    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome

    home = PlatformHome(tmp_path_factory.mktemp("two-models")).ensure()
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    deliveries = next(d for d in project_declarations() if d.name == "deliveries")
    loans = loans_declaration()
    resources = {**local_resources(home), "notifier": Notifier(webhook_url=webhook[0], max_attempts=2)}
    defs = build_definitions([loans, deliveries], resources)
    landing = resources["landing"]
    write_history(landing.for_model(loans).history, START, HISTORY_DAYS, ROWS)
    write_batches(landing.for_model(deliveries).history, START, HISTORY_DAYS, ROWS, seed=5, dataset="deliveries")
    with dg.DagsterInstance.get() as instance:
        states = {
            d.name: LoopState(instance, defs, lifecycle_names(d), landing.for_model(d).ensure())
            for d in (loans, deliveries)
        }
        for state in states.values():
            assert state.defs.resolve_job_def(state.names.training_job).execute_in_process(instance=instance).success
        # The daemon's first look at the overview's automation condition: it starts from here.
        automate(states["loans"])
        yield states, resources
    if previous is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = previous


def _loans_day(state: LoopState, index: int, drift: str | None) -> list:
    day = START + dt.timedelta(days=HISTORY_DAYS + index)
    labels = land_batch(state.landing, day, ROWS, drift)
    scored = tick(state, state.names.batch_sensor)
    land_labels(state.landing, day, labels)
    return [*scored, *tick(state, state.names.labels_sensor), *tick(state, state.names.drift_retrain_sensor)]


def _deliveries_day(state: LoopState, index: int, scenario: str | None) -> list:
    day = START + dt.timedelta(days=HISTORY_DAYS + index)
    _path, labels = write_production_day(state.landing.production, day, ROWS, 5, scenario, dataset="deliveries")
    scored = tick(state, state.names.batch_sensor)
    write_labels(state.landing.labels, day, labels, "deliveries")
    return [*scored, *tick(state, state.names.labels_sensor), *tick(state, state.names.drift_retrain_sensor)]


def _runs(state: LoopState, job: str) -> list[dg.DagsterRun]:
    return list(state.instance.get_runs(dg.RunsFilter(job_name=job)))


def _metadata(results: list, key: dg.AssetKey) -> dict:
    for result in results:
        for event in result.get_asset_materialization_events():
            if event.asset_key == key:
                return {name: value.value for name, value in event.materialization.metadata.items()}
    return {}


def test_the_python_declaration_is_at_most_40_lines() -> None:
    assert len(PYTHON_DECLARATION.read_text().splitlines()) <= 40


def test_two_declarations_train_side_by_side_with_their_own_names(location) -> None:
    states, resources = location
    for name, state in states.items():
        champion = lineup_for(resources["registry"], state.names).champion()
        assert champion is not None and champion.model_asset.startswith(f"{name}/")
    loans_keys = {key.to_user_string() for key in states["loans"].defs.resolve_all_asset_keys()}
    assert {"loans/raw_data", "loans/lightgbm_model", "loans/hgb_model", "loans/champion"} <= loans_keys
    assert {"deliveries/champion", "deliveries/drift"} <= loans_keys


def test_drift_in_one_model_retrains_that_model_only(location, webhook) -> None:
    states, resources = location
    loans, deliveries = states["loans"], states["deliveries"]
    deliveries_champion = lineup_for(resources["registry"], deliveries.names).champion()
    stable = _loans_day(loans, 0, None) + _deliveries_day(deliveries, 0, None)
    assert stable and all(result.success for result in stable)
    assert not _runs(loans, loans.names.retraining_job) and not _runs(deliveries, deliveries.names.retraining_job)

    drifted = _loans_day(loans, 1, "income_shift") + _loans_day(loans, 2, "income_shift")
    _deliveries_day(deliveries, 1, None)
    drift = _metadata(drifted, loans.names.key("drift"))
    assert drift["status"] == "error" and "income" in json.dumps(drift["assessment"])
    retrains = _runs(loans, loans.names.retraining_job)
    assert len(retrains) == 1
    assert retrains[0].tags["asset_platform/trigger"] == "sensor:loans_drift_retrain_sensor"
    assert retrains[0].tags["asset_platform/evidence"].startswith("applications_")
    decision = _metadata(drifted, loans.names.champion)["decision"]
    assert decision in ("promoted", "rejected")
    # The other model: no retraining, same champion, its own partitions only.
    assert not _runs(deliveries, deliveries.names.retraining_job)
    assert lineup_for(resources["registry"], deliveries.names).champion() == deliveries_champion
    instance = loans.instance
    assert all(k.startswith("applications_") for k in instance.get_dynamic_partitions(loans.names.partitions))
    assert all(k.startswith("deliveries_") for k in instance.get_dynamic_partitions(deliveries.names.partitions))
    kinds = [event["event"] for event in webhook[1]]
    assert {"drift_confirmed", "retraining_started", "retraining_outcome"} <= set(kinds)
    outcome = next(e for e in webhook[1] if e["event"] == "retraining_outcome")
    assert outcome["asset"] == "loans/champion"


def test_a_regression_declaration_runs_the_loop_with_rmse(location) -> None:
    states, _resources = location
    deliveries = states["deliveries"]
    results = []
    for index in (2, 3, 4):
        results += _deliveries_day(deliveries, index, "concept")
    performance = _metadata(results, deliveries.names.key("performance"))
    assert performance["metric"] == "rmse" and performance["performance/rmse"] > 0
    assert performance["performance/degradation"] > 0.15  # RMSE more than 15 % worse than on the holdout
    retrains = _runs(deliveries, deliveries.names.retraining_job)
    assert len(retrains) == 1 and "performance" in retrains[0].tags["asset_platform/drift_reason"]
    champion = _metadata(results, deliveries.names.champion)
    assert champion["decision"] in ("promoted", "rejected")
    assert "rmse" in champion["reason"]
    assert "holdout/improvement" in champion


def test_the_fleet_overview_shows_both_models_in_one_table(location) -> None:
    from asset_platform.lifecycle.overview import OVERVIEW_KEY

    states, _resources = location
    state = states["loans"]
    # The automation cursor was taken after training (`location`); both models' batches changed since.
    (refresh,) = automate(state)
    assert refresh.success
    assert automate(state) == []  # nothing changed since: no second refresh
    (event,) = [e for e in refresh.get_asset_materialization_events() if e.asset_key == OVERVIEW_KEY]
    rows = {row.data["model"]: row.data for row in event.materialization.metadata["models"].value.records}
    assert set(rows) == {"loans", "deliveries"}
    assert rows["loans"]["task"] == "binary classification (auc)" and rows["deliveries"]["task"].endswith("(rmse)")
    assert "error" in rows["loans"]["last_drift"] and rows["loans"]["realized"]
    assert rows["loans"]["estimated"]  # a label-free AUC estimate exists for the classifier
    assert rows["deliveries"]["last_decision"].startswith(("promoted", "rejected", "kept"))
    assert "trend/loans" in event.materialization.metadata
