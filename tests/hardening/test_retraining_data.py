"""Retraining reads only trustworthy data: one bad labeled batch is skipped and named, never fails the retrain.

Issue 11, failure 2: a production batch carrying the label was merged into
`converted_x`/`converted_y`; one row dated 2099 emptied a side of the time
split; a batch dated a year ahead collapsed the 4-day window to one day; a batch
with an unsafe name plus its labels made `raw_data` raise `UnsafeKeyError`.
All of them land in one module home, the sensors run, then one retraining.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from asset_platform.home import PlatformHome
from asset_platform.lifecycle.names import RAW_DATA, TRAINING_SET
from tests.hardening.helpers import (
    HISTORY_DAYS,
    ROWS,
    batch_frame,
    copy_home,
    day_of,
    loop_on,
    partitions,
    quarantined,
    run_tick,
    scored,
)

LABEL, ID, TIME = "converted", "event_id", "event_time"


def _name(index: int) -> str:
    return f"events_{day_of(index):%Y-%m-%d}.parquet"


@pytest.fixture(scope="module")
def retrained(trained_home: PlatformHome, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = copy_home(trained_home, tmp_path_factory.mktemp("retraining") / "home")
    with loop_on(home) as state:
        production, labels = state.landing.production, state.landing.labels
        frames = {index: batch_frame(index) for index in range(5)}
        # Day 0 carries its label; day 1 has one row dated 2099; day 2 is dated a year ahead.
        frames[0].to_parquet(production / _name(0), index=False)
        day1 = frames[1].drop(columns=[LABEL])
        day1.loc[0, TIME] = pd.Timestamp("2099-01-01", tz="UTC")
        day1.to_parquet(production / _name(1), index=False)
        frames[2].drop(columns=[LABEL]).assign(**{TIME: frames[2][TIME] + pd.Timedelta(days=365)}).to_parquet(
            production / _name(2), index=False
        )
        # An unsafe name, with its labels.
        unsafe = "events 2026-01-20.parquet"
        frames[3].drop(columns=[LABEL]).to_parquet(production / unsafe, index=False)
        frames[3][[ID, LABEL]].to_parquet(labels / unsafe, index=False)
        scoring = {
            result.dagster_run.tags["dagster/partition"]: result for result in run_tick(state, state.names.batch_sensor)
        }
        for index in (0, 1, 2):
            frames[index][[ID, LABEL]].to_parquet(labels / _name(index), index=False)
        performance = run_tick(state, state.names.labels_sensor)
        # Labeled batches retraining finds before they were scored: one breaks the contract, one has broken labels.
        late = frames[4].drop(columns=[LABEL])
        late.loc[0, TIME] = pd.Timestamp("2099-01-01", tz="UTC")
        late.to_parquet(production / "events_late-contract.parquet", index=False)
        frames[4][[ID, LABEL]].to_parquet(labels / "events_late-contract.parquet", index=False)
        frames[4].drop(columns=[LABEL]).to_parquet(production / "events_late-labels.parquet", index=False)
        frames[4][[ID]].to_parquet(labels / "events_late-labels.parquet", index=False)

        retraining = state.defs.resolve_job_def(state.names.retraining_job).execute_in_process(
            instance=state.instance, raise_on_error=False
        )
        yield {
            "state": state,
            "scoring": scoring,
            "performance": performance,
            "retraining": retraining,
            "raw": _metadata(retraining, state.names.key(RAW_DATA)),
            "training": _metadata(retraining, state.names.key(TRAINING_SET)),
        }


def _metadata(result, key) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key == key:
            return {name: value.value for name, value in event.materialization.metadata.items()}
    return {}


def test_a_production_batch_carrying_the_label_is_scored_without_it_and_joined_once_for_retraining(
    retrained: dict,
) -> None:
    state, day0 = retrained["state"], _name(0).removesuffix(".parquet")
    assert retrained["scoring"][day0].success and scored(state, day0)
    [check] = [
        evaluation
        for evaluation in retrained["scoring"][day0].get_asset_check_evaluations()
        if evaluation.asset_key == state.names.key("batches")
    ]
    assert check.passed and check.metadata["dropped_label_column"].value == LABEL
    assert [result.success for result in retrained["performance"]] == [True]
    frame, sources, _skipped = state.landing.read_history()
    assert LABEL in frame.columns and not {f"{LABEL}_x", f"{LABEL}_y"} & set(frame.columns)
    assert len(frame) == (HISTORY_DAYS + 1) * ROWS and f"production/{_name(0)}" in sources
    assert retrained["retraining"].success


def test_a_row_dated_2099_fails_the_batch_contract_and_the_batch_is_quarantined_not_trained_on(
    retrained: dict,
) -> None:
    state, day1 = retrained["state"], _name(1).removesuffix(".parquet")
    assert not retrained["scoring"][day1].success and not scored(state, day1)
    assert TIME in quarantined(state)[_name(1)]
    assert f"production/{_name(1)}" not in retrained["raw"]["source_files"]
    assert retrained["retraining"].success, "the time split keeps both sides"


def test_a_batch_dated_a_year_ahead_is_quarantined_and_the_retraining_window_keeps_its_days(retrained: dict) -> None:
    state = retrained["state"]
    assert TIME in quarantined(state)[_name(2)]
    window_start = dt.datetime.fromisoformat(retrained["training"]["window_start"])
    cutoff = dt.datetime.fromisoformat(retrained["training"]["cutoff"])
    assert cutoff.date() <= day_of(0) and (cutoff - window_start) >= dt.timedelta(days=2)


def test_an_unsafe_batch_name_with_labels_is_quarantined_and_retraining_reads_the_rest(retrained: dict) -> None:
    state = retrained["state"]
    notes = quarantined(state)
    assert sum("cannot be a batch key" in note for note in notes.values()) == 2, "the batch and its labels"
    assert all(" " not in key for key in partitions(state))
    assert retrained["retraining"].success


def test_one_bad_labeled_batch_is_skipped_and_named_and_retraining_succeeds(retrained: dict) -> None:
    skipped, set_aside = retrained["raw"]["skipped_batches"], retrained["raw"]["quarantined_files"]
    # Breaking the contract is for good: quarantined with its labels; labels that cannot be joined may be fixed.
    assert "events_late-contract" in set_aside and "breaks the data contract" in set_aside
    assert "events_late-contract" in " ".join(quarantined(retrained["state"]))
    assert "events_late-labels" in skipped and LABEL in skipped
    assert retrained["retraining"].success
