"""Issue 24, finding 1: one landing that repeats history ids must not break retraining for good.

A production day landed over a history day (what `generate --target production`
did by default) repeats the history's ids: read together, the whole history
failed the contract's id uniqueness on every retraining. Now the offending batch
is quarantined with its reason and the retraining goes on; a failure the same
inputs would repeat is said first in plain words and not retried.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from asset_platform.home import PlatformHome
from asset_platform.lifecycle.failures import NO_RUN_RETRY_TAG
from asset_platform.lifecycle.names import RAW_DATA
from asset_platform.synthetic.landing import write_labels, write_production_day
from tests.hardening.helpers import HISTORY_START, ROWS, SEED, copy_home, loop_on, quarantined

WILL_RETRY_TAG = "dagster/will_retry"  # set by Dagster on a failed run when run_retries is enabled


def _raw_metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key == key:
            return {name: value.value for name, value in event.materialization.metadata.items()}
    return {}


def test_a_production_batch_repeating_history_ids_is_quarantined_and_retraining_goes_on(
    trained_home: PlatformHome, tmp_path
) -> None:
    home = copy_home(trained_home, tmp_path / "home")
    with loop_on(home) as state:
        # The first history day landed again as production, with its labels.
        _path, labels = write_production_day(state.landing.production, HISTORY_START, ROWS, SEED)
        write_labels(state.landing.labels, HISTORY_START, labels)
        name = f"events_{HISTORY_START:%Y-%m-%d}.parquet"
        retraining = state.defs.resolve_job_def(state.names.retraining_job).execute_in_process(
            instance=state.instance, raise_on_error=False
        )
        assert retraining.success
        notes = quarantined(state)
        assert len(notes) == 2, notes  # the batch and its labels
        assert all(f"{ROWS} of its {ROWS} ids were already landed in history/{name}" in n for n in notes.values())
        assert not (state.landing.production / name).exists() and not (state.landing.labels / name).exists()
        raw = _raw_metadata(retraining, state.names.key(RAW_DATA))
        assert f"production/{name}" in raw["quarantined_files"] and f"production/{name}" not in raw["source_files"]
        # The next retraining reads the same landing without a word about it: the file is gone for good.
        again = state.defs.resolve_job_def(state.names.retraining_job).execute_in_process(
            instance=state.instance, raise_on_error=False
        )
        assert again.success and "quarantined_files" not in _raw_metadata(again, state.names.key(RAW_DATA))


def test_a_history_nothing_can_train_on_fails_once_saying_why_and_is_not_retried(
    trained_home: PlatformHome, tmp_path
) -> None:
    home = copy_home(trained_home, tmp_path / "home")
    with loop_on(home) as state:
        for path in state.landing.history.iterdir():  # every history file loses its label column
            pd.read_parquet(path).drop(columns=["converted"]).to_parquet(path, index=False)
        retraining = state.defs.resolve_job_def(state.names.retraining_job).execute_in_process(
            instance=state.instance, raise_on_error=False
        )
        assert not retraining.success
        run = state.instance.get_run_by_id(retraining.run_id)
        assert run.tags[NO_RUN_RETRY_TAG] == "false" and run.tags[WILL_RETRY_TAG] == "false"
        records = state.instance.all_logs(retraining.run_id)
        errors = [record.user_message for record in records if record.level >= 40]  # logging.ERROR
        assert errors and errors[0].startswith("model ecommerce: every history file was unfit"), errors[:2]
        assert "breaks the data contract" in errors[0] and "converted" in errors[0]
