"""The code location loads, every asset is documented the way the UI shows it, and the library stays a library."""

from __future__ import annotations

import ast
import subprocess
import tomllib

import dagster as dg
import pytest
import yaml

from asset_platform.lifecycle import lifecycle_names
from definitions import build_definitions, project_declarations
from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env

CODE_LOCATION_MODULE = "definitions"
STAGES = ("datasets", "features", "models", "registry", "monitoring")
EXAMPLE_MODELS = ("ecommerce", "deliveries")
# Project packages that bind the library to this repository; the library must work without them.
PROJECT_PACKAGES = ("assets", "resources", "sensors", "definitions", "app")
HEAVY_LIBRARIES = ("torch", "lightgbm", "sklearn", "scipy", "pandera")


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    """The project's definitions (every declaration) on local resources in a throw-away home."""
    from asset_platform.home import PlatformHome
    from asset_platform.resources.local import local_resources

    home = PlatformHome(tmp_path_factory.mktemp("definitions") / "platform")
    return build_definitions(resources=local_resources(home))


def test_definitions_load_with_local_resources(defs: dg.Definitions):
    assert "io_manager" in defs.resources and "landing" in defs.resources
    declared = {declaration.name for declaration in project_declarations()}
    assert set(EXAMPLE_MODELS) <= declared
    for declaration in project_declarations():
        names = lifecycle_names(declaration)
        for job in (
            names.training_job,
            names.retraining_job,
            names.set_champion_job,
            names.score_batch_job,
            names.performance_job,
        ):
            assert defs.resolve_job_def(job).name == job
        for sensor in (names.batch_sensor, names.labels_sensor, names.drift_retrain_sensor):
            assert defs.resolve_sensor_def(sensor).name == sensor


def test_ecommerce_names_are_the_documented_ones(defs: dg.Definitions):
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    expected = {
        f"ecommerce/{asset}"
        for asset in (
            "raw_data",
            "dataset",
            "feature_pipeline",
            "training_set",
            "holdout_set",
            "lgbm_model",
            "sklearn_model",
            "torch_model",
            "evaluation",
            "champion",
            "reference_profile",
            "batches",
            "predictions",
            "drift",
            "performance",
        )
    }
    assert expected <= keys
    checks = {(key.asset_key.to_user_string(), key.name) for key in defs.resolve_asset_graph().asset_check_keys}
    assert {
        ("ecommerce/raw_data", "matches_contract"),
        ("ecommerce/batches", "batch_matches_contract"),
        ("ecommerce/drift", "drift_within_policy"),
    } <= checks
    # The op name run config and Kubernetes pods see for a model's training step.
    assert defs.resolve_assets_def(dg.AssetKey(["ecommerce", "lgbm_model"])).op.name == "ecommerce__lgbm_model"


def test_every_asset_has_description_owner_group_kind_and_code_version(defs: dg.Definitions):
    specs = list(defs.resolve_all_asset_specs())
    declared = {declaration.name for declaration in project_declarations()}
    prefixes = {key.path[0] for key in defs.resolve_all_asset_keys()}
    assert set(EXAMPLE_MODELS) <= prefixes
    for spec in specs:
        name = spec.key.to_user_string()
        model = spec.key.path[0]
        assert len(spec.key.path) == 2, name
        assert spec.description and len(spec.description) > 20, name
        assert spec.owners, name
        if model in declared:
            assert spec.group_name in {f"{model}_{stage}" for stage in STAGES}, name
        else:  # an asset over the whole location (the fleet overview) has a group of its own
            assert spec.group_name and spec.group_name != "default", name
        assert spec.kinds, name
        assert spec.code_version, name
    groups = {spec.group_name for spec in specs if spec.key.path[0] == "ecommerce"}
    assert groups == {f"ecommerce_{stage}" for stage in STAGES}


def test_declared_owners_reach_the_assets(defs: dg.Definitions):
    owners = {spec.key.path[0]: spec.owners for spec in defs.resolve_all_asset_specs()}
    assert owners["deliveries"] == ["team:logistics"]
    assert owners["ecommerce"] == ["team:ml-platform"]


def test_the_code_location_is_app_definitions_everywhere():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["dagster"]["module_name"] == CODE_LOCATION_MODULE
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    modules = [entry["python_module"] for entry in workspace["load_from"]]
    assert [m if isinstance(m, str) else m["module_name"] for m in modules] == [CODE_LOCATION_MODULE]


def test_dagster_definitions_validate_passes(platform_home):
    result = subprocess.run(
        [str(VENV_BIN / "dagster"), "definitions", "validate", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "passed validation" in result.stderr + result.stdout


def test_unknown_environment_is_a_clear_error():
    from resources import resources_for_environment

    with pytest.raises(ValueError, match="ASSET_PLATFORM_ENV='staging'.*local"):
        resources_for_environment("staging")


def test_every_sensor_looks_as_often_as_the_composition_root_says(tmp_path, monkeypatch):
    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle.freshness import FRESHNESS_INTERVAL_S
    from asset_platform.resources.local import local_resources
    from resources import SENSOR_INTERVAL_VAR

    def intervals(defs) -> set[int]:
        # Freshness is declared in hours: its sensor looks at most every FRESHNESS_INTERVAL_S, whatever the root says.
        return {s.minimum_interval_seconds for s in defs.sensors if not s.name.endswith("_freshness_sensor")}

    home = PlatformHome(tmp_path / "platform")
    defaults = build_definitions(resources=local_resources(home))
    assert intervals(defaults) == {30}
    monkeypatch.setenv(SENSOR_INTERVAL_VAR, "7")
    quick = build_definitions(resources=local_resources(home))
    assert intervals(quick) == {7}
    freshness = {s.minimum_interval_seconds for s in quick.sensors if s.name.endswith("_freshness_sensor")}
    assert freshness == {FRESHNESS_INTERVAL_S}  # the ecommerce example declares freshness
    assert {sensor.name for sensor in quick.sensors} == {sensor.name for sensor in defaults.sensors}


def test_in_a_dg_project_each_declaration_component_reads_the_sensor_interval(monkeypatch):
    from resources import SENSOR_INTERVAL_VAR

    [deliveries] = [declaration for declaration in project_declarations() if declaration.name == "deliveries"]
    monkeypatch.setenv(SENSOR_INTERVAL_VAR, "9")
    sensors = deliveries.build_defs(None).sensors  # the component's build (dg list defs, a defs/ folder)
    assert sensors and {sensor.minimum_interval_seconds for sensor in sensors} == {9}


@pytest.mark.parametrize("value", ["0", "-5", "often", "2.5"])
def test_a_bad_sensor_interval_is_a_clear_error_naming_the_variable(value, monkeypatch):
    from resources import SENSOR_INTERVAL_VAR, sensor_interval_s

    monkeypatch.setenv(SENSOR_INTERVAL_VAR, value)
    with pytest.raises(ValueError, match=rf"\${SENSOR_INTERVAL_VAR} must be"):
        sensor_interval_s()


def test_heavy_ml_libraries_are_not_imported_at_load():
    code = f"import sys, {CODE_LOCATION_MODULE}; print(','.join(m for m in {HEAVY_LIBRARIES!r} if m in sys.modules))"
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", code], env=subprocess_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""


def _project_imports(path) -> list[str]:
    """`line: module` for each import of a project package in one source file (at any depth, lazy ones too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            modules = [node.args[0].value]
        else:
            continue
        found += [f"{node.lineno}: {m}" for m in modules if m.split(".")[0] in PROJECT_PACKAGES]
    return found


def test_the_scan_finds_project_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom app.definitions import defs\n\ndef f():\n    import resources.local\n"
        "    from assets import PYTHON_DECLARATIONS\n    importlib.import_module('app.cli')\n"
        "from apps import x\nfrom .app import y\n"
    )
    assert _project_imports(sample) == ["2: app.definitions", "5: resources.local", "6: assets", "7: app.cli"]


def test_the_library_never_imports_the_project_packages():
    library = REPO_ROOT / "asset_platform"
    files = sorted(library.rglob("*.py"))
    assert len(files) > 20
    findings = {str(path.relative_to(REPO_ROOT)): _project_imports(path) for path in files}
    assert {path: lines for path, lines in findings.items() if lines} == {}


def test_asset_selection_strings_parse():
    # Dagster's selection grammar is what breaks under the antlr that DVC pins.
    selection = dg.AssetSelection.from_string('group:"ecommerce_models" or key:"ecommerce/raw_data"')
    assert selection is not None
