"""Bad production input: a clear error naming the batch, the file kept in quarantine, no retraining,
and the loop goes on with later good batches."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import numpy as np
import pytest

from asset_platform.demo import HISTORY_START, tick
from asset_platform.landing import LandingZone
from tests.monitoring.loop import HISTORY_DAYS, ROWS, land_day, retraining_runs, start_loop


def _day_name(index: int) -> str:
    return f"events_{HISTORY_START + dt.timedelta(days=HISTORY_DAYS + index):%Y-%m-%d}"


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
    "corrupt": (_corrupt, "not a readable Parquet file"),
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
def stream(tmp_path_factory: pytest.TempPathFactory):
    """A baseline, then one bad file per day, a duplicate, a good batch and a nullable column all null."""
    from asset_platform.home import PlatformHome
    from asset_platform.serve import prepare_dagster_home
    from resources.local import local_resources

    home = PlatformHome(tmp_path_factory.mktemp("bad-input") / "platform").ensure()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
        with dg.DagsterInstance.get() as instance:
            state = start_loop(home, local_resources(home), instance)
            outcomes = {}
            for index, (name, (breaker, _)) in enumerate(BAD_FILES.items()):
                path, _labels = land_day(home, index, None)
                frame = __import__("pandas").read_parquet(path)
                breaker(path, frame)
                outcomes[name] = (_day_name(index), tick(state, "production_batch_sensor"))
            good, _ = land_day(home, len(BAD_FILES), None)
            outcomes["good"] = (good.stem, tick(state, "production_batch_sensor"))
            shutil.copyfile(good, good.with_name(_day_name(len(BAD_FILES) + 1) + ".parquet"))
            outcomes["duplicate"] = (_day_name(len(BAD_FILES) + 1), tick(state, "production_batch_sensor"))
            quality, _ = land_day(home, len(BAD_FILES) + 2, None)
            frame = __import__("pandas").read_parquet(quality)
            _write_frame(quality, frame.assign(days_since_last_visit=np.nan))
            outcomes["nullable_all_null"] = (quality.stem, tick(state, "production_batch_sensor"))
            for _ in range(2):
                tick(state, "drift_retrain_sensor")
            yield home, state, outcomes


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_reported_by_name_and_quarantined(stream, case):
    home, _, outcomes = stream
    batch, results = outcomes[case]
    assert results, f"{case}: the sensor did not request a run"
    assert not all(r.success for r in results) or any(
        not e.passed for r in results for e in r.get_asset_check_evaluations()
    )
    text = _outcome(results)
    assert batch in text, text
    assert BAD_FILES[case][1] in text, text
    zone = LandingZone(history_path=str(home.history_landing), production_path=str(home.production_landing))
    assert not zone.batch_path(batch).exists()
    kept = zone.quarantine / f"{batch}.parquet"
    assert kept.exists() and (zone.quarantine / f"{batch}.parquet.reason.txt").read_text().strip()


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_nothing_downstream_runs_on_a_bad_batch(stream, case):
    _, _, outcomes = stream
    _, results = outcomes[case]
    materialized = {e.asset_key.path[-1] for r in results for e in r.get_asset_materialization_events()}
    assert materialized <= {"production_batches"}


def test_later_good_batch_is_still_processed(stream):
    _, _, outcomes = stream
    _, results = outcomes["good"]
    assert results and all(r.success for r in results)
    materialized = {e.asset_key.path[-1] for r in results for e in r.get_asset_materialization_events()}
    assert materialized == {"production_batches", "batch_predictions", "batch_drift"}


def test_duplicate_batch_file_is_quarantined_not_scored(stream):
    home, state, outcomes = stream
    batch, results = outcomes["duplicate"]
    assert results == []
    zone = LandingZone(history_path=str(home.history_landing), production_path=str(home.production_landing))
    reason = (zone.quarantine / f"{batch}.parquet.reason.txt").read_text()
    assert "duplicates" in reason and outcomes["good"][0] in reason
    assert batch not in state.instance.get_dynamic_partitions("production_batches")


def test_a_nullable_column_entirely_null_is_a_quality_error_not_a_retrain(stream):
    _, state, outcomes = stream
    _, results = outcomes["nullable_all_null"]
    [check] = [e for r in results for e in r.get_asset_check_evaluations() if e.check_name == "drift_within_policy"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "days_since_last_visit" in (check.description or "")
    assert retraining_runs(state.instance) == []


def test_no_retraining_from_invalid_data(stream):
    _, state, _ = stream
    assert retraining_runs(state.instance) == []
    assert ROWS >= 500  # batches are large enough for the policy to judge them
