"""The registry on real versions: gate, promotion, rollback, history, CLI, reproduce, lineage.

One platform home for the module: the `ecommerce` example trained three times
(weak baseline, a better challenger, a worse one again) and the `deliveries`
example (regression, with a HistGradientBoosting model) trained once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import LifecycleNames, lifecycle_names
from asset_platform.lifecycle.names import DATASET
from asset_platform.ml.scoring import score_rows
from asset_platform.registry.lineage import find_materialization, trace
from asset_platform.registry.models import ModelLineup, ModelRegistry, lineup_for
from asset_platform.synthetic import write_batches
from definitions import build_definitions, project_declarations
from tests.conftest import VENV_BIN, subprocess_env

START, DAYS, ROWS = dt.date(2026, 1, 1), 8, 1000
# Deliberately weak settings: a challenger trained with the declared ones must beat these.
WEAK = {
    "lgbm_model": {"num_leaves": 2, "max_rounds": 1, "learning_rate": 0.01},
    # An L1 penalty this strong zeroes every coefficient: a constant score.
    "sklearn_model": {"C": 0.002, "l1_ratio": 1.0, "solver": "liblinear"},
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


def weakened(declaration: ModelDeclaration) -> ModelDeclaration:
    """The same declaration with weak hyperparameters for every model family."""
    models = [
        spec.model_copy(update={"params": {**spec.params, **WEAK[spec.asset_name]}}) for spec in declaration.models
    ]
    return declaration.model_copy(update={"models": models})


@dataclass
class Registry:
    home: PlatformHome
    defs: dg.Definitions
    instance: dg.DagsterInstance
    names: LifecycleNames
    deliveries: LifecycleNames
    runs: list[dg.ExecuteInProcessResult]
    deliveries_run: dg.ExecuteInProcessResult

    @property
    def lineup(self) -> ModelLineup:
        return lineup_for(ModelRegistry(workspace=str(self.home.dvc_workspace)), self.names)


def _train(defs: dg.Definitions, job: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job).execute_in_process(instance=instance, tags={"asset_platform/trigger": "test"})
    assert result.success
    return result


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def _version(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> str:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.tags["dagster/data_version"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """Weak baseline → better challenger → worse challenger, and the deliveries model, on one platform home."""
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.resources.local import local_resources

    home = PlatformHome(tmp_path_factory.mktemp("registry") / "platform").ensure()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSET_PLATFORM_HOME", str(home.root))
        patch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
        patch.delenv("ASSET_PLATFORM_ENV", raising=False)
        declarations = {d.name: d for d in project_declarations()}
        ecommerce, deliveries = declarations["ecommerce"], declarations["deliveries"]
        resources = local_resources(home)
        landing = resources["landing"]
        write_batches(landing.for_model(ecommerce).history, START, DAYS, ROWS, seed=3)
        write_batches(landing.for_model(deliveries).history, START, DAYS, ROWS, seed=3, dataset="deliveries")
        defs = build_definitions([ecommerce, deliveries], resources)
        weak_defs = build_definitions([weakened(ecommerce), deliveries], resources)
        names = lifecycle_names(ecommerce)
        with dg.DagsterInstance.get() as instance:
            runs = [_train(d, names.training_job, instance) for d in (weak_defs, defs, weak_defs)]
            delivered = _train(defs, lifecycle_names(deliveries).training_job, instance)
            yield Registry(home, defs, instance, names, lifecycle_names(deliveries), runs, delivered)


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def _cli(home: PlatformHome, *args: str) -> Completed:
    """`asset-platform ARGS` in this process (fast); the console script itself is `_console`."""
    from asset_platform.app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSET_PLATFORM_HOME", str(home.root))
        patch.setenv("DAGSTER_HOME", str(home.dagster_home))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    return Completed(code, out.getvalue(), err.getvalue())


def _console(home: PlatformHome, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "asset-platform"), *args],
        env=subprocess_env(ASSET_PLATFORM_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_first_model_is_promoted(registry: Registry) -> None:
    decision = _metadata(registry.runs[0], registry.names.champion)
    assert decision["decision"] == "promoted"
    assert decision["reason"].startswith("first model")


def test_better_challenger_is_promoted_with_bootstrap_evidence(registry: Registry) -> None:
    decision = _metadata(registry.runs[1], registry.names.champion)
    assert decision["decision"] == "promoted", decision["reason"]
    assert decision["holdout/ci_low"] > 0
    assert decision["holdout/improvement"] > decision["holdout/ci_low"]
    assert "95% CI" in decision["reason"] and "auc" in decision["reason"]


def test_worse_challenger_is_rejected_and_the_pointer_keeps_its_version(registry: Registry) -> None:
    decision = _metadata(registry.runs[2], registry.names.champion)
    before = _metadata(registry.runs[1], registry.names.champion)
    assert decision["decision"] == "rejected"
    assert "does not beat" in decision["reason"]
    assert decision["champion_version"] == before["champion_version"]
    assert decision["dvc/md5"] == before["dvc/md5"]  # same bytes: nothing downstream turns stale
    assert decision["dvc/bytes_added"] == 0
    # The alias history at a glance: newest first, this rejection on top.
    rows = decision["history"].records
    assert [row.data["decision"] for row in rows] == ["rejected", "promoted", "promoted"]


def test_every_model_materialization_carries_tracking_metadata(registry: Registry) -> None:
    model_keys = set(registry.names.model_keys)
    for result in registry.runs:
        for event in result.get_asset_materialization_events():
            if event.asset_key in model_keys:
                metadata = event.materialization.metadata
                missing = [key for key in TRACKING_KEYS if key not in metadata]
                assert not missing, (event.asset_key, missing)
                inputs = {key.split("/")[-1] for key in metadata["dvc/inputs"].value}
                assert inputs == {"training_set", "holdout_set", "feature_pipeline"}
                assert "torch" in metadata["library_versions"].value
    lgbm = _metadata(registry.runs[1], registry.names.key("lgbm_model"))
    assert "data:image/png;base64," in lgbm["learning_curve"]


def test_list_show_compare_on_real_versions(registry: Registry) -> None:
    home = registry.home
    listed = json.loads(_cli(home, "models", "list", "--model", "ecommerce", "--json").stdout)
    assert {row["asset"] for row in listed} == {key.to_user_string() for key in registry.names.model_keys}
    assert len(listed) == 6  # two distinct versions of each model
    assert sum(row["champion"] for row in listed) == 1
    lgbm = {r["metrics"]["best_iteration"] > 1: r["version"] for r in listed if r["asset"] == "ecommerce/lgbm_model"}
    weak, strong = lgbm[False], lgbm[True]
    shown = json.loads(_cli(home, "models", "show", strong[:8], "--model", "ecommerce", "--json").stdout)
    assert shown["params"]["num_leaves"] == 31 and shown["metrics"]["holdout_auc"] > 0.7
    compared = json.loads(
        _cli(home, "models", "compare", weak[:8], strong[:8], "--model", "ecommerce", "--json").stdout
    )
    assert compared["params"]["a"]["num_leaves"] == 2 and compared["params"]["b"]["num_leaves"] == 31
    training_set = registry.names.key("training_set").to_user_string()
    assert compared["inputs"]["a"][training_set] == compared["inputs"]["b"][training_set]
    text = _cli(home, "models", "list", "--model", "ecommerce").stdout
    assert "* = champion" in text and strong in text


def test_models_list_covers_every_declared_model(registry: Registry) -> None:
    listed = json.loads(_cli(registry.home, "models", "list", "--json").stdout)
    assert {row["model"] for row in listed} == {"ecommerce", "deliveries"}
    assert {row["asset"] for row in listed if row["model"] == "deliveries"} == {
        "deliveries/lightgbm_model",
        "deliveries/hgb_model",
    }
    assert sum(row["champion"] for row in listed) == 2  # one champion per model
    text = _cli(registry.home, "models", "list").stdout
    assert "ecommerce (binary classification, auc)" in text and "deliveries (regression, rmse)" in text


def test_unknown_models_and_versions_are_clear_errors(registry: Registry) -> None:
    home = registry.home
    unknown = _cli(home, "models", "show", "ffffffff", "--model", "ecommerce")
    assert unknown.returncode != 0 and "no model version starts with 'ffffffff'" in unknown.stderr
    short = _cli(home, "models", "show", "ab", "--model", "ecommerce")
    assert short.returncode != 0 and "at least 4 characters" in short.stderr
    nope = _cli(home, "models", "list", "--model", "nope")
    assert nope.returncode == 2, nope.stderr
    assert "'nope'" in nope.stderr and "deliveries, ecommerce" in nope.stderr
    several = _cli(home, "models", "history")
    assert several.returncode == 2 and "--model" in several.stderr


def test_rollback_and_promote_by_hand_are_recorded_in_order(registry: Registry) -> None:
    home, lineup = registry.home, registry.lineup
    weak_champion = _metadata(registry.runs[0], registry.names.champion)["champion_version"]
    strong_champion = _metadata(registry.runs[1], registry.names.champion)["champion_version"]
    rolled = _console(home, "models", "rollback", "--model", "ecommerce", "--reason", "regression in checkout flow")
    assert rolled.returncode == 0, rolled.stderr
    assert lineup.champion().version == weak_champion
    # Production scoring follows the champion: it now uses the rolled-back model.
    model = lineup.load_champion(lineup.champion())
    rows = lineup.store.get(registry.names.path(DATASET)).head(200)
    assert score_rows(model, rows).shape == (200,)
    promoted = _cli(home, "models", "promote", strong_champion[:10], "--model", "ecommerce", "--reason", "fixed")
    assert promoted.returncode == 0, promoted.stderr
    assert lineup.champion().version == strong_champion
    history = json.loads(_cli(home, "models", "history", "--model", "ecommerce", "--json").stdout)
    assert history[0]["reason"].startswith("first model")
    assert history[1]["reason"].startswith("promoted lgbm_model")
    assert history[-2]["reason"].startswith("rolled back") and history[-2]["changed_by"].startswith("cli:")
    assert history[-1]["reason"].startswith("promoted by hand") and history[-1]["version"] == strong_champion
    assert history[-1]["changed_by"].startswith("cli:")


@pytest.mark.parametrize("asset", ["sklearn_model", "torch_model"])
def test_reproduce_is_byte_identical(registry: Registry, asset: str) -> None:
    version = _version(registry.runs[1], registry.names.key(asset))
    result = _cli(registry.home, "reproduce", asset, "--model", "ecommerce", "--version", version[:8], "--json")
    assert result.returncode == 0, (result.stdout, result.stderr)
    payload = json.loads(result.stdout)
    assert payload["identical"] is True and payload["version"] == version, payload


def test_reproduce_cli_reports_identity(registry: Registry) -> None:
    """The LightGBM model, through the console script itself."""
    version = _version(registry.runs[1], registry.names.key("lgbm_model"))
    args = ("reproduce", "lgbm_model", "--model", "ecommerce", "--version", version[:8])
    result = _console(registry.home, *args, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["identical"] is True and payload["version"] == version, payload
    assert payload["asset"] == "ecommerce/lgbm_model"


def test_hist_gradient_boosting_trains_stores_loads_and_reproduces(registry: Registry) -> None:
    names = registry.deliveries
    version = _version(registry.deliveries_run, names.key("hgb_model"))
    lineup = lineup_for(ModelRegistry(workspace=str(registry.home.dvc_workspace)), names)
    stored = lineup.find(version[:8])
    assert stored.asset == "deliveries/hgb_model"
    assert stored.params["estimator"].endswith("HistGradientBoostingRegressor")
    assert stored.metrics["holdout_rmse"] > 0
    model = lineup.load(stored.asset, version)
    rows = lineup.store.get(names.path(DATASET)).head(100)
    assert score_rows(model, rows).shape == (100,)
    result = _cli(registry.home, "reproduce", "hgb_model", "--model", "deliveries", "--version", version, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["identical"] is True


def test_lineage_reaches_the_landing_files(registry: Registry) -> None:
    record = find_materialization(registry.instance, registry.names.champion.to_user_string(), None)
    tree = trace(registry.instance, record)

    def steps(step):
        yield step
        for parent in step.inputs:
            yield from steps(parent)

    found = list(steps(tree))
    raw = [s for s in found if s.asset == "ecommerce/raw_data"]
    assert raw and len(raw[0].source_files) == DAYS
    assets = {s.asset.split("/")[-1] for s in found}
    assert assets >= {"champion", "evaluation", "lgbm_model", "training_set"}
    text = _cli(registry.home, "lineage", "lgbm_model", "--model", "ecommerce").stdout
    assert "landing file history/events_2026-01-01.parquet" in text


def test_history_reads_a_pointer_stored_before_changed_by(tmp_path: Path) -> None:
    """Pointers written by older versions lack `changed_by` and `changed_at`: history still lists them."""
    from asset_platform.storage import AssetStore
    from asset_platform.storage.workspace import ensure_workspace

    home = PlatformHome(tmp_path / "platform").ensure()
    ensure_workspace(home.dvc_workspace, "storage", str(home.dvc_remote), create_local_remote=True)
    old = {
        "model_asset": "lgbm_model",
        "version": "0123456789abcdef0123456789abcdef",
        "flavor": "lightgbm",
        "metrics": {"holdout_auc": 0.8},
        "reason": "first model: lgbm_model is the best of 3",
    }
    AssetStore(home.dvc_workspace, push=False).put(["ecommerce", "champion"], old, run_id="old-run")
    result = _cli(home, "models", "history", "--model", "ecommerce", "--json")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["changed_by"] == "unknown" and row["reason"] == old["reason"] and row["run_id"] == "old-run"
    text = _cli(home, "models", "history", "--model", "ecommerce")
    assert text.returncode == 0 and "by unknown: first model" in text.stdout
