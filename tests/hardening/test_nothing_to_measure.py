"""A batch with nothing to measure is recorded as such by every step, never an error (issue 30, case 1).

A 0-row batch with the right schema crashed the drift step (`KeyError: 'share'`
in attribution drift) and the sensor asked again and again; a batch whose every
feature is null (where the contract allows it) was "judged" on nothing, its
label-free estimate included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.drift.emptiness import NOTHING_TO_MEASURE
from asset_platform.home import PlatformHome
from asset_platform.lifecycle.names import DRIFT, PERFORMANCE, PREDICTIONS
from tests.hardening.helpers import batch_frame, copy_home, declaration, loop_on, run_tick


@pytest.fixture
def home(trained_home: PlatformHome, tmp_path: Path) -> PlatformHome:
    return copy_home(trained_home, tmp_path / "home")


def _metadata(state, name: str, batch: str) -> dict[str, Any]:
    records = state.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=state.names.key(name), asset_partitions=[batch]), limit=1
    ).records
    assert records, f"{name} of {batch} was not stored"
    return {key: value.value for key, value in records[0].asset_materialization.metadata.items()}


def _nullable_features() -> ModelDeclaration:
    """The test declaration with every feature nullable: a batch of null features passes its contract."""
    model = declaration()
    numeric, categorical = model.feature_columns()
    fields = model.model_dump(exclude_unset=True)
    fields["columns"] = [
        {**column, "nullable": True} if column["name"] in {*numeric, *categorical} else column
        for column in model.model_dump()["columns"]
    ]
    return ModelDeclaration(**fields)


def test_a_batch_with_no_rows_is_scored_and_drift_estimate_and_performance_record_nothing_to_measure(
    home: PlatformHome,
) -> None:
    with loop_on(home) as state:
        name = "events_2026-02-01.parquet"
        frame = batch_frame(0).drop(columns=["converted"]).iloc[:0]
        frame.to_parquet(state.landing.production / name, index=False)

        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]

        batch = name.removesuffix(".parquet")
        drift = _metadata(state, DRIFT, batch)
        assert drift["assessment"]["judged"] is False and drift["assessment"]["drift_detected"] is False
        assert NOTHING_TO_MEASURE in drift["reasons"] and NOTHING_TO_MEASURE in drift["attribution_drift"]
        assert _metadata(state, PREDICTIONS, batch)["estimate"] == NOTHING_TO_MEASURE
        frame[["event_id"]].assign(converted=1).to_parquet(state.landing.labels / name, index=False)

        assert [r.success for r in run_tick(state, state.names.labels_sensor)] == [True]
        assert _metadata(state, PERFORMANCE, batch)["performance"] == NOTHING_TO_MEASURE


def test_a_batch_whose_features_are_all_null_is_recorded_as_nothing_to_measure_never_judged(
    home: PlatformHome,
) -> None:
    model = _nullable_features()
    numeric, categorical = model.feature_columns()
    with loop_on(home, model=model) as state:
        name = "events_2026-02-02.parquet"
        frame = batch_frame(0).drop(columns=["converted"])
        frame[[*numeric, *categorical]] = None
        frame.to_parquet(state.landing.production / name, index=False)

        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]

        drift = _metadata(state, DRIFT, name.removesuffix(".parquet"))
        assert drift["status"] == "warn" and drift["assessment"]["judged"] is False
        assert f"every feature is null in all {len(frame)} rows" in drift["reasons"]
        assert "estimated_auc" not in drift, "no estimate of the model's quality on rows without features"
        assert NOTHING_TO_MEASURE in drift["attribution_drift"]
