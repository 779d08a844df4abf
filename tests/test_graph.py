"""The example asset graph (the `ecommerce` declaration), materialized in process on small generated data."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from asset_platform.lifecycle import LifecycleNames, lifecycle_names
from asset_platform.storage import AssetStore
from asset_platform.synthetic import write_batches
from assets.ecommerce import ecommerce
from definitions import build_definitions
from tests.conftest import ecommerce_history

# The demo label is a noisy non-linear function; the generator's own Bayes-optimal
# AUC is about 0.82, so a healthy LightGBM on 11k training rows clears 0.75.
LGBM_MIN_HOLDOUT_AUC = 0.75
NAMES: LifecycleNames = lifecycle_names(ecommerce)
MODELS = ("lgbm_model", "sklearn_model", "torch_model")
# The training job's assets, by their name under the `ecommerce/` prefix.
EXPECTED_ASSETS = {
    "raw_data",
    "dataset",
    "feature_pipeline",
    "training_set",
    "holdout_set",
    *MODELS,
    "evaluation",
    "champion",
    "reference_profile",
}
# What serving and monitoring add (partitioned by production batch, not in the training job).
MONITORING_ASSETS = {"batches", "predictions", "drift", "performance"}


def _materialize_all(resources: dict, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = build_definitions([ecommerce], resources).resolve_job_def(NAMES.training_job)
    return job.execute_in_process(instance=instance, raise_on_error=False)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory):
    """One materialization of the whole graph, shared by the assertions below."""
    from asset_platform.home import PlatformHome
    from asset_platform.resources.local import local_resources

    home = PlatformHome(tmp_path_factory.mktemp("graph") / "platform").ensure()
    write_batches(ecommerce_history(home), dt.date(2026, 1, 1), 14, 800, seed=3)
    resources = local_resources(home)
    with dg.instance_for_test() as instance:
        result = _materialize_all(resources, instance)
        yield result, AssetStore(home.dvc_workspace)


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == NAMES.key(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def _get(store: AssetStore, asset: str):
    return store.get(NAMES.path(asset))


def test_every_asset_materializes(baseline):
    result, _ = baseline
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {NAMES.key(asset) for asset in EXPECTED_ASSETS}


def test_clean_history_validates_every_row(baseline):
    _, store = baseline
    raw, validated = _get(store, "raw_data"), _get(store, "dataset")
    assert len(raw) == 14 * 800
    assert len(validated) == len(raw)
    assert validated["event_id"].is_unique


def test_holdout_never_appears_in_training(baseline):
    _, store = baseline
    training, holdout = _get(store, "training_set"), _get(store, "holdout_set")
    assert set(training["event_id"]).isdisjoint(holdout["event_id"])
    assert training["event_time"].max() < holdout["event_time"].min()
    assert len(training) + len(holdout) == 14 * 800


def test_pipeline_is_fitted_on_training_rows_only(baseline):
    _, store = baseline
    spec, validated = _get(store, "feature_pipeline"), _get(store, "dataset")
    training_rows = validated[validated["event_time"] < pd.Timestamp(spec["cutoff"])]
    expected = float(training_rows["days_since_last_visit"].median())
    assert spec["medians"]["days_since_last_visit"] == pytest.approx(expected)
    assert float(validated["days_since_last_visit"].median()) != pytest.approx(expected, abs=1e-12)


def test_lightgbm_learns_the_synthetic_signal(baseline):
    result, _ = baseline
    assert _metadata(result, "evaluation")["lgbm_model/auc"] > LGBM_MIN_HOLDOUT_AUC


def test_every_model_records_params_and_metrics(baseline):
    result, store = baseline
    for name in MODELS:
        metadata = _metadata(result, name)
        assert metadata["params"], name
        assert 0.5 < metadata["metrics/valid_auc"] <= 1.0, name
        assert metadata["metrics/train_log_loss"] > 0, name
        model = _get(store, name)
        assert model.params == metadata["params"]
        # Shown to four significant digits, stored at full precision.
        assert model.metrics["valid_auc"] == pytest.approx(metadata["metrics/valid_auc"], rel=5e-4)
        assert metadata["metrics/valid_auc"] == float(f"{model.metrics['valid_auc']:.4g}")


def test_data_version_is_the_dvc_md5(baseline):
    result, _ = baseline
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        md5 = materialization.metadata["dvc/md5"].value
        assert materialization.tags["dagster/data_version"] == md5.removesuffix(".dir")


def test_a_faulty_history_file_is_quarantined_with_its_reason_and_training_goes_on(platform_home, local_resources):
    history = ecommerce_history(platform_home)
    write_batches(history, dt.date(2026, 1, 1), 3, 300, seed=5)
    (faulty,) = write_batches(history, dt.date(2026, 1, 4), 1, 300, seed=5, scenario="out_of_range")
    with dg.instance_for_test() as instance:
        result = _materialize_all(local_resources, instance)
    [check] = result.get_asset_check_evaluations()
    assert (check.asset_key, check.check_name) == (NAMES.key("raw_data"), "matches_contract")
    assert check.passed and check.description == "all 900 rows valid"  # the three good files
    raw = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == NAMES.key("raw_data")
    )
    assert faulty.name in raw["quarantined_files"].value
    assert not faulty.exists()
    (note,) = (platform_home.landing / "ecommerce" / "quarantine").glob("*.txt")
    assert faulty.name in note.read_text() and "price" in note.read_text()
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert NAMES.champion in materialized  # downstream trained on the rest
    assert len(AssetStore(platform_home.dvc_workspace).get(NAMES.path("raw_data"))) == 3 * 300
