"""The README's "Bring your own data" declarations, run exactly as written on data the test generates."""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg

from asset_platform.app.demo import LoopState, tick
from asset_platform.lifecycle import lifecycle_names
from asset_platform.project import yaml_declarations
from asset_platform.resources.local import local_resources
from definitions import build_definitions
from tests import REPO_ROOT
from tests.declaration.loans import land_batch, land_labels, write_history
from tests.declaration.test_yaml_declaration import _project, defs_folder

START = dt.date(2026, 6, 1)


def _block(marker: str, language: str) -> str:
    text = (REPO_ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"README.md has no {language} block after <!-- {marker} -->"
    return found.group(1)


def test_the_python_and_yaml_declarations_of_the_readme_are_the_same_model(tmp_path, monkeypatch) -> None:
    namespace: dict = {}
    exec(compile(_block("byod:python", "python"), "README.md", "exec"), namespace)  # noqa: S102 - our README
    project = _project(tmp_path, _block("byod:yaml", "yaml"))
    monkeypatch.syspath_prepend(str(project))
    (from_yaml,) = yaml_declarations(defs_folder(project))
    assert from_yaml.model_dump() == namespace["loans"].model_dump()


def test_the_readme_declaration_trains_scores_and_judges_a_batch(tmp_path, monkeypatch) -> None:
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome

    namespace: dict = {}
    exec(compile(_block("byod:python", "python"), "README.md", "exec"), namespace)  # noqa: S102 - our README
    declaration = namespace["loans"]
    home = PlatformHome(tmp_path / "home").ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    # The landing folder the README names: $ASSET_PLATFORM_HOME/landing/loans/.
    landing = resources["landing"].for_model(declaration)
    assert landing.folder == home.landing / "loans"
    write_history(landing.history, START, 5, 800)
    with dg.DagsterInstance.get() as instance:
        state = LoopState(instance, defs, lifecycle_names(declaration), landing.ensure())
        assert defs.resolve_job_def("loans_training").execute_in_process(instance=instance).success
        labels = land_batch(landing, START + dt.timedelta(days=5), 800, None)
        scored = tick(state, "loans_batch_sensor")
        assert len(scored) == 1 and scored[0].success
        land_labels(landing, START + dt.timedelta(days=5), labels)
        (performance,) = tick(state, "loans_labels_sensor")
        assert performance.success
        metadata = performance.get_asset_materialization_events()[0].materialization.metadata
        assert metadata["performance/auc"].value > 0.6
