"""The same user model declared in YAML (a Dagster component in a dg project), checked and run."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.app.demo import LoopState, tick
from asset_platform.lifecycle import lifecycle_names
from asset_platform.project import yaml_declarations
from asset_platform.resources.local import local_resources
from definitions import build_definitions
from tests.conftest import VENV_BIN, subprocess_env
from tests.declaration.loans import YAML_DECLARATION, land_batch, land_labels, loans_declaration, write_history

START = dt.date(2026, 5, 1)


def _project(root: Path, yaml_text: str) -> Path:
    """A minimal dg project whose defs folder holds one `loans/defs.yaml`; returns the project root.

    Each project gets its own package name: Python caches imported modules by name,
    and a second project under the same name would load the first one's defs.
    """
    package = f"loans_project_{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "loans-project"\nversion = "0"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        f'[tool.dg.project]\nroot_module = "{package}"\ndefs_module = "{package}.defs"\n'
    )
    defs = root / package / "defs"
    (defs / "loans").mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (defs / "__init__.py").write_text("")
    (defs / "loans" / "defs.yaml").write_text(yaml_text)
    return root


def defs_folder(project: Path) -> Path:
    (folder,) = project.glob("loans_project_*/defs")
    return folder


def _dg_check(project: Path) -> subprocess.CompletedProcess:
    env = subprocess_env(VIRTUAL_ENV=str(VENV_BIN.parent), PYTHONPATH=f"{project}{os.pathsep}{os.getcwd()}")
    return subprocess.run(
        [str(VENV_BIN / "dg"), "check", "yaml"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_yaml_declaration_is_at_most_30_lines_and_equals_the_python_one(tmp_path, monkeypatch) -> None:
    assert len(YAML_DECLARATION.read_text().splitlines()) <= 30
    project = _project(tmp_path, YAML_DECLARATION.read_text())
    monkeypatch.syspath_prepend(str(project))
    (declaration,) = yaml_declarations(defs_folder(project))
    assert declaration.model_dump() == loans_declaration().model_dump()


def test_dg_check_yaml_accepts_the_declaration_and_points_at_a_typo(tmp_path) -> None:
    good = _project(tmp_path / "good", YAML_DECLARATION.read_text())
    assert _dg_check(good).returncode == 0
    typo = YAML_DECLARATION.read_text().replace("  label_column:", "  lable_column:")
    bad = _project(tmp_path / "bad", typo)
    checked = _dg_check(bad)
    output = checked.stdout + checked.stderr
    assert checked.returncode != 0
    line = next(number for number, text in enumerate(typo.splitlines(), 1) if "lable_column" in text)
    assert "defs.yaml" in output and f":{line}" in output and "lable_column" in output


def test_the_repositorys_yaml_declarations_pass_dg_check_yaml() -> None:
    root = Path(__file__).resolve().parents[2]
    checked = _dg_check(root)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_yaml_declared_model_runs_the_closed_loop(tmp_path, monkeypatch) -> None:
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome

    project = _project(tmp_path / "project", YAML_DECLARATION.read_text())
    monkeypatch.syspath_prepend(str(project))
    (declaration,) = yaml_declarations(defs_folder(project))
    home = PlatformHome(tmp_path / "home").ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    landing = resources["landing"].for_model(declaration).ensure()
    write_history(landing.history, START, 6, 1000)
    with dg.DagsterInstance.get() as instance:
        state = LoopState(instance, defs, lifecycle_names(declaration), landing)
        assert defs.resolve_job_def(state.names.training_job).execute_in_process(instance=instance).success
        for index, drift in enumerate([None, "income_shift", "income_shift"]):
            day = START + dt.timedelta(days=6 + index)
            labels = land_batch(landing, day, 1000, drift)
            assert all(result.success for result in tick(state, state.names.batch_sensor))
            land_labels(landing, day, labels)
            tick(state, state.names.labels_sensor)
            retrains = tick(state, state.names.drift_retrain_sensor)
        assert len(retrains) == 1 and retrains[0].success
        decision = next(
            e.materialization.metadata["decision"].value
            for e in retrains[0].get_asset_materialization_events()
            if e.asset_key == state.names.champion
        )
        assert decision in ("promoted", "rejected")


if sys.platform == "win32":  # pragma: no cover
    pytest.skip("dg projects are tested on POSIX", allow_module_level=True)
