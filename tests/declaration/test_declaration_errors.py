"""A mistake in a declaration is named at its own file and line, and never takes the other declarations down."""

from __future__ import annotations

import logging
import textwrap
import uuid
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.app.cli import main
from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.home import PlatformHome
from asset_platform.project import broken_declarations, platform_definitions, yaml_declarations
from asset_platform.resources.local import local_resources
from tests.declaration.loans import YAML_DECLARATION, loans_declaration
from tests.declaration.test_yaml_declaration import _dg_check, _project

GOOD = YAML_DECLARATION.read_text()


def _line(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


def _folder(root: Path, **files: str) -> Path:
    """A declarations folder with one `<name>/defs.yaml` per keyword."""
    for name, text in files.items():
        (root / name).mkdir(parents=True)
        (root / name / "defs.yaml").write_text(text)
    return root


def _renamed(name: str, text: str = GOOD) -> str:
    return text.replace("  name: loans", f"  name: {name}")


# -- closed sets in the YAML schema (issue 23, finding 2) ------------------------------------------


def test_dg_check_yaml_refuses_a_wrong_dtype_family_task_or_metric_at_its_own_line(tmp_path) -> None:
    bad = (
        GOOD.replace("{name: income, dtype: float", "{name: income, dtype: double")
        .replace("{family: lightgbm,", "{family: catboost,")
        .replace("task: binary_classification", "task: classification")
        .replace("metric: auc", "metric: f2_score")
    )
    checked = _dg_check(_project(tmp_path, bad))
    output = checked.stdout + checked.stderr
    assert checked.returncode != 0 and "validated successfully" not in output
    for value in ("double", "catboost", "classification", "f2_score"):
        line = _line(bad, value)
        assert f"defs.yaml:{line} " in output and f"'{value}' is not one of" in output, (value, output)


def test_a_wrong_nested_value_fails_the_load_at_its_own_line_not_at_the_list(tmp_path) -> None:
    bad = GOOD.replace("{name: income, dtype: float", "{name: income, dtype: double")
    folder = _folder(tmp_path, loans=bad)
    assert yaml_declarations(folder) == []
    (broken,) = broken_declarations(folder)
    assert broken.line == _line(bad, "dtype: double") != _line(bad, "columns:")
    assert str(broken).startswith(f"{folder / 'loans' / 'defs.yaml'}:{broken.line}: ")
    assert "field 'columns.2.dtype'" in str(broken) and "'double'" in str(broken)


# -- unknown keywords name themselves (finding 4) ---------------------------------------------------


def test_a_misspelt_python_keyword_names_itself_and_the_closest_field() -> None:
    fields = loans_declaration().model_dump(exclude_none=True)
    fields["lable_column"] = fields.pop("label_column")
    with pytest.raises(DeclarationError) as caught:
        ModelDeclaration(**fields)
    message = str(caught.value)
    assert "unknown field 'lable_column'; did you mean 'label_column'?" in message
    assert "Field required" not in message


def test_a_misspelt_nested_yaml_key_names_itself_and_the_closest_field_at_its_line(tmp_path) -> None:
    bad = GOOD.replace("retraining: {window_days: 3}", "retraining:\n    windw_days: 3")
    folder = _folder(tmp_path, loans=bad)
    yaml_declarations(folder)
    (broken,) = broken_declarations(folder)
    assert "unknown field 'windw_days'; did you mean 'window_days'?" in str(broken)
    assert broken.line == _line(bad, "windw_days")


# -- one bad declaration never takes the others down (issue 30) -------------------------------------


def test_a_bad_yaml_declaration_is_shown_as_an_asset_and_logged_while_the_others_load(tmp_path, caplog) -> None:
    folder = _folder(
        tmp_path / "declarations",
        loans=GOOD,
        typo=_renamed("typo", GOOD.replace("  label_column:", "  lable_column:")),
        not_yaml=_renamed("not_yaml", GOOD.replace("  task: binary", "  task: [binary")),
        wrong_type=_renamed("wrong_type", GOOD.replace("ModelDeclaration", "ModelDeclaraton")),
    )
    with caplog.at_level(logging.ERROR, logger="asset_platform.declarations"):
        declarations = yaml_declarations(folder)
    assert [d.name for d in declarations] == ["loans"]
    broken = {item.file.parent.name: item for item in broken_declarations(folder)}
    assert sorted(broken) == ["not_yaml", "typo", "wrong_type"]
    assert "did you mean 'label_column'" in str(broken["typo"]) and "does not import" in str(broken["wrong_type"])
    assert "not valid YAML" in str(broken["not_yaml"])
    assert all(f"{item.file}:{item.line}" in caplog.text for item in broken.values())

    resources = local_resources(PlatformHome(tmp_path / "home").ensure())
    defs = platform_definitions(declarations, resources, broken=list(broken.values()))
    assert defs.resolve_job_def("loans_training") is not None  # the good model's lifecycle is all there
    markers = {spec.key: spec for spec in defs.resolve_all_asset_specs() if spec.group_name == "broken_declarations"}
    typo = markers[dg.AssetKey(["broken_declarations", "typo"])]
    assert typo.metadata["file"] == str(broken["typo"].file) and typo.metadata["line"] == broken["typo"].line
    assert "did you mean 'label_column'" in typo.description and len(markers) == 3


def _cli_project(root: Path, body: str) -> str:
    """A code-location module under `root` (a unique name: Python caches modules by name)."""
    module = f"errors_project_{uuid.uuid4().hex[:8]}"
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    return module


@pytest.fixture
def cli_home(tmp_path, monkeypatch) -> Path:
    from asset_platform.app.serve import prepare_dagster_home

    home = PlatformHome(tmp_path / "home").ensure()
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    return home.root


def test_the_cli_lists_the_good_models_and_names_a_broken_yaml_declaration_with_exit_2(
    tmp_path, cli_home, capsys
) -> None:
    bad = _renamed("typo", GOOD.replace("  label_column:", "  lable_column:"))
    _folder(tmp_path / "declarations", loans=GOOD, typo=bad)
    module = _cli_project(
        tmp_path,
        """
        from pathlib import Path
        from asset_platform.home import PlatformHome
        from asset_platform.project import broken_declarations, platform_definitions, yaml_declarations
        from asset_platform.resources.local import local_resources

        FOLDER = Path(__file__).parent / "declarations"
        defs = platform_definitions(
            yaml_declarations(FOLDER), local_resources(PlatformHome.from_env()), broken=broken_declarations(FOLDER)
        )
        """,
    )
    code = main(["-m", module, "-d", str(tmp_path), "models", "list"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert "loans" in out  # the good model is still listed
    where = f"{tmp_path / 'declarations' / 'typo' / 'defs.yaml'}:{_line(bad, 'lable_column')}"
    assert f"error: declaration not loaded: {where}: declaration 'typo', field 'lable_column'" in err


def test_a_python_declaration_error_is_a_cli_error_at_the_line_of_the_offending_keyword(
    tmp_path, cli_home, capsys
) -> None:
    body = """
        from asset_platform.declaration import ModelDeclaration
        from tests.declaration.loans import loans_declaration

        COLUMNS = loans_declaration().columns
        loans = ModelDeclaration(
            name="loans",
            task="binary_classification",
            id_column="loan_id",
            lable_column="defaulted",
            time_column="applied_at",
            columns=COLUMNS,
            models=[{"family": "lightgbm"}],
        )
        """
    module = _cli_project(tmp_path, body)
    code = main(["-m", module, "-d", str(tmp_path), "models", "list"])
    _out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    where = f"{tmp_path / f'{module}.py'}:{_line(textwrap.dedent(body), 'lable_column')}"
    assert f"error: {where}: declaration 'loans', field 'lable_column': unknown field 'lable_column'" in err


def test_a_yaml_declaration_error_raised_through_dagsters_component_tree_is_a_cli_error_at_its_line(
    tmp_path, cli_home, capsys, monkeypatch
) -> None:
    bad = GOOD.replace("label_column: defaulted", "label_column: repaid")
    project = _project(tmp_path / "project", bad)
    (package,) = project.glob("loans_project_*")
    (package / "definitions.py").write_text(
        "from pathlib import Path\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    monkeypatch.chdir(project)
    code = main(["models", "list"])
    _out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    where = f"{package / 'defs' / 'loans' / 'defs.yaml'}:{_line(bad, 'label_column')}"
    assert f"error: {where}: declaration 'loans', field 'label_column': 'repaid' is not a column" in err
