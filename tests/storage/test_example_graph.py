"""The example graph on the DVC storage: unchanged inputs give the same versions and no new bytes."""

from __future__ import annotations

import dagster as dg
from asset_platform.definitions import build_definitions

from asset_platform.home import PlatformHome
from tests.storage.helpers import files_under

# Fewer boosting rounds and epochs than the defaults: the same code paths, a faster suite.
SHORT_TRAINING = {"ops": {"lgbm_model": {"config": {"max_rounds": 60}}, "torch_model": {"config": {"max_epochs": 4}}}}
MUST_BE_STABLE = {"raw_events", "validated_events", "training_set", "lgbm_model", "sklearn_model", "torch_model"}


def _versions(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.materialization.asset_key.to_user_string(): event.materialization.tags["dagster/data_version"]
        for event in result.get_asset_materialization_events()
    }


def _bytes_added(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    return {
        event.materialization.asset_key.to_user_string(): event.materialization.metadata["dvc/bytes_added"].value
        for event in result.get_asset_materialization_events()
    }


def test_second_materialization_adds_no_object(
    demo_history: list, local_resources: dict, platform_home: PlatformHome
) -> None:
    # The training job: history to models, registry and reference (the monitoring assets are partitioned).
    job = build_definitions(local_resources).resolve_job_def("baseline_training")
    cache, remote = platform_home.dvc_workspace / ".dvc" / "cache", platform_home.dvc_remote
    with dg.instance_for_test() as instance:
        first = job.execute_in_process(SHORT_TRAINING, instance=instance)
        cache_before, remote_before = files_under(cache), files_under(remote)
        second = job.execute_in_process(SHORT_TRAINING, instance=instance)
    assert set(_versions(first)) >= MUST_BE_STABLE
    # Models included: LightGBM text, the skops archive and the torch state dict are byte-reproducible.
    assert _versions(second) == _versions(first)
    assert set(_bytes_added(second).values()) == {0}
    assert files_under(cache) == cache_before
    assert files_under(remote) == remote_before
