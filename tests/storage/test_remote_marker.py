"""The remote is checked for being the remote before each push (issue 30, case 5).

An unmounted share leaves an empty folder at its mount point. Pushing there
succeeded silently and only a manual `storage verify` showed hundreds of missing
objects. The remote now holds a marker object, written by the first push to an
empty remote, and read before each push.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from asset_platform.storage import AssetStore, RemoteError
from asset_platform.storage.io_manager import DvcIOManager
from asset_platform.storage.remote_marker import MARKER
from asset_platform.storage.workspace import ensure_workspace
from tests.storage.helpers import small_frame


@dg.asset
def orders() -> pd.DataFrame:
    return small_frame(seed=1)


def test_the_first_push_marks_the_remote_and_a_push_to_an_empty_folder_in_its_place_fails_naming_it(
    tmp_path: Path,
) -> None:
    remote = tmp_path / "mnt" / "dvc-remote"
    io_manager = DvcIOManager(workspace=str(tmp_path / "dvc"), remote_url=str(remote), create_local_remote=True)
    with dg.instance_for_test() as instance:
        assert dg.materialize([orders], instance=instance, resources={"io_manager": io_manager}).success
        assert (remote / MARKER).is_file()
        shutil.move(remote, tmp_path / "the-share")  # unmounted: the mount point is an empty folder
        remote.mkdir()

        result = dg.materialize([orders], instance=instance, resources={"io_manager": io_manager}, raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.event_specific_data.error.cause.message
    assert str(remote) in message and "unmounted share" in message and MARKER in message
    assert list(remote.iterdir()) == [], "nothing landed on the mount point"


def test_push_missing_marks_a_remote_started_afresh_on_purpose(tmp_path: Path) -> None:
    workspace, remote = tmp_path / "dvc", tmp_path / "dvc-remote"
    ensure_workspace(workspace, "storage", str(remote), create_local_remote=True)
    store = AssetStore(workspace)
    store.put(["events"], small_frame())
    shutil.rmtree(remote)
    remote.mkdir()  # lost for good: an empty folder on purpose
    with pytest.raises(RemoteError, match="lacks its marker"):
        AssetStore(workspace).put(["events"], small_frame(seed=2))

    AssetStore(workspace).remote.adopt()  # what `storage verify --push-missing` does first

    assert AssetStore(workspace).put(["events"], small_frame(seed=3)).pushed > 0
    assert (remote / MARKER).is_file()


def test_a_remote_that_holds_objects_from_before_markers_is_marked_at_its_next_push(tmp_path: Path) -> None:
    workspace, remote = tmp_path / "dvc", tmp_path / "dvc-remote"
    ensure_workspace(workspace, "storage", str(remote), create_local_remote=True)
    AssetStore(workspace).put(["events"], small_frame())
    (remote / MARKER).unlink()  # as every remote was before markers

    assert AssetStore(workspace).put(["events"], small_frame(seed=2)).pushed > 0
    assert (remote / MARKER).is_file()
