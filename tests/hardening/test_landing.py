"""The landing scan cannot be stopped: bad files are quarantined with a note, files being written wait.

Issue 11, failure 1 (a FIFO, a link to /dev/zero or a folder named like a batch
stopped all scoring) and the degraded cases: unsafe names not quarantined and
registered as partitions, a link to a Parquet file outside landing scored, a
file still being written quarantined, `+inf` reaching the model. Each test runs
on its own copy of the trained home; most evaluate the batch sensor only.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from asset_platform.home import PlatformHome
from tests.hardening.helpers import (
    batch_frame,
    copy_home,
    day_of,
    evaluate,
    land,
    loop_on,
    partitions,
    quarantined,
    run_tick,
    scored,
    skip_reason,
    write_batch_file,
)


@pytest.fixture
def home(trained_home: PlatformHome, tmp_path: Path) -> PlatformHome:
    return copy_home(trained_home, tmp_path / "home")


def _requested(result) -> list[str]:
    return [request.partition_key for request in result.run_requests or []]


def test_a_fifo_named_like_a_batch_is_quarantined_and_the_good_batch_is_scored(home: PlatformHome) -> None:
    with loop_on(home) as state:
        fifo = state.landing.production / "events_2026-01-01.parquet"
        os.mkfifo(fifo)
        good, _labels = land(state, 0)

        results = run_tick(state, state.names.batch_sensor)

        assert [r.success for r in results] == [True] and scored(state, good.stem)
        assert not fifo.exists() and "not a regular file" in quarantined(state)[fifo.name]
        assert partitions(state) == [good.stem]


def test_a_symlink_to_dev_zero_is_quarantined_unread_and_the_good_batch_is_requested(home: PlatformHome) -> None:
    with loop_on(home) as state:
        link = state.landing.production / "events_2026-01-02.parquet"
        link.symlink_to("/dev/zero")
        good, _labels = land(state, 0)

        result = evaluate(state, state.names.batch_sensor)  # hashing /dev/zero would never return

        assert _requested(result) == [good.stem]
        assert not link.is_symlink() and "symbolic link" in quarantined(state)[link.name]
        assert (state.landing.quarantine / link.name).is_symlink(), "the link moved, its target untouched"


def test_a_spark_style_folder_without_success_is_settling_and_the_good_batch_is_requested(
    home: PlatformHome,
) -> None:
    # A dataset folder is a batch once its writer adds _SUCCESS (tests/storage/test_spark_folders.py);
    # until then it waits, named, and never holds up the other batches.
    with loop_on(home) as state:
        folder = state.landing.production / "events_X.parquet"
        folder.mkdir()
        (folder / "part-00000.parquet").write_bytes(b"PAR1")
        good, _labels = land(state, 0)

        result = evaluate(state, state.names.batch_sensor)

        assert _requested(result) == [good.stem]
        assert quarantined(state) == {} and (folder / "part-00000.parquet").exists(), "nothing moved or deleted"
        again = evaluate(state, state.names.batch_sensor)  # no error on the next tick either
        assert [r.run_key for r in again.run_requests] == [r.run_key for r in result.run_requests], (
            "the good batch's run, not launched yet, is asked for again under the same key"
        )


def test_a_folder_not_named_like_a_parquet_file_is_quarantined_as_not_a_regular_file(home: PlatformHome) -> None:
    with loop_on(home) as state:
        folder = state.landing.production / "events_X"
        folder.mkdir()
        (folder / "part-00000.parquet").write_bytes(b"PAR1")
        landing = replace(state.landing, pattern="events_*")
        good, _labels = land(state, 0)

        scan = landing.production_batches()

        assert scan.files == [good]
        assert "not a regular file" in quarantined(state)["events_X"]
        assert (state.landing.quarantine / "events_X" / "part-00000.parquet").exists(), "nothing deleted"


@pytest.mark.parametrize(
    "name",
    [
        "events 2026-01-09.parquet",
        "événements_2026-01-09.parquet",
        "events..2026-01-09.parquet",
        "events\n2026-01-09.parquet",
        "events_2026-01-09\n.parquet",
        "e" * 210 + ".parquet",
    ],
    ids=["space", "unicode", "dots", "newline", "trailing-newline", "long"],
)
def test_an_unsafe_file_name_is_quarantined_with_a_note_and_no_partition_is_registered(
    home: PlatformHome, name: str
) -> None:
    with loop_on(home) as state:
        write_batch_file(state.landing.production / name, 3)
        write_batch_file(state.landing.labels / name, 3)

        reason = skip_reason(state, state.names.batch_sensor)

        assert "cannot be a batch key" in reason
        assert not list(state.landing.production.iterdir()) and partitions(state) == []
        notes = quarantined(state)
        assert len(notes) == 1 and "cannot be a batch key" in next(iter(notes.values()))
        assert skip_reason(state, state.names.labels_sensor) == "no new labels"


def test_a_symlink_to_a_parquet_file_outside_landing_is_quarantined_not_scored(home: PlatformHome) -> None:
    with loop_on(home) as state:
        outside = write_batch_file(home.root / "elsewhere.parquet", 4)
        link = state.landing.production / "events_2026-01-11.parquet"
        link.symlink_to(outside)

        reason = skip_reason(state, state.names.batch_sensor)

        assert "symbolic link to something outside the landing folder" in reason
        assert partitions(state) == [] and outside.exists()


def test_a_symlink_to_a_batch_inside_landing_is_taken(home: PlatformHome) -> None:
    with loop_on(home) as state:
        inside = write_batch_file(state.landing.folder / "staging.parquet", 4)
        link = state.landing.production / "events_2026-01-11.parquet"
        link.symlink_to(inside)

        assert _requested(evaluate(state, state.names.batch_sensor)) == [link.stem]


def test_a_file_written_in_place_waits_named_in_the_skip_reason_until_settled_never_quarantined(
    home: PlatformHome,
) -> None:
    with loop_on(home, settle_seconds=120) as state:
        path = write_batch_file(state.landing.production / f"events_{day_of(0):%Y-%m-%d}.parquet", 0)
        complete = path.read_bytes()
        path.write_bytes(complete[: len(complete) // 2])  # the writer is halfway through

        reason = skip_reason(state, state.names.batch_sensor)

        assert f"settling: {path.name}" in reason and "120 s" in reason
        assert path.exists() and quarantined(state) == {}, "a file still being written is never quarantined"
        path.write_bytes(complete)  # the writer finishes
        assert f"settling: {path.name}" in skip_reason(state, state.names.batch_sensor)
        settled = time.time() - 121
        os.utime(path, (settled, settled))  # unchanged for longer than settle_seconds
        # Its modification time moved since the previous scan: one more scan sees it unchanged.
        assert "changed since the previous scan" in skip_reason(state, state.names.batch_sensor)

        assert _requested(evaluate(state, state.names.batch_sensor)) == [path.stem]


def test_a_hidden_file_is_ignored_while_written_and_taken_at_once_when_renamed(home: PlatformHome) -> None:
    with loop_on(home) as state:
        final = state.landing.production / f"events_{day_of(0):%Y-%m-%d}.parquet"
        hidden = write_batch_file(final.with_name("." + final.name), 0)
        hidden.write_bytes(hidden.read_bytes()[:100])  # half-written under its hidden name

        assert skip_reason(state, state.names.batch_sensor).startswith("no new")
        write_batch_file(hidden, 0)
        hidden.rename(final)

        assert _requested(evaluate(state, state.names.batch_sensor)) == [final.stem]
        assert quarantined(state) == {}


def test_plus_infinity_in_an_unbounded_column_fails_the_contract_and_the_batch_is_quarantined(
    home: PlatformHome,
) -> None:
    with loop_on(home) as state:
        path = state.landing.production / f"events_{day_of(0):%Y-%m-%d}.parquet"
        frame = batch_frame(0).drop(columns=["converted"])
        frame.loc[0, "days_since_last_visit"] = np.inf  # the contract gives it a minimum only
        frame.to_parquet(path, index=False)

        [result] = run_tick(state, state.names.batch_sensor)

        assert not result.success and not scored(state, path.stem), "nothing reaches the model"
        assert "days_since_last_visit" in quarantined(state)[path.name]
        # The failed run's file left production/: it is not asked for again.
        assert skip_reason(state, state.names.batch_sensor).startswith("no new")
