"""An object lost from the cache and the remote is restored from a workspace copy whose hash matches
(issue 30, case 3).

The DVC workspace holds each retained version hard-linked from the cache:
deleting the cache object leaves the bytes there. Scoring used to stop with an
integrity error although that intact copy was at hand.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from asset_platform.home import PlatformHome
from tests.hardening.helpers import champion_objects, copy_home, hide, land, loop_on, run_text, run_tick


@pytest.fixture
def home(trained_home: PlatformHome, tmp_path: Path) -> PlatformHome:
    return copy_home(trained_home, tmp_path / "home")


def test_a_model_lost_from_cache_and_remote_is_restored_from_the_workspace_copy_and_the_log_says_so(
    home: PlatformHome, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with loop_on(home) as state:
        lost = champion_objects(state, home, workspace=False)
        assert len(lost) == 6, "the folder manifest and both model files, each in the cache and the remote"
        hide(lost, tmp_path / "lost")
        land(state, 0)

        with caplog.at_level(logging.WARNING, logger="asset_platform.storage"):
            assert [r.success for r in run_tick(state, state.names.batch_sensor)] == [True]

        assert all(path.exists() for path in lost), "cache and remote have their objects back"
        assert "restored from the workspace copy" in caplog.text


def test_a_workspace_copy_whose_hash_does_not_match_is_never_used(home: PlatformHome, tmp_path: Path) -> None:
    with loop_on(home) as state:
        lost = champion_objects(state, home, workspace=False)
        [copy] = [p for p in champion_objects(state, home) if p.name == "model.txt" and p not in lost]
        os.chmod(copy, 0o644)
        copy.write_text(copy.read_text().replace("leaf_value=", "leaf_value=1", 1))  # damaged in the workspace
        hide(lost, tmp_path / "lost")
        land(state, 0)

        [result] = run_tick(state, state.names.batch_sensor)

        assert not result.success
        assert "could not be refetched" in run_text(state, result.run_id)
