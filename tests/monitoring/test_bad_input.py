"""Bad production input: a clear error naming the batch, the file kept in quarantine, no retraining,
and the loop goes on with later good batches."""

from __future__ import annotations

import os
import shutil
import time

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from asset_platform.app.demo import start_loop, tick
from asset_platform.declaration.names import feature_check_names
from asset_platform.lifecycle.names import BATCHES, DRIFT, POLICY_CHECK, PREDICTIONS
from tests.monitoring.loop import ROWS, batch_name, copy_home, land, open_instance, retraining_runs


def _write_frame(path, frame) -> None:
    frame.to_parquet(path, index=False)


def _empty(path, _frame) -> None:
    path.write_bytes(b"")


def _corrupt(path, _frame) -> None:
    path.write_bytes(b"PAR1 this is not a parquet file" * 10)


def _wrong_dtype(path, frame) -> None:
    _write_frame(path, frame.assign(pages_viewed=["many"] * len(frame)))


def _price_all_null(path, frame) -> None:
    _write_frame(path, frame.assign(price=np.nan))


def _far_out_of_range(path, frame) -> None:
    _write_frame(path, frame.assign(price=frame["price"] * 1e9))


def _missing_column(path, frame) -> None:
    _write_frame(path, frame.drop(columns=["device"]))


# name -> (how the file is broken, words the error or failed check must contain)
BAD_FILES = {
    "empty": (_empty, "is empty"),
    "corrupt": (_corrupt, "not a readable data file"),
    "missing_column": (_missing_column, "device"),
    "wrong_dtype": (_wrong_dtype, "pages_viewed"),
    "all_null": (_price_all_null, "price"),
    "out_of_range": (_far_out_of_range, "price"),
}


def _outcome(results: list[dg.ExecuteInProcessResult]) -> str:
    """The error or failed-check text of a scoring run."""
    texts = []
    for result in results:
        for event in result.all_events:
            if event.is_step_failure:
                texts.append(event.event_specific_data.error.message)
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                texts.append(evaluation.description or "")
    return "\n".join(texts)


@pytest.fixture(scope="module")
def stream(trained_home, tmp_path_factory: pytest.TempPathFactory):
    """The trained baseline, then one bad file per day, a good batch, a duplicate and a nullable column all null."""
    home = copy_home(trained_home, tmp_path_factory.mktemp("bad-input") / "platform")
    with open_instance(home) as instance:
        state = start_loop(home, "ecommerce", instance)
        sensor = state.names.batch_sensor
        outcomes = {}
        for index, (name, (breaker, _)) in enumerate(BAD_FILES.items()):
            path, _labels = land(state, index, None)
            breaker(path, pd.read_parquet(path))
            landed = time.time() - 60  # written in place, then left alone: settled, not still being written
            os.utime(path, (landed, landed))
            outcomes[name] = (batch_name(index), tick(state, sensor))
        good, _ = land(state, len(BAD_FILES), None)
        outcomes["good"] = (good.stem, tick(state, sensor))
        shutil.copyfile(good, good.with_name(batch_name(len(BAD_FILES) + 1) + ".parquet"))
        outcomes["duplicate"] = (batch_name(len(BAD_FILES) + 1), tick(state, sensor))
        quality, _ = land(state, len(BAD_FILES) + 2, None)
        _write_frame(quality, pd.read_parquet(quality).assign(days_since_last_visit=np.nan))
        outcomes["nullable_all_null"] = (quality.stem, tick(state, sensor))
        for _ in range(2):
            tick(state, state.names.drift_retrain_sensor)
        yield state, outcomes


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_reported_by_name_and_quarantined(stream, case):
    state, outcomes = stream
    batch, results = outcomes[case]
    assert results, f"{case}: the sensor did not request a run"
    assert not all(r.success for r in results) or any(
        not e.passed for r in results for e in r.get_asset_check_evaluations()
    )
    text = _outcome(results)
    assert batch in text, text
    assert BAD_FILES[case][1] in text, text
    landing = state.landing
    assert not landing.batch_path(batch).exists()
    kept = landing.quarantine / f"{batch}.parquet"
    assert kept.exists() and (landing.quarantine / f"{batch}.parquet.reason.txt").read_text().strip()


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_nothing_downstream_runs_on_a_bad_batch(stream, case):
    state, outcomes = stream
    _, results = outcomes[case]
    materialized = {e.asset_key for r in results for e in r.get_asset_materialization_events()}
    assert materialized <= {state.names.key(BATCHES)}


def test_later_good_batch_is_still_processed(stream):
    state, outcomes = stream
    _, results = outcomes["good"]
    assert results and all(r.success for r in results)
    materialized = {e.asset_key for r in results for e in r.get_asset_materialization_events()}
    assert materialized == {state.names.key(name) for name in (BATCHES, PREDICTIONS, DRIFT)}


def test_duplicate_batch_file_is_quarantined_not_scored(stream):
    state, outcomes = stream
    batch, results = outcomes["duplicate"]
    assert results == []
    reason = (state.landing.quarantine / f"{batch}.parquet.reason.txt").read_text()
    assert "duplicates" in reason and outcomes["good"][0] in reason
    assert batch not in state.instance.get_dynamic_partitions(state.names.partitions)
    assert outcomes["good"][0] in state.instance.get_dynamic_partitions(state.names.partitions)


def test_a_nullable_column_entirely_null_is_a_quality_error_not_a_retrain(stream):
    state, outcomes = stream
    _, results = outcomes["nullable_all_null"]
    [check] = [e for r in results for e in r.get_asset_check_evaluations() if e.check_name == POLICY_CHECK]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "days_since_last_visit" in (check.description or "")
    assert retraining_runs(state) == []


def test_the_entirely_null_feature_fails_its_own_check_as_an_error(stream):
    _, outcomes = stream
    batch, results = outcomes["nullable_all_null"]
    checks = {e.check_name: e for r in results for e in r.get_asset_check_evaluations()}
    [name] = feature_check_names(["days_since_last_visit"]).values()
    null = checks[name]
    assert not null.passed and null.severity == dg.AssetCheckSeverity.ERROR and null.partition == batch
    assert "data quality" in (null.description or "") and "days_since_last_visit" in (null.description or "")
    # The other features of the batch are measured and pass: one bad column never hides the rest.
    [price] = feature_check_names(["price"]).values()
    assert checks[price].passed


def test_no_retraining_from_invalid_data(stream):
    state, _ = stream
    assert retraining_runs(state) == []
    assert ROWS >= 500  # batches are large enough for the policy to judge them
