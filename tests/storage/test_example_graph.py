"""The example graph on the DVC storage: unchanged inputs give the same versions and no new bytes."""

from __future__ import annotations

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from assets.ecommerce import ecommerce
from definitions import build_definitions
from tests.storage.helpers import files_under

MUST_BE_STABLE = {"raw_data", "dataset", "training_set", "lgbm_model", "sklearn_model", "torch_model"}


def short_training(declaration: ModelDeclaration) -> ModelDeclaration:
    """The declaration with fewer boosting rounds and epochs: the same code paths, a faster suite."""
    data = declaration.model_dump()
    for model in data["models"]:
        if model["family"] == "lightgbm":
            model["params"]["max_rounds"] = 60
        if model["family"] == "torch":
            model["params"]["max_epochs"] = 4
    return ModelDeclaration.model_validate(data)


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
    declaration = short_training(ecommerce)
    names = lifecycle_names(declaration)
    job = build_definitions([declaration], local_resources).resolve_job_def(names.training_job)
    cache, remote = platform_home.dvc_workspace / ".dvc" / "cache", platform_home.dvc_remote
    with dg.instance_for_test() as instance:
        first = job.execute_in_process(instance=instance)
        cache_before, remote_before = files_under(cache), files_under(remote)
        second = job.execute_in_process(instance=instance)
    assert set(_versions(first)) >= {names.key(asset).to_user_string() for asset in MUST_BE_STABLE}
    assert _metadata_params(first, names.key("lgbm_model"))["max_rounds"] == 60
    # Models included: LightGBM text, the skops archive and the torch state dict are byte-reproducible.
    assert _versions(second) == _versions(first)
    assert set(_bytes_added(second).values()) == {0}
    assert files_under(cache) == cache_before
    assert files_under(remote) == remote_before


def _metadata_params(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata["params"].value
