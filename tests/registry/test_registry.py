"""The registry on real versions: gate, promotion, rollback, history, CLI, reproduce, lineage."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import dagster as dg
import pytest

from asset_platform.definitions import build_definitions
from asset_platform.home import PlatformHome
from asset_platform.registry.lineage import find_materialization, trace
from asset_platform.registry.models import ModelRegistry
from asset_platform.registry.reproduce import reproduce
from asset_platform.serve import prepare_dagster_home
from asset_platform.synthetic import write_batches
from assets.features.pipeline import score_events
from assets.models import MODEL_CONFIGS
from tests.conftest import VENV_BIN, subprocess_env

# Deliberately weak settings: a challenger trained with the defaults must beat these.
WEAK = {
    "lgbm_model": {"num_leaves": 2, "max_rounds": 1, "learning_rate": 0.01},
    "sklearn_model": {"c": 0.002, "l1_ratio": 1.0},
    "torch_model": {"hidden": [1], "max_epochs": 1, "learning_rate": 1e-5},
}
TRACKING_KEYS = (
    "params",
    "seed",
    "metrics/train_auc",
    "metrics/valid_auc",
    "metrics/holdout_auc",
    "feature_importance",
    "training/wall_s",
    "training/cpu_s",
    "training/peak_rss_mb",
    "library_versions",
    "git_commit",
    "dvc/inputs",
)


def _train(defs: dg.Definitions, instance: dg.DagsterInstance, weak: bool) -> dg.ExecuteInProcessResult:
    ops = {name: {"config": config} for name, config in WEAK.items()} if weak else {}
    result = defs.resolve_job_def("baseline_training").execute_in_process(
        instance=instance, run_config={"ops": ops}, tags={"asset_platform/trigger": "test"}
    )
    assert result.success
    return result


def _decision(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["champion_model"]]
    return {key: value.value for key, value in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory):
    """Weak baseline → better challenger → worse challenger, on one platform home."""
    home = PlatformHome(tmp_path_factory.mktemp("registry") / "platform").ensure()
    write_batches(home.history_landing, dt.date(2026, 1, 1), 14, 800, seed=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSET_PLATFORM_HOME", str(home.root))
        patch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
        from resources.local import local_resources

        defs = build_definitions(local_resources(home))
        with dg.DagsterInstance.get() as instance:
            runs = [_train(defs, instance, weak=True), _train(defs, instance, weak=False), _train(defs, instance, True)]
            yield home, defs, instance, runs


def test_first_model_is_promoted(history):
    _, _, _, runs = history
    decision = _decision(runs[0])
    assert decision["decision"] == "promoted"
    assert decision["reason"].startswith("first model")


def test_better_challenger_is_promoted_with_bootstrap_evidence(history):
    _, _, _, runs = history
    decision = _decision(runs[1])
    assert decision["decision"] == "promoted", decision["reason"]
    assert decision["holdout/ci_low"] > 0
    assert decision["holdout/delta_auc"] > decision["holdout/ci_low"]
    assert "95% CI" in decision["reason"]


def test_worse_challenger_is_rejected_and_the_pointer_keeps_its_version(history):
    _, _, _, runs = history
    decision, before = _decision(runs[2]), _decision(runs[1])
    assert decision["decision"] == "rejected"
    assert "does not beat" in decision["reason"]
    assert decision["champion_version"] == before["champion_version"]
    assert decision["dvc/md5"] == before["dvc/md5"]  # same bytes: nothing downstream turns stale
    assert decision["dvc/bytes_added"] == 0
    # The alias history at a glance: newest first, this rejection on top.
    history = decision["history"].records
    assert [row.data["decision"] for row in history] == ["rejected", "changed", "changed"]


def test_every_model_materialization_carries_tracking_metadata(history):
    _, _, _, runs = history
    for result in runs:
        for event in result.get_asset_materialization_events():
            if event.asset_key.path[-1] in MODEL_CONFIGS:
                metadata = event.materialization.metadata
                missing = [key for key in TRACKING_KEYS if key not in metadata]
                assert not missing, (event.asset_key, missing)
                assert set(metadata["dvc/inputs"].value) == {"training_set", "holdout_set", "feature_pipeline"}
                assert "torch" in metadata["library_versions"].value
    lgbm = [e for e in runs[1].get_asset_materialization_events() if e.asset_key.path == ["lgbm_model"]][0]
    assert "data:image/png;base64," in lgbm.materialization.metadata["learning_curve"].value


def _cli(home: PlatformHome, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "asset-platform"), *args],
        env=subprocess_env(ASSET_PLATFORM_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_list_show_compare_on_real_versions(history):
    home, _, _, _ = history
    listed = json.loads(_cli(home, "models", "list", "--json").stdout)
    assert {row["asset"] for row in listed} == set(MODEL_CONFIGS)
    assert len(listed) == 6  # two distinct versions of each model
    assert sum(row["champion"] for row in listed) == 1
    lgbm = {r["metrics"]["best_iteration"] > 1: r["version"] for r in listed if r["asset"] == "lgbm_model"}
    weak, strong = lgbm[False], lgbm[True]
    shown = json.loads(_cli(home, "models", "show", strong[:8], "--json").stdout)
    assert shown["params"]["num_leaves"] == 31 and shown["metrics"]["holdout_auc"] > 0.7
    compared = json.loads(_cli(home, "models", "compare", weak[:8], strong[:8], "--json").stdout)
    assert compared["params"]["a"]["num_leaves"] == 2 and compared["params"]["b"]["num_leaves"] == 31
    assert compared["inputs"]["a"]["training_set"] == compared["inputs"]["b"]["training_set"]
    text = _cli(home, "models", "list").stdout
    assert "* = champion" in text and strong in text


def test_unknown_and_ambiguous_versions_are_clear_errors(history):
    home, _, _, _ = history
    unknown = _cli(home, "models", "show", "ffffffff")
    assert unknown.returncode != 0 and "no model version starts with 'ffffffff'" in unknown.stderr
    short = _cli(home, "models", "show", "ab")
    assert short.returncode != 0 and "at least 4 characters" in short.stderr
    listed = json.loads(_cli(home, "models", "list", "--json").stdout)
    prefixes = [row["version"][:1] for row in listed]
    assert all(len(p) == 1 for p in prefixes)


def test_rollback_and_promote_by_hand_are_recorded_in_order(history):
    home, _, _, runs = history
    registry = ModelRegistry(workspace=str(home.dvc_workspace))
    weak_champion = _decision(runs[0])["champion_version"]
    strong_champion = _decision(runs[1])["champion_version"]
    rolled = _cli(home, "models", "rollback", "--reason", "regression in checkout flow")
    assert rolled.returncode == 0, rolled.stderr
    assert registry.champion()["version"] == weak_champion
    # Production scoring follows the champion: it now uses the rolled-back model.
    champion = registry.champion()
    model = registry.load(champion["model_asset"], champion["version"])
    events = registry.store.get(["validated_events"]).head(200)
    assert score_events(model, events).shape == (200,)
    promoted = _cli(home, "models", "promote", strong_champion[:10], "--reason", "fixed")
    assert promoted.returncode == 0, promoted.stderr
    history_rows = json.loads(_cli(home, "models", "history", "--json").stdout)
    reasons = [row["reason"].split(":")[0] for row in history_rows]
    assert reasons[0].startswith("first model")
    assert reasons[1].startswith("promoted lgbm_model") or reasons[1].startswith("promoted")
    assert history_rows[-2]["reason"].startswith("rolled back") and history_rows[-2]["changed_by"].startswith("cli:")
    assert history_rows[-1]["reason"].startswith("promoted by hand") and history_rows[-1]["version"] == strong_champion


@pytest.mark.parametrize("asset", sorted(MODEL_CONFIGS))
def test_reproduce_is_byte_identical(history, asset):
    home, defs, instance, _ = history
    registry = ModelRegistry(workspace=str(home.dvc_workspace))
    version = registry.versions(asset)[0].version
    record = find_materialization(instance, asset, version)
    result = reproduce(instance, registry.store, defs.resolve_assets_def(asset), MODEL_CONFIGS[asset], record)
    assert result.identical, (result.version, result.rebuilt_version, result.metric_differences)


def test_reproduce_cli_reports_identity(history):
    home, _, _, _ = history
    version = ModelRegistry(workspace=str(home.dvc_workspace)).versions("lgbm_model")[0].version
    result = _cli(home, "reproduce", "lgbm_model", "--version", version[:8], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["identical"] is True


def test_lineage_reaches_the_landing_files(history):
    home, _, instance, _ = history
    record = find_materialization(instance, "champion_model", None)
    tree = trace(instance, record)

    def assets(step):
        yield step
        for parent in step.inputs:
            yield from assets(parent)

    steps = list(assets(tree))
    raw = [s for s in steps if s.asset == "raw_events"]
    assert raw and len(raw[0].source_files) == 14
    assert {s.asset for s in steps} >= {"champion_model", "model_evaluation", "lgbm_model", "training_set"}
    text = _cli(home, "lineage", "lgbm_model").stdout
    assert "landing file events_2026-01-01.parquet" in text
