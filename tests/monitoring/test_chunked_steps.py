"""A production batch's predictions and drift steps, run by Dagster in chunks far smaller than the batch,
store what the whole batch in memory gives: the same predictions, drift results and verdict."""

from __future__ import annotations

import json

import numpy as np

from asset_platform.access.masking import sensitive_columns
from asset_platform.app.demo import start_loop, tick
from asset_platform.batch_engine import BatchEngine
from asset_platform.declaration.names import BATCH_CONTRACT_CHECK
from asset_platform.drift import ReferenceProfile, assess_batch, compute_drift
from asset_platform.drift.measure import mask_drift_results
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.lifecycle.monitoring import PROFILE_EXTRAS
from asset_platform.lifecycle.names import BATCHES, CHAMPION, DRIFT, PREDICTION, PREDICTIONS, REFERENCE_PROFILE
from asset_platform.ml.scoring import score_rows
from asset_platform.registry.models import lineup_for
from asset_platform.registry.pointer import ChampionPointer
from asset_platform.resources.local import local_resources
from assets.ecommerce import ecommerce
from tests.monitoring.loop import copy_home, land, open_instance

CHUNK_ROWS = 97


def _json(value) -> str:
    return json.dumps(json.loads(json.dumps(value, default=str)), sort_keys=True)  # NaN compares as text


def test_steps_in_small_chunks_store_what_the_whole_batch_gives(trained_home, tmp_path) -> None:
    home = copy_home(trained_home, tmp_path / "platform")
    resources = {**local_resources(home), "batch_engine": BatchEngine(chunk_rows=CHUNK_ROWS)}
    with open_instance(home) as instance:
        state = start_loop(home, "ecommerce", instance, resources)
        path, _labels = land(state, 0, "covariate")
        [result] = tick(state, state.names.batch_sensor)
        assert result.success
    names, store, partition = state.names, resources["registry"].store, path.stem
    # The landing step checked the contract chunk by chunk too (declaration/streamed_check.py).
    [contract] = [e for e in result.get_asset_check_evaluations() if e.check_name == BATCH_CONTRACT_CHECK]
    assert contract.passed and contract.metadata["checked_in_chunks_of"].value == CHUNK_ROWS
    batch = store.get(names.path(BATCHES), partition)
    assert len(batch) > 5 * CHUNK_ROWS
    pointer = ChampionPointer.from_dict(store.get(names.path(CHAMPION)))
    scores = score_rows(lineup_for(resources["registry"], names).load_champion(pointer), batch)

    predictions = store.get(names.path(PREDICTIONS), partition)
    assert predictions[ecommerce.id_column].tolist() == batch[ecommerce.id_column].tolist()
    np.testing.assert_allclose(predictions[PREDICTION].to_numpy(), scores, rtol=0, atol=1e-9)

    stored = store.get(names.path(REFERENCE_PROFILE))
    profile = ReferenceProfile.from_dict({k: v for k, v in stored.items() if k not in PROFILE_EXTRAS})
    whole = compute_drift(profile, batch.assign(**{PREDICTION: scores}), batch_key=partition)
    expected = mask_drift_results(whole, sensitive_columns(ecommerce))
    assert _json(store.get(names.path(DRIFT), partition)) == _json(expected.to_dict())
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == names.key(DRIFT)]
    policy = DriftMonitor().policy_for(ecommerce.monitoring.drift)
    drifted = list(assess_batch(expected, policy).drifted_features)
    assert event.materialization.metadata["assessment"].value["drifted_features"] == drifted
    assert drifted  # the covariate shift is seen
