"""Work that failed is asked for again: a file is done only once its run succeeded.

Issue 11, failure 3 (labels landing before scoring finished lost the realized
metric: the labels sensor had recorded the file) and failure 5 (a lost remote),
and the degraded case "cache and remote object both gone: clear errors, but the
batch is never scored again automatically; `models list` then crashes". The
sensors keep each requested run in their cursor and ask again, with an attempt
number in the run key, while the file is still in place; three attempts at most.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from asset_platform.app.cli import main
from asset_platform.home import PlatformHome
from asset_platform.lifecycle.names import PERFORMANCE, PREDICTIONS
from asset_platform.sensors.retries import MAX_ATTEMPTS
from tests.hardening.helpers import (
    champion_objects,
    copy_home,
    hide,
    land,
    land_labels,
    loop_on,
    quarantined,
    restore,
    run_text,
    run_tick,
    scored,
    skip_reason,
    stored_objects,
)


@pytest.fixture
def home(trained_home: PlatformHome, tmp_path: Path) -> PlatformHome:
    return copy_home(trained_home, tmp_path / "home")


def _performance(state, batch: str) -> bool:
    import dagster as dg

    records = state.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=state.names.key(PERFORMANCE), asset_partitions=[batch]), limit=1
    )
    return bool(records.records)


def test_labels_that_land_before_the_batch_is_scored_wait_and_the_realized_metric_follows_scoring(
    home: PlatformHome,
) -> None:
    with loop_on(home) as state:
        path, labels = land(state, 0)
        land_labels(state, 0, labels)

        reason = skip_reason(state, state.names.labels_sensor)

        assert f"labels waiting for their batch to be scored: {path.stem}" in reason
        # Labels there before the batch was asked for join its scoring run: the realized AUC comes with it.
        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]
        assert _performance(state, path.stem), "the batch's realized AUC is stored"
        assert run_tick(state, state.names.labels_sensor) == []
        assert skip_reason(state, state.names.labels_sensor) == "no new labels"


def test_a_scoring_run_that_failed_is_asked_for_again_with_an_attempt_number_and_the_batch_is_scored(
    home: PlatformHome,
) -> None:
    with loop_on(home) as state:
        moves = hide(champion_objects(state, home), home.root / "lost")  # cache and remote copies both gone
        path, _labels = land(state, 0)

        [failed] = run_tick(state, state.names.batch_sensor)

        assert not failed.success and path.exists() and quarantined(state) == {}, "the batch stays in production/"
        restore(moves)  # the remote is restored from a backup

        [retried] = run_tick(state, state.names.batch_sensor)

        assert retried.success and scored(state, path.stem)
        assert retried.dagster_run.tags["dagster/run_key"] == failed.dagster_run.tags["dagster/run_key"] + ":attempt-2"
        assert skip_reason(state, state.names.batch_sensor).startswith("no new"), "done: not asked again"


def test_models_list_with_a_lost_champion_object_is_a_clear_error_not_a_traceback(
    home: PlatformHome, capsys: pytest.CaptureFixture
) -> None:
    with loop_on(home) as state:
        hide(champion_objects(state, home), home.root / "lost")
        land(state, 0)
        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [False]
        capsys.readouterr()
        code = main(["models", "list", "--model", "ecommerce"])
        out = capsys.readouterr()
        assert code == 0 and "Traceback" not in out.err
        assert "! ecommerce/" in out.out  # the damaged version is listed with why, the others as usual


def test_scoring_is_asked_for_at_most_three_times_then_the_skip_reason_names_the_file(home: PlatformHome) -> None:
    with loop_on(home) as state:
        hide(champion_objects(state, home), home.root / "lost")
        path, _labels = land(state, 0)

        attempts = [run_tick(state, state.names.batch_sensor) for _ in range(MAX_ATTEMPTS)]

        assert [[r.success for r in results] for results in attempts] == [[False]] * MAX_ATTEMPTS
        reason = skip_reason(state, state.names.batch_sensor)
        assert f"{path.name}: scoring failed {MAX_ATTEMPTS} times" in reason
        assert skip_reason(state, state.names.batch_sensor) == reason, "and it stays named, not asked again"
        assert path.exists(), "the file is left for people to look at"


def test_a_failed_performance_run_is_asked_for_again_and_the_realized_metric_is_stored(home: PlatformHome) -> None:
    with loop_on(home) as state:
        path, labels = land(state, 0)
        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]
        moves = hide(stored_objects(home, state.names.path(PREDICTIONS), path.stem), home.root / "lost")
        land_labels(state, 0, labels)

        [failed] = run_tick(state, state.names.labels_sensor)

        assert not failed.success and not _performance(state, path.stem)
        restore(moves)
        [retried] = run_tick(state, state.names.labels_sensor)
        assert retried.success and _performance(state, path.stem)
        assert retried.dagster_run.tags["dagster/run_key"].endswith(":attempt-2")
        assert skip_reason(state, state.names.labels_sensor) == "no new labels"


def test_a_deleted_remote_is_an_error_never_recreated_and_the_batch_is_scored_once_it_is_restored(
    home: PlatformHome, capsys: pytest.CaptureFixture
) -> None:
    with loop_on(home) as state:
        backup = home.root / "remote-backup"
        os.replace(home.dvc_remote, backup)
        path, _labels = land(state, 0)

        [failed] = run_tick(state, state.names.batch_sensor)

        assert not failed.success and not home.dvc_remote.exists(), "the remote is not silently recreated"
        assert f"DVC remote 'storage' points to {home.dvc_remote}, which does not exist" in run_text(
            state, failed.run_id
        )
        capsys.readouterr()
        assert main(["storage", "verify", "--model", "ecommerce"]) != 0
        shutil.move(backup, home.dvc_remote)

        [retried] = run_tick(state, state.names.batch_sensor)

        assert retried.success and scored(state, path.stem)
        assert skip_reason(state, state.names.batch_sensor).startswith("no new")
        assert json.loads(state.cursors[state.names.batch_sensor])["pending"] == {}, "recorded as done only now"
