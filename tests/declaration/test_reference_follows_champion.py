"""A rejected retrain never silences monitoring: the reference stays the champion's, drift keeps failing,
and the sensor keeps asking for retraining within its cooldown rules."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from asset_platform.app.demo import LoopState, tick
from asset_platform.app.serve import prepare_dagster_home
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import REFERENCE_PROFILE
from asset_platform.registry.models import lineup_for
from asset_platform.resources.local import local_resources
from definitions import build_definitions
from tests.declaration.loans import land_batch, land_labels, loans_declaration, write_history

START = dt.date(2026, 7, 1)


def _drift_check(results: list, key: dg.AssetKey) -> dg.AssetCheckEvaluation:
    for result in results:
        for check in result.get_asset_check_evaluations():
            if check.asset_key == key:
                return check
    raise AssertionError(f"no drift check for {key.to_user_string()}")


def test_a_rejected_retrain_keeps_the_reference_and_the_alarm(tmp_path, monkeypatch) -> None:
    fields = loans_declaration().model_dump(exclude_none=True)
    # An impossible margin forces every challenger to be rejected; one batch of cooldown.
    fields.update(gate={"margin": 1.0, "resamples": 60}, monitoring={"drift": {"cooldown_batches": 1}})
    declaration = type(loans_declaration())(**fields)
    home = PlatformHome(tmp_path).ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    landing = resources["landing"].for_model(declaration).ensure()
    write_history(landing.history, START, 5, 900)
    names = lifecycle_names(declaration)
    with dg.DagsterInstance.get() as instance:
        state = LoopState(instance, defs, names, landing)
        assert defs.resolve_job_def(names.training_job).execute_in_process(instance=instance).success
        champion = lineup_for(resources["registry"], names).champion()
        store = lineup_for(resources["registry"], names).store
        reference_version = store.record(names.path(REFERENCE_PROFILE), None).data_version
        checks, retrains = [], []
        for index in range(4):
            day = START + dt.timedelta(days=5 + index)
            labels = land_batch(landing, day, 900, "income_shift")
            checks.append(_drift_check(tick(state, names.batch_sensor), names.key("drift")))
            land_labels(landing, day, labels)
            tick(state, names.labels_sensor)
            retrains += tick(state, names.drift_retrain_sensor)
        # Every drifted batch fails the check, also after the first (rejected) retrain.
        assert [check.passed for check in checks] == [False, False, False, False]
        runs = list(instance.get_runs(dg.RunsFilter(job_name=names.retraining_job)))
        assert len(runs) == 2  # batches 1-2, then (after one batch of cooldown) batches 3-4
        decisions = {
            e.materialization.metadata["decision"].value
            for result in retrains
            for e in result.get_asset_materialization_events()
            if e.asset_key == names.champion
        }
        assert decisions == {"rejected"}
        assert lineup_for(resources["registry"], names).champion() == champion
        # The reference is still the champion's: same bytes, same data version.
        assert store.record(names.path(REFERENCE_PROFILE), None).data_version == reference_version
