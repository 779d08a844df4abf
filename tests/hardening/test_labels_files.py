"""Labels files: repeated ids resolved one way everywhere, labels of a batch that never landed named and
quarantined (issue 30, "also degraded").

Performance joined every repeated id of a labels file while retraining kept the
last one, silently; a labels file for a batch that never existed stayed in
labels/ forever, never named.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from asset_platform.home import PlatformHome
from asset_platform.lifecycle.names import PERFORMANCE
from tests.hardening.helpers import (
    ROWS,
    batch_frame,
    copy_home,
    land,
    land_labels,
    loop_on,
    quarantined,
    run_tick,
    skip_reason,
)


@pytest.fixture
def home(trained_home: PlatformHome, tmp_path: Path) -> PlatformHome:
    return copy_home(trained_home, tmp_path / "home")


def test_repeated_label_ids_are_resolved_to_the_last_label_by_performance_and_retraining_alike_with_a_warning(
    home: PlatformHome, caplog: pytest.LogCaptureFixture
) -> None:
    with loop_on(home) as state:
        path, labels = land(state, 0)
        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]
        corrected = labels.head(50).assign(converted=1 - labels["converted"].head(50))
        land_labels(state, 0, pd.concat([labels.assign(converted=0), corrected], ignore_index=True))

        with caplog.at_level(logging.WARNING, logger="asset_platform"):
            assert [r.success for r in run_tick(state, state.names.labels_sensor)] == [True]
            retraining_rows = state.landing.labeled_batch(path.stem)

        record = state.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=state.names.key(PERFORMANCE), asset_partitions=[path.stem]), limit=1
        ).records[0]
        metadata = record.asset_materialization.metadata
        assert metadata["duplicate_label_ids"].value == 50 and metadata["labeled_rows"].value == ROWS
        assert len(retraining_rows) == ROWS
        by_id = retraining_rows.set_index("event_id")["converted"]
        assert (by_id.loc[corrected["event_id"]].to_numpy() == corrected["converted"].to_numpy()).all(), (
            "the last label of each id, as performance used"
        )
        assert "repeat an id already labeled" in caplog.text


def test_labels_whose_batch_never_landed_are_named_then_quarantined_after_the_grace_period(
    home: PlatformHome,
) -> None:
    with loop_on(home) as state:
        young = state.landing.labels / "events_2031-01-01.parquet"
        old = state.landing.labels / "events_2031-01-02.parquet"
        for path in (young, old):
            batch_frame(0)[["event_id", "converted"]].to_parquet(path, index=False)
        day_and_more = time.time() - 25 * 3600  # the default grace is 24 h
        os.utime(old, (day_and_more, day_and_more))

        reason = skip_reason(state, state.names.labels_sensor)

        assert f"labels without a batch (quarantined after 24 h): {young.name}" in reason
        assert young.exists() and not old.exists()
        assert "no batch events_2031-01-02 ever landed" in quarantined(state)[old.name]
