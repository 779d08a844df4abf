"""Attribution drift reuses the predictions step's figure: the champion is loaded once per scored batch.

The predictions step stores the batch's mean |attribution| with the model
version it came from; the drift step uses it when that version is the reference
profile's, and loads the reference's model only when it is not. Loads are
counted at the registry's one way to read a model version, `ModelLineup.load`.
"""

from __future__ import annotations

import dagster as dg
import pytest

from asset_platform.app.demo import start_loop, tick
from asset_platform.fairness.attribution_drift import (
    BATCH_ATTRIBUTION,
    attribution_drift_metadata,
    mean_attribution,
)
from asset_platform.lifecycle.names import BATCHES, DRIFT, PREDICTIONS, REFERENCE_PROFILE
from asset_platform.registry.models import ModelLineup, lineup_for
from assets.ecommerce import ecommerce
from tests.monitoring.loop import copy_home, land, open_instance

ATTRIBUTION_KEYS = ("attribution_drift", "attribution_drift/moving_drifted_features", "attribution_drift/values")


def _counting(read: list[str]):
    """`ModelLineup.load` that appends each version it reads to `read`."""
    load = ModelLineup.load

    def counted(lineup, asset, version):
        read.append(version)
        return load(lineup, asset, version)

    return counted


@pytest.fixture(scope="module")
def scored(trained_home, tmp_path_factory: pytest.TempPathFactory):
    """One drifted batch scored through the batch sensor on a copy of the trained home, its model loads counted:
    (loop state, batch, run result, versions loaded)."""
    home = copy_home(trained_home, tmp_path_factory.mktemp("attribution-reuse") / "platform")
    with open_instance(home) as instance, pytest.MonkeyPatch.context() as patch:
        state = start_loop(home, "ecommerce", instance)
        path, _labels = land(state, 0, "covariate")
        read: list[str] = []
        patch.setattr(ModelLineup, "load", _counting(read))
        [result] = tick(state, state.names.batch_sensor)
        patch.undo()
        yield state, path.stem, result, read


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model versions read through `ModelLineup.load` while the test runs, in order."""
    read: list[str] = []
    monkeypatch.setattr(ModelLineup, "load", _counting(read))
    return read


def _metadata(result, key: dg.AssetKey) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def _reference(state) -> dict:
    return state.defs.resources["registry"].store.get(state.names.path(REFERENCE_PROFILE))


def _old_path(state, batch: str, drifted: list[str]) -> dict:
    """What the drift step computed before: the reference's champion loaded, the batch explained with it."""
    registry = state.defs.resources["registry"]
    reference = _reference(state)
    rows = registry.store.get(state.names.path(BATCHES), batch)  # the batch as stored: the drift step's input
    lineup = lineup_for(registry, state.names)
    found = lineup.find(reference["champion_version"])
    figure = mean_attribution(ecommerce, lineup.load(found.asset, found.version), rows)
    metadata = attribution_drift_metadata(reference["attribution"], figure, drifted)
    return {name: metadata[name].value for name in ATTRIBUTION_KEYS}


def _run_drift_alone(state, batch: str) -> dg.ExecuteInProcessResult:
    job = state.defs.resolve_job_def(state.names.score_batch_job)
    result = job.execute_in_process(
        instance=state.instance, partition_key=batch, asset_selection=[state.names.key(DRIFT)]
    )
    assert result.success
    return result


def test_drift_reuses_the_predictions_attribution_and_loads_no_model(scored) -> None:
    state, batch, result, loads = scored
    assert result.success
    predictions = _metadata(result, state.names.key(PREDICTIONS))
    stored = predictions[BATCH_ATTRIBUTION]
    assert stored["champion_version"] == predictions["champion_version"]
    # One load per scored batch: the predictions step's; the drift step loads none.
    assert loads == [predictions["champion_version"]]
    drift = _metadata(result, state.names.key(DRIFT))
    reused = {name: drift[name] for name in ATTRIBUTION_KEYS}
    assert reused == _old_path(state, batch, drift["assessment"]["drifted_features"])
    assert {name: value["batch"] for name, value in drift["attribution_drift/values"].items()} == stored["mean_abs"]
    assert drift["attribution_drift/moving_drifted_features"]  # the covariate shift moved features the model uses


def test_drift_loads_the_reference_model_when_the_predictions_came_from_another(scored, loads) -> None:
    state, batch, _, _ = scored
    before = _metadata(_run_drift_alone(state, batch), state.names.key(DRIFT))
    assert loads == []
    # Predictions of this partition now say another model explained them: drift must not use their figure.
    state.instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=state.names.key(PREDICTIONS),
            partition=batch,
            metadata={BATCH_ATTRIBUTION: dg.MetadataValue.json({"champion_version": "0" * 32, "mean_abs": {}})},
        )
    )
    after = _metadata(_run_drift_alone(state, batch), state.names.key(DRIFT))
    assert loads == [_reference(state)["champion_version"]]
    assert {name: after[name] for name in ATTRIBUTION_KEYS} == {name: before[name] for name in ATTRIBUTION_KEYS}
