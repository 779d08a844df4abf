"""Writers that write in place are waited for with the default settings (issue 30, case 2).

With `landing.settle_seconds: 0` a file written in place was taken half-written
and quarantined as "not a readable data file", the note blaming the file. Now the
default waits a few seconds (a Parquet file ending with its footer is complete at
once), a file that changed since the previous scan is settling, a batch that
changed after its sensor took it is never quarantined, and a note says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.declaration.model import LandingSpec
from asset_platform.home import PlatformHome
from tests.hardening.helpers import (
    copy_home,
    day_of,
    evaluate,
    loop_on,
    quarantined,
    run_tick,
    scored,
    skip_reason,
    write_batch_file,
)

DEFAULT_SETTLE = LandingSpec().settle_seconds


@pytest.fixture
def home(trained_home: PlatformHome, tmp_path: Path) -> PlatformHome:
    return copy_home(trained_home, tmp_path / "home")


def _complete_and_half(state, index: int) -> tuple[Path, bytes]:
    path = write_batch_file(state.landing.production / f"events_{day_of(index):%Y-%m-%d}.parquet", index)
    complete = path.read_bytes()
    path.write_bytes(complete[: len(complete) // 2])  # the writer is halfway through, in place
    return path, complete


def test_the_default_settle_time_is_a_few_seconds() -> None:
    assert 0 < DEFAULT_SETTLE <= 30


def test_a_file_written_in_place_with_the_default_settings_is_settling_then_scored_never_quarantined(
    home: PlatformHome,
) -> None:
    with loop_on(home, settle_seconds=DEFAULT_SETTLE) as state:
        path, complete = _complete_and_half(state, 0)

        assert f"settling: {path.name}" in skip_reason(state, state.names.batch_sensor)
        path.write_bytes(complete)  # the writer finishes: the size changed since the previous scan
        assert "changed since the previous scan" in skip_reason(state, state.names.batch_sensor)

        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]
        assert scored(state, path.stem) and quarantined(state) == {}


def test_a_file_whose_size_changed_since_the_previous_scan_is_settling_whatever_its_age(home: PlatformHome) -> None:
    with loop_on(home, settle_seconds=DEFAULT_SETTLE) as state:
        path, complete = _complete_and_half(state, 0)
        assert f"settling: {path.name}" in skip_reason(state, state.names.batch_sensor)  # young: by its age
        with open(path, "ab") as handle:  # the writer goes on, and the settle time has long passed
            handle.write(complete[len(complete) // 2 : len(complete) * 3 // 4])
        os.utime(path, (2, 2))

        reason = skip_reason(state, state.names.batch_sensor)

        assert f"{path.name} (size or modification time changed since the previous scan)" in reason
        assert path.exists() and quarantined(state) == {}


def test_a_batch_rewritten_in_place_after_its_sensor_took_it_is_not_quarantined_and_is_scored_once_complete(
    home: PlatformHome,
) -> None:
    with loop_on(home, settle_seconds=DEFAULT_SETTLE) as state:
        path = write_batch_file(state.landing.production / f"events_{day_of(0):%Y-%m-%d}.parquet", 0)
        [request] = evaluate(state, state.names.batch_sensor).run_requests
        complete = path.read_bytes()
        path.write_bytes(complete[: len(complete) // 2])  # an in-place rewrite starts before the run reads it
        tags = {**request.tags, "dagster/run_key": request.run_key}
        job = state.defs.resolve_job_def(state.names.score_batch_job)

        result = job.execute_in_process(
            instance=state.instance, tags=tags, partition_key=request.partition_key, raise_on_error=False
        )

        assert not result.success and path.exists() and quarantined(state) == {}
        [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        assert "still being written" in failure.event_specific_data.error.message
        path.write_bytes(complete)
        skip_reason(state, state.names.batch_sensor)  # changed since the previous scan: settling
        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]


def test_a_quarantine_note_says_what_to_do_naming_the_settle_setting(home: PlatformHome) -> None:
    with loop_on(home, settle_seconds=DEFAULT_SETTLE) as state:
        path = state.landing.production / f"events_{day_of(0):%Y-%m-%d}.parquet"
        path.write_bytes(b"not parquet at all")
        os.utime(path, (1, 1))  # written long ago and never finished

        [result] = run_tick(state, state.names.batch_sensor)

        note = quarantined(state)[path.name]
        assert not result.success and "not a readable data file" in note
        assert "What to do" in note and "landing.settle_seconds" in note and str(state.landing.production) in note
