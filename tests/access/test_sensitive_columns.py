"""Sensitive (PII) columns: no raw value in metadata, drift reports, logs or notifications after a loop.

The loan model of tests/declaration with `age`, `employment` (also a segment)
and `region` marked sensitive trains, scores a batch whose region mix moved
(a category shift on a sensitive column), then gets a batch breaking the
contract on `age` (a failing sample). Then every event of every run and every
notification is scanned for those columns' raw values.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import dagster as dg
import pandas as pd
import pytest

from asset_platform.access.masking import mask_frame, mask_value
from asset_platform.app.demo import LoopState, tick
from asset_platform.declaration import ModelDeclaration
from asset_platform.drift import ReferenceProfile, build_profile, compute_drift
from asset_platform.drift.measure import mask_drift_results
from asset_platform.lifecycle import lifecycle_names
from asset_platform.notify import Notifier
from asset_platform.resources.local import local_resources
from definitions import build_definitions
from tests.declaration.loans import EMPLOYMENT, REGIONS, generate_loans, land_labels, loans_declaration, write_history
from tests.processes import webhook_receiver

SENSITIVE = {"age", "employment", "region"}
START = dt.date(2026, 3, 1)
HISTORY_DAYS, ROWS = 5, 600


def test_mask_value_is_stable_and_hides_the_value() -> None:
    assert mask_value("north") == mask_value("north") != mask_value("south")
    assert mask_value("north").startswith("#") and "north" not in mask_value("north")
    assert mask_value(None) == "<missing>" and mask_value(float("nan")) == "<missing>"
    frame = pd.DataFrame({"region": ["north", "east"], "amount": [1.0, 2.0]})
    masked = mask_frame(frame, {"region", "not_a_column"})
    assert masked["amount"].tolist() == [1.0, 2.0] and not set(masked["region"]) & set(REGIONS)
    assert frame["region"].tolist() == ["north", "east"]  # the caller's frame is untouched


def test_drift_results_name_sensitive_categories_by_hash_only() -> None:
    reference = pd.DataFrame({"region": ["north", "south"] * 50, "age": list(range(20, 120))})
    batch = pd.DataFrame({"region": ["north"] * 90 + ["south"] * 10, "age": list(range(20, 120))})
    profile = ReferenceProfile.from_dict(build_profile(reference, numeric=["age"], categorical=["region"]).to_dict())
    results = mask_drift_results(compute_drift(profile, batch, batch_key="b"), {"region", "age"})
    text = json.dumps(results.to_dict())
    assert results.feature("region").shifted_category.startswith("#")
    assert not re.search(r"\b(north|south)\b", text)


@pytest.fixture
def webhook():
    with webhook_receiver() as receiver:
        yield receiver


def _declaration() -> ModelDeclaration:
    data = loans_declaration().model_dump(exclude_unset=True)
    data["columns"] = [{**c, "sensitive": c["name"] in SENSITIVE} for c in data["columns"]]
    data["models"] = data["models"][:1]  # one family is enough to reach every report
    data["gate"] = {"margin": 0.0, "resamples": 50}
    return ModelDeclaration.model_validate(data)


def _land(landing, day: dt.date, frame: pd.DataFrame) -> None:
    landing.production.mkdir(parents=True, exist_ok=True)
    name = f"applications_{day}.parquet"
    frame.drop(columns=["defaulted"]).to_parquet(landing.production / f".{name}.tmp")
    (landing.production / f".{name}.tmp").rename(landing.production / name)


def test_no_raw_sensitive_value_in_the_event_log_or_notifications_after_a_loop(tmp_path, monkeypatch, webhook) -> None:
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome

    home = PlatformHome(tmp_path / "home").ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    declaration = _declaration()
    resources = {**local_resources(home), "notifier": Notifier(webhook_url=webhook[0], max_attempts=2)}
    defs = build_definitions([declaration], resources)
    landing = resources["landing"].for_model(declaration).ensure()
    write_history(landing.history, START, HISTORY_DAYS, ROWS)
    with dg.DagsterInstance.get() as instance:
        state = LoopState(instance, defs, lifecycle_names(declaration), landing)
        assert defs.resolve_job_def(state.names.training_job).execute_in_process(instance=instance).success
        results = []
        for index in range(2):  # two days of a region mix that moved: the drift report names the category
            day = START + dt.timedelta(days=HISTORY_DAYS + index)
            frame = generate_loans(ROWS, day, seed=1)
            frame["region"] = ["north"] * (ROWS * 9 // 10) + ["west"] * (ROWS - ROWS * 9 // 10)
            _land(landing, day, frame)
            results += tick(state, state.names.batch_sensor)
            land_labels(landing, day, frame[["loan_id", "defaulted"]])
            results += tick(state, state.names.labels_sensor) + tick(state, state.names.drift_retrain_sensor)
        broken_day = START + dt.timedelta(days=HISTORY_DAYS + 2)
        broken = generate_loans(ROWS, broken_day, seed=1)
        broken.loc[:4, "age"] = 150  # breaks the contract: the failing sample shows these rows
        _land(landing, broken_day, broken)
        results += tick(state, state.names.batch_sensor)
        assert results, "the sensors launched nothing"
        texts = [dg.serialize_value(entry) for run in instance.get_runs() for entry in instance.all_logs(run.run_id)]
    drift = [t for t in texts if "drift" in t and "category" in t]
    assert drift, "no drift report in the event log: the loop did not reach drift"
    assert any("failing_sample" in t for t in texts), "no contract failure sample: the broken batch was not checked"
    raw = re.compile(r"\b(" + "|".join(EMPLOYMENT + REGIONS) + r")\b")
    leaks = {match for text in texts for match in raw.findall(text)}
    assert not leaks, f"raw values of sensitive columns in the event log: {sorted(leaks)}"
    sample = next(t for t in texts if "failing_sample" in t)
    assert not re.search(r"\|\s*150\s*\|", sample), "the failing sample shows the raw age"
    notifications = json.dumps(webhook[1])
    assert not raw.findall(notifications), "raw values of sensitive columns in a notification"
