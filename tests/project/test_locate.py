"""The commands find a team's project as Dagster does: -m, a workspace file, pyproject.toml upwards."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from asset_platform.app.cli import main
from asset_platform.declaration import DeclarationError
from asset_platform.project.locate import ProjectNotFoundError, find_project, load_project

LOCATION_MODULE = """
from asset_platform.project import platform_definitions
from asset_platform.resources import resources_for
from tests.project.samples import loans_declaration

defs = platform_definitions([loans_declaration(name="{name}")], resources_for("local"))
"""


def _module(folder: Path, module: str, model: str) -> None:
    (folder / f"{module}.py").write_text(textwrap.dedent(LOCATION_MODULE.format(name=model)))


def _workspace(folder: Path, *locations: tuple[str, str]) -> Path:
    entries = "".join(
        f"  - python_module:\n      module_name: {module}\n      location_name: {name}\n      working_directory: .\n"
        for name, module in locations
    )
    path = folder / "workspace.yaml"
    path.write_text(f"load_from:\n{entries}")
    return path


def test_a_workspace_with_several_code_locations_shows_the_models_of_all_of_them(tmp_path, platform_home, capsys):
    _module(tmp_path, "credit_defs", "loans")
    _module(tmp_path, "fraud_defs", "fraud")
    workspace = _workspace(tmp_path, ("credit", "credit_defs"), ("fraud", "fraud_defs"))
    (tmp_path / "notebooks").mkdir()
    target = find_project(tmp_path / "notebooks")  # from a folder inside the project, as dagster dev would
    assert target.workspace == workspace and target.location_names == ("credit", "fraud")
    project = load_project(target)
    assert sorted(project.declarations) == ["fraud", "loans"]
    assert main(["-w", str(workspace), "models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "loans (binary classification, auc)" in listing and "fraud (binary classification, auc)" in listing
    assert main(["-w", str(workspace), "--location", "fraud", "models", "list"]) == 0
    assert "loans" not in capsys.readouterr().out


def test_a_model_declared_in_two_code_locations_asks_for_the_location(tmp_path, platform_home, capsys):
    _module(tmp_path, "one_defs", "loans")
    _module(tmp_path, "two_defs", "loans")
    workspace = _workspace(tmp_path, ("one", "one_defs"), ("two", "two_defs"))
    with pytest.raises(DeclarationError, match="declared in code locations 'one' and 'two'; pick one with --location"):
        load_project(find_project(workspace=workspace))
    assert main(["-w", str(workspace), "--location", "two", "models", "list"]) == 0
    assert "loans (binary classification, auc)" in capsys.readouterr().out


def test_a_dg_project_is_found_from_a_folder_inside_it_and_loads_from_its_src_folder(tmp_path):
    root = tmp_path / "team-project"
    (root / "src" / "team_project" / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "team_project"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "team_project"\n'
    )
    target = find_project(root / "src" / "team_project" / "defs")
    (location,) = target.locations
    assert location.module == "team_project.definitions"
    assert location.working_directory == root / "src"
    assert location.name == "team-project"  # as dg names it: the project folder
    written = target.workspace_file(tmp_path / "home")
    assert "module_name: team_project.definitions" in written.read_text()
    assert "location_name: team-project" in written.read_text()


def test_pyproject_tool_dagster_module_name_is_the_code_location(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.dagster]\nmodule_name = "my_defs"\ncode_location_name = "mine"\n')
    (location,) = find_project(tmp_path).locations
    assert (location.module, location.name, location.working_directory) == ("my_defs", "mine", tmp_path)


def test_outside_any_project_the_commands_say_where_they_looked_and_what_to_pass(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectNotFoundError, match="-m/--module MODULE or -w/--workspace FILE"):
        find_project(tmp_path)
    assert main(["models", "list"]) == 2
    assert f"no Dagster project in {tmp_path}" in capsys.readouterr().err


def test_a_module_without_definitions_is_named(tmp_path, platform_home, capsys):
    (tmp_path / "empty_defs.py").write_text("VALUE = 1\n")
    assert main(["-m", "empty_defs", "-d", str(tmp_path), "models", "list"]) == 2
    assert "module empty_defs defines no Definitions" in capsys.readouterr().err
