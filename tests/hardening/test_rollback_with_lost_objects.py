"""`models rollback` works whenever an earlier champion's model is intact (issue 30, case 4).

Rollback is what repairs a champion whose stored bytes are lost, so it must not
need them: neither the model's objects nor the pointer's. An earlier champion
whose own model is lost is skipped, and named when nothing intact is left.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from asset_platform.home import PlatformHome
from asset_platform.lifecycle.names import CHAMPION
from asset_platform.registry.models import lineup_for
from tests.hardening.helpers import (
    champion_objects,
    copy_home,
    hide,
    land,
    land_labels,
    loop_on,
    run_tick,
    stored_objects,
)


def _set_champion(state, action: str, version: str | None = None) -> dg.ExecuteInProcessResult:
    config = {"action": action, "version": version, "reason": "test"}
    return state.defs.resolve_job_def(state.names.set_champion_job).execute_in_process(
        instance=state.instance,
        raise_on_error=False,
        run_config={"ops": {state.names.op(CHAMPION): {"config": config}}},
    )


def _lineup(state):
    return lineup_for(state.defs.resources["registry"], state.names)


@pytest.fixture(scope="module")
def two_champions(trained_home: PlatformHome, tmp_path_factory: pytest.TempPathFactory) -> tuple[PlatformHome, str]:
    """The baseline champion, then a retrained model promoted by hand; returns the home and the baseline version."""
    home = copy_home(trained_home, tmp_path_factory.mktemp("rollback") / "home")
    with loop_on(home) as state:
        baseline = _lineup(state).champion().version
        path, labels = land(state, 0)
        assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]
        land_labels(state, 0, labels)
        retrained = state.defs.resolve_job_def(state.names.retraining_job).execute_in_process(
            instance=state.instance, raise_on_error=False
        )
        assert retrained.success
        [newer] = [v.version for v in _lineup(state).versions() if v.version != baseline]
        assert _set_champion(state, "promote", newer).success
    return home, baseline


@pytest.fixture
def home(two_champions: tuple[PlatformHome, str], tmp_path: Path) -> PlatformHome:
    return copy_home(two_champions[0], tmp_path / "home")


def test_rollback_returns_to_the_earlier_champion_when_the_champions_model_and_pointer_are_lost(
    home: PlatformHome, two_champions: tuple[PlatformHome, str], tmp_path: Path
) -> None:
    with loop_on(home) as state:
        lost = champion_objects(state, home) + stored_objects(home, state.names.path(CHAMPION))
        hide(lost, tmp_path / "lost")

        result = _set_champion(state, "rollback")

        assert result.success
        assert _lineup(state).champion().version == two_champions[1]


def test_rollback_skips_nothing_intact_and_names_the_earlier_champion_whose_model_is_lost(
    home: PlatformHome, two_champions: tuple[PlatformHome, str], tmp_path: Path
) -> None:
    baseline = two_champions[1]
    with loop_on(home) as state:
        asset = _lineup(state).find(baseline).asset.split("/")
        hide(stored_objects(home, asset, version=baseline), tmp_path / "lost")  # every copy, the workspace's too

        result = _set_champion(state, "rollback")

        assert not result.success
        [failure] = [e for e in result.all_events if e.is_step_failure]
        message = failure.event_specific_data.user_failure_data.description
        assert "every earlier champion's model is lost" in message and baseline[:12] in message
