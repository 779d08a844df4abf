"""Issue 23 finding 6: the reference profile is exactly the champion's training data version.

Labeled production batches dated inside the champion's training window join the dataset later; a
retrain the gate rejects must leave the reference profile's data version as it was.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from asset_platform.app.serve import prepare_dagster_home
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import DATASET, REFERENCE_PROFILE
from asset_platform.registry.models import lineup_for
from asset_platform.resources.local import local_resources
from definitions import build_definitions
from tests.declaration.loans import land_batch, land_labels, loans_declaration, write_history

START = dt.date(2026, 7, 1)


def _decision(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> str:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata["decision"].value


def test_a_rejected_retrain_leaves_the_reference_profile_version_unchanged(tmp_path, monkeypatch) -> None:
    fields = loans_declaration().model_dump(exclude_none=True)
    fields.update(gate={"margin": 1.0, "resamples": 60})  # an impossible margin: every challenger is rejected
    declaration = type(loans_declaration())(**fields)
    home = PlatformHome(tmp_path).ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    landing = resources["landing"].for_model(declaration).ensure()
    write_history(landing.history, START, 5, 600)
    names = lifecycle_names(declaration)
    store = lineup_for(resources["registry"], names).store
    with dg.DagsterInstance.get() as instance:
        trained = defs.resolve_job_def(names.training_job).execute_in_process(instance=instance)
        assert trained.success
        reference = store.record(names.path(REFERENCE_PROFILE), None).data_version
        # The profile shows what it holds: every feature in a table, the predictions' distribution first.
        [profiled] = [
            e for e in trained.get_asset_materialization_events() if e.asset_key == names.key(REFERENCE_PROFILE)
        ]
        shown = profiled.materialization.metadata["distributions"].value
        numeric, categorical = declaration.feature_columns()
        listed = [line.split(" | ")[0].strip("| ") for line in shown.splitlines() if line.startswith("| ")][1:]
        assert listed[0] == "prediction" and sorted(listed[1:]) == sorted([*numeric, *categorical])
        assert "data:image/png;base64," in shown
        dataset = store.record(names.path(DATASET), None).data_version
        # A labeled production batch dated on the second history day: inside the champion's window.
        labels = land_batch(landing, START + dt.timedelta(days=1), 600, None, seed=2)
        land_labels(landing, START + dt.timedelta(days=1), labels)
        retrain = defs.resolve_job_def(names.retraining_job).execute_in_process(instance=instance)
    assert retrain.success and _decision(retrain, names.champion) == "rejected"
    assert store.record(names.path(DATASET), None).data_version != dataset  # the batch joined the dataset
    assert store.record(names.path(REFERENCE_PROFILE), None).data_version == reference
