"""The multiclass tests' trained ticket router: one platform home per session, trained twice for real."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import LifecycleNames, lifecycle_names
from tests.ml.router import router_declaration
from tests.ml.tickets import START, write_ticket_history

HISTORY_DAYS, ROWS_PER_DAY = 3, 800


@dataclass
class TrainedRouter:
    """The router's home after two trainings: `versions` are its two LightGBM versions, oldest first (trained on
    stable tickets, then on a history whose newest days swap billing and account tickets). The first is the
    champion; the gate put the second in shadow."""

    home: PlatformHome
    declaration: ModelDeclaration
    names: LifecycleNames
    resources: dict[str, Any]
    defs: dg.Definitions
    instance: dg.DagsterInstance
    versions: list[str]

    def env(self) -> dict[str, str]:
        """What the CLI reads to find this home: the platform home and its Dagster instance."""
        return {"ASSET_PLATFORM_HOME": str(self.home.root), "DAGSTER_HOME": str(self.home.dagster_home)}


@pytest.fixture(scope="session")
def trained_router(tmp_path_factory):
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.registry.models import lineup_for
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    home = PlatformHome(tmp_path_factory.mktemp("router")).ensure()
    dagster_home = prepare_dagster_home(home)
    declaration = router_declaration()
    names = lifecycle_names(declaration)
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    history = resources["landing"].for_model(declaration).ensure().history
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        write_ticket_history(history, START, HISTORY_DAYS, ROWS_PER_DAY)
        assert defs.resolve_job_def(names.training_job).execute_in_process(instance=instance).success
        later = START + dt.timedelta(days=HISTORY_DAYS)
        write_ticket_history(history, later, HISTORY_DAYS, ROWS_PER_DAY, seed=1, drift="concept")
        # The retraining job learns from the declared window, the newest days: after the swap only.
        retraining = defs.resolve_job_def(names.retraining_job)
        assert retraining.execute_in_process(instance=instance).success
        versions = [v.version for v in reversed(lineup_for(resources["registry"], names).versions())]
        assert len(versions) == 2, versions
        yield TrainedRouter(home, declaration, names, resources, defs, instance, versions)
