"""Every CLI command serves every declared model through `--model`: here the YAML regression example.

The commands read the DVC workspace and instance the code location uses, so a
model trained by the code location is listed, shown, compared, promoted, rolled
back, reproduced byte-identically (a HistGradientBoosting model) and traced.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import dagster as dg
import pytest

from asset_platform.app.cli import main
from asset_platform.app.serve import prepare_dagster_home
from asset_platform.home import PlatformHome
from asset_platform.resources.local import local_resources
from asset_platform.synthetic import write_batches
from definitions import build_definitions


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory):
    """A platform home where the deliveries model trained once; exported to the CLI by environment."""
    home = PlatformHome(tmp_path_factory.mktemp("cli-home")).ensure()
    saved = {key: os.environ.get(key) for key in ("ASSET_PLATFORM_HOME", "DAGSTER_HOME")}
    os.environ["ASSET_PLATFORM_HOME"] = str(home.root)
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    write_batches(home.landing / "deliveries" / "history", dt.date(2026, 2, 1), 6, 700, seed=4, dataset="deliveries")
    defs = build_definitions(resources=local_resources(home))
    with dg.DagsterInstance.get() as instance:
        assert defs.resolve_job_def("deliveries_training").execute_in_process(instance=instance).success
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _versions(capsys) -> list[dict]:
    code, out, _ = _run(capsys, "models", "list", "--model", "deliveries", "--json")
    assert code == 0
    return json.loads(out)


def test_models_list_without_model_lists_every_declared_model(trained_home, capsys) -> None:
    code, out, _ = _run(capsys, "models", "list")
    assert code == 0
    assert "deliveries (regression, rmse)" in out and "ecommerce (binary classification, auc)" in out
    assert "run the ecommerce_training job" in out and "deliveries/hgb_model" in out


def test_list_show_and_compare_a_regression_model(trained_home, capsys) -> None:
    versions = _versions(capsys)
    assert {v["asset"] for v in versions} == {"deliveries/lightgbm_model", "deliveries/hgb_model"}
    assert sum(v["champion"] for v in versions) == 1
    hgb = next(v for v in versions if v["asset"] == "deliveries/hgb_model")
    code, out, _ = _run(capsys, "models", "show", hgb["version"][:10], "--model", "deliveries")
    assert code == 0 and "HistGradientBoostingRegressor" in out and "holdout_rmse" in out
    code, out, _ = _run(capsys, "models", "compare", *(v["version"][:10] for v in versions), "--model", "deliveries")
    assert code == 0 and "holdout_rmse" in out and "deliveries/training_set" in out


def test_models_show_without_a_version_shows_the_champion(trained_home, capsys) -> None:
    champion = next(v for v in _versions(capsys) if v["champion"])
    code, out, _ = _run(capsys, "models", "show", "--model", "deliveries")
    assert code == 0 and out.startswith(f"{champion['asset']} {champion['version']}") and "champion: yes" in out


def test_promote_and_history(trained_home, capsys) -> None:
    # One launch: rollback takes the same path (the set_champion job), tested in tests/registry/test_registry.py.
    versions = _versions(capsys)
    other = next(v for v in versions if not v["champion"])
    code, out, _ = _run(capsys, "models", "promote", other["version"][:12], "--model", "deliveries", "--reason", "try")
    assert code == 0 and other["version"] in out
    code, out, _ = _run(capsys, "models", "history", "--model", "deliveries", "--json")
    last = json.loads(out)[-1]
    assert last["decision"] == "promoted" and last["changed_by"].startswith("cli:") and last["reason"].endswith("try")


def test_a_histgradientboosting_model_reproduces_byte_identically(trained_home, capsys) -> None:
    hgb = next(v for v in _versions(capsys) if v["asset"] == "deliveries/hgb_model")
    code, out, _ = _run(capsys, "reproduce", "hgb_model", "--model", "deliveries", "--version", hgb["version"][:12])
    assert code == 0, out
    assert "byte-identical" in out


def test_lineage_and_storage_commands_take_the_model(trained_home, capsys) -> None:
    code, out, _ = _run(capsys, "lineage", "champion", "--model", "deliveries")
    assert code == 0 and "deliveries/champion" in out and "landing file history/deliveries_2026-02-01.parquet" in out
    code, out, _ = _run(capsys, "storage", "list", "--model", "deliveries", "--json")
    assert code == 0 and {row["asset"].split("/")[0] for row in json.loads(out)} == {"deliveries"}
    code, out, _ = _run(capsys, "storage", "verify", "--model", "deliveries")
    assert code == 0
    code, out, _ = _run(capsys, "storage", "path", "--json")
    assert json.loads(out)["workspace"] == str(trained_home.dvc_workspace)


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "list", "--model", "nope"],
        ["models", "history", "--model", "nope"],
        ["reproduce", "hgb_model", "--model", "nope", "--version", "abcd"],
        ["lineage", "champion", "--model", "nope"],
        ["storage", "list", "--model", "nope"],
    ],
)
def test_an_unknown_model_name_is_an_error_listing_the_declared_models(trained_home, capsys, argv) -> None:
    code, _out, err = _run(capsys, *argv)
    assert code == 2
    assert "no declared model is named 'nope'" in err and "deliveries, ecommerce" in err


def test_a_command_for_one_model_without_model_asks_for_it(trained_home, capsys) -> None:
    code, _out, err = _run(capsys, "models", "history")
    assert code == 2 and "choose one with --model NAME" in err
