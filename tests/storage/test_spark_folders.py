"""A batch landed as a Spark-style dataset folder is one batch (issue 26, "Scale").

Spark writes `events.parquet/` as part files, checksums and a `_SUCCESS` marker
added last; the landing scan quarantined the folder as "not a regular file".
Now a folder with `_SUCCESS` is read as one table (its parts' schemas unified),
scored and judged like a file; without `_SUCCESS` it is settling; an empty or
inconsistent folder is quarantined with a note naming it and the problem.
The folders here are written with pyarrow in Spark's layout (no Spark needed).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import replace
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asset_platform.declaration.model import LandingSpec
from asset_platform.home import PlatformHome
from asset_platform.landing import SUCCESS_MARKER, BatchTooLargeError, ModelLanding, landed_md5, read_table
from asset_platform.lifecycle.names import BATCH_CONTRACT_CHECK, BATCHES, DRIFT, PREDICTIONS
from asset_platform.memory_estimate import estimated_step_bytes
from asset_platform.storage import AssetStore
from tests.hardening.helpers import (
    batch_frame,
    copy_home,
    day_of,
    loop_on,
    partitions,
    quarantined,
    run_tick,
    scored,
    skip_reason,
    train_home,
)

LABEL, ID = "converted", "event_id"


def write_spark_folder(folder: Path, frame: pd.DataFrame, parts: int = 3, success: bool = True) -> Path:
    """`frame` as Spark writes a dataset: part files with hidden `.crc` checksums, then `_SUCCESS` (empty)."""
    folder.mkdir(parents=True)
    job = uuid.uuid4()
    for index, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        name = f"part-{index:05d}-{job}-c000.snappy.parquet"
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False), folder / name)
        (folder / f".{name}.crc").write_bytes(b"crc\x00")
    if success:
        mark_success(folder)
    return folder


def mark_success(folder: Path) -> None:
    (folder / SUCCESS_MARKER).write_bytes(b"")
    (folder / f".{SUCCESS_MARKER}.crc").write_bytes(b"crc\x00")


def batch(index: int) -> pd.DataFrame:
    return batch_frame(index).drop(columns=[LABEL])


def folder_name(index: int) -> str:
    return f"events_{day_of(index):%Y-%m-%d}.parquet"


@pytest.fixture
def landing(tmp_path: Path) -> ModelLanding:
    return ModelLanding(
        model="m",
        folder=tmp_path,
        history=tmp_path / "history",
        production=tmp_path / "production",
        labels=tmp_path / "labels",
        pattern="*.parquet",
        id_column=ID,
        label_column=LABEL,
        settle_seconds=LandingSpec().settle_seconds,
    ).ensure()


def test_a_folder_reads_as_one_table_of_its_parts_and_its_bookkeeping_is_not_data(tmp_path: Path) -> None:
    frame = batch(0)
    folder = write_spark_folder(tmp_path / "events.parquet", frame)
    (folder / "_committed_123").write_text("{}")  # Databricks' commit protocol

    read = read_table(folder, "batch")

    pd.testing.assert_frame_equal(read, frame.reset_index(drop=True), check_dtype=False)


def test_parts_missing_a_column_are_unified_with_nulls(tmp_path: Path) -> None:
    frame = batch(0)
    folder = write_spark_folder(tmp_path / "events.parquet", frame, parts=2)
    first = sorted(folder.glob("part-*"))[0]
    pq.write_table(pq.read_table(first).drop_columns(["device"]), first)

    read = read_table(folder, "batch")

    assert len(read) == len(frame) and read["device"].isna().sum() == len(pq.read_table(first))


def test_the_folders_md5_follows_its_parts_not_its_bookkeeping(tmp_path: Path) -> None:
    folder = write_spark_folder(tmp_path / "events.parquet", batch(0))
    before = landed_md5(folder)
    (folder / f".{SUCCESS_MARKER}.crc").write_bytes(b"other")
    assert landed_md5(folder) == before
    part = sorted(folder.glob("part-*"))[1]
    pq.write_table(pq.read_table(part).slice(1), part)  # a part rewritten
    assert landed_md5(folder) != before


def test_the_step_memory_check_adds_every_parts_footer(landing: ModelLanding) -> None:
    frame = pd.concat([batch(index) for index in range(4)], ignore_index=True)  # a few MiB to take in
    folder = write_spark_folder(landing.production / "events.parquet", frame)
    parts = sum(estimated_step_bytes(part) for part in folder.glob("part-*.parquet"))
    fits = replace(landing, step_memory_mb=parts // 2**20 + 1)
    too_small = replace(landing, step_memory_mb=parts // 2**20 - 1)

    assert parts > 2 * 2**20 and len(fits.read_batch("events")) == len(frame)
    with pytest.raises(BatchTooLargeError, match="events.parquet needs about"):
        too_small.read_batch("events")


def test_a_folder_without_success_is_settling_then_taken_once_it_appears(landing: ModelLanding) -> None:
    folder = write_spark_folder(landing.production / "events.parquet", batch(0), success=False)

    first = landing.production_batches()
    assert first.files == [] and first.quarantined == []
    [note] = first.settling
    assert note.startswith("events.parquet (") and f"waits for {SUCCESS_MARKER}" in note

    mark_success(folder)
    assert landing.production_batches(first.observed).files == [folder]


def test_a_folder_left_without_success_is_quarantined_after_the_bound(landing: ModelLanding) -> None:
    folder = write_spark_folder(landing.production / "events.parquet", batch(0), success=False)
    old = time.time() - (landing.unfinished_folder_hours + 1) * 3600
    for path in [*folder.iterdir(), folder]:
        os.utime(path, (old, old))

    scan = landing.production_batches()

    assert scan.files == [] and scan.settling == []
    note = (landing.quarantine / "events.parquet.reason.txt").read_text()
    assert f"events.parquet: a dataset folder still without {SUCCESS_MARKER}" in note


def test_an_empty_folder_with_success_is_quarantined_with_a_note(landing: ModelLanding) -> None:
    folder = landing.production / "events.parquet"
    folder.mkdir()
    mark_success(folder)

    scan = landing.production_batches()

    assert scan.files == [] and "no part files" in scan.quarantined[0]
    assert (landing.quarantine / "events.parquet").is_dir()
    assert (
        "events.parquet: a dataset folder with _SUCCESS but no part files"
        in (landing.quarantine / "events.parquet.reason.txt").read_text()
    )


def test_a_folder_not_named_like_parquet_is_still_not_a_regular_file(landing: ModelLanding) -> None:
    landing.production.joinpath("events.csv").mkdir()
    landing_csv = ModelLanding(**{**landing.__dict__, "pattern": "*.csv"})

    scan = landing_csv.production_batches()

    assert "not a regular file" in scan.quarantined[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> PlatformHome:
    return train_home(tmp_path_factory.mktemp("spark-folders") / "trained")


def _failure_text(results: list[dg.ExecuteInProcessResult]) -> str:
    return "\n".join(
        event.event_specific_data.error.message for r in results for event in r.all_events if event.is_step_failure
    )


def test_spark_folders_land_and_are_scored_judged_and_labeled_end_to_end(trained: PlatformHome, tmp_path: Path) -> None:
    home = copy_home(trained, tmp_path / "home")
    with loop_on(home) as state:
        production, sensor = state.landing.production, state.names.batch_sensor
        folder = write_spark_folder(production / folder_name(0), batch(0), success=False)

        reason = skip_reason(state, sensor)
        assert f"settling: {folder.name} (a dataset folder without {SUCCESS_MARKER}: waits for" in reason

        mark_success(folder)
        results = run_tick(state, sensor)
        assert [r.success for r in results] == [True], _failure_text(results)
        key = folder.name.removesuffix(".parquet")
        assert key in partitions(state) and scored(state, key)
        materialized = {e.asset_key for r in results for e in r.get_asset_materialization_events()}
        assert {state.names.key(name) for name in (BATCHES, PREDICTIONS, DRIFT)} <= materialized
        [check] = [e for r in results for e in r.get_asset_check_evaluations() if e.check_name == BATCH_CONTRACT_CHECK]
        assert check.passed and check.metadata["rows"].value == len(batch(0))
        # The batch's DVC object is the validated frame, one Parquet file, whatever the landed layout.
        assert not AssetStore(home.dvc_workspace).record(state.names.key(BATCHES).path, key).is_dir

        # The labels land as a folder of the same name, and the batch's realized performance follows.
        write_spark_folder(state.landing.labels / folder.name, batch_frame(0)[[ID, LABEL]], parts=2)
        performance = run_tick(state, state.names.labels_sensor)
        assert [r.success for r in performance] == [True], _failure_text(performance)

        # A part rewritten in place after _SUCCESS: a new version of the batch, scored again.
        part = sorted(folder.glob("part-*"))[0]
        pq.write_table(pq.read_table(part).slice(5), part)
        assert [r.success for r in run_tick(state, sensor)] == [True]

        # Parts that disagree on a column's type: the run fails naming the folder and the column; quarantined.
        bad = write_spark_folder(production / folder_name(1), batch(1), parts=2)
        second = sorted(bad.glob("part-*"))[1]
        table = pq.read_table(second)
        index = table.schema.get_field_index("pages_viewed")
        pq.write_table(table.set_column(index, "pages_viewed", table["pages_viewed"].cast(pa.string())), second)

        failed = run_tick(state, sensor)
        text = _failure_text(failed)
        assert failed and not any(r.success for r in failed)
        assert bad.name in text and "pages_viewed" in text and "disagree" in text
        assert bad.name in quarantined(state) and "pages_viewed" in quarantined(state)[bad.name]
        assert not bad.exists()
