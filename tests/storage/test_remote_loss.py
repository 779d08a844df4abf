"""A lost DVC remote is reported, never silently recreated, and `storage verify` checks it holds every version.

Recreating a missing local remote empty lets new pushes succeed while every
older version is gone from it; the loss shows only when a cache object is next
damaged and cannot be repaired. So the remote folder is created with a new
workspace only, and `verify` compares the remote with every retained version.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from asset_platform.app.storage_commands import register
from asset_platform.home import PlatformHome
from asset_platform.storage import AssetStore, RemoteError
from asset_platform.storage.io_manager import DvcIOManager
from asset_platform.storage.workspace import ensure_workspace
from tests.storage.helpers import flip_byte, small_frame, small_model


def storage_command(*args: str) -> int:
    """Run `asset-platform storage ...` in-process through the storage commands' own parser."""
    parser = argparse.ArgumentParser(prog="asset-platform")
    register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["storage", *args])
    return parsed.handler(parsed)


def _remote_object(remote: Path, oid: str) -> Path:
    return remote / "files" / "md5" / oid[:2] / oid[2:]


@dg.asset
def orders() -> pd.DataFrame:
    return small_frame(seed=1)


def test_missing_local_remote_is_never_recreated_and_the_error_says_how_to_restore_it(tmp_path: Path) -> None:
    remote = tmp_path / "dvc-remote"
    io_manager = DvcIOManager(workspace=str(tmp_path / "dvc"), remote_url=str(remote), create_local_remote=True)
    with dg.instance_for_test() as instance:
        dg.materialize([orders], instance=instance, resources={"io_manager": io_manager})
        assert any(remote.rglob("*")), "a new workspace gets its local remote, and the first version is pushed"
        shutil.rmtree(remote)  # the remote's disk was lost, or a share is not mounted

        # Dagster wraps what a resource's set-up raises; the run fails before any step computes.
        with pytest.raises(dg.DagsterResourceFunctionError) as refused:
            dg.materialize([orders], instance=instance, resources={"io_manager": io_manager})
    assert isinstance(refused.value.__cause__, RemoteError)
    message = str(refused.value.__cause__)
    assert f"points to {remote}, which does not exist" in message
    assert "restore it from a backup" in message and "--push-missing" in message
    assert not remote.exists(), "the remote was recreated empty"


def test_local_remote_is_created_only_while_the_workspace_holds_no_version(tmp_path: Path) -> None:
    workspace, remote = tmp_path / "dvc", tmp_path / "dvc-remote"
    assert ensure_workspace(workspace, "storage", str(remote), create_local_remote=True)
    assert remote.is_dir()
    AssetStore(workspace).put(["events"], small_frame())
    shutil.rmtree(remote)

    assert not ensure_workspace(workspace, "storage", str(remote), create_local_remote=True)
    assert not remote.exists()


@pytest.fixture
def home_store(platform_home: PlatformHome) -> AssetStore:
    """The platform home's workspace with two versions of a frame and a model folder."""
    platform_home.dvc_remote.mkdir()
    ensure_workspace(platform_home.dvc_workspace, "storage", str(platform_home.dvc_remote))
    store = AssetStore(platform_home.dvc_workspace)
    for seed in range(2):
        store.put(["events"], small_frame(seed), run_id=f"run-{seed}")
    store.put(["model"], small_model())
    return store


def test_verify_reports_versions_the_remote_lacks_and_exits_non_zero(
    home_store: AssetStore, platform_home: PlatformHome, capsys: pytest.CaptureFixture
) -> None:
    remote = platform_home.dvc_remote
    old_events = home_store.record(["events"], version="run-0")
    model = home_store.record(["model"])
    skops_md5 = model.files["model.skops"][0]
    _remote_object(remote, old_events.md5).unlink()
    _remote_object(remote, skops_md5).unlink()

    assert storage_command("verify", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == 3 and report["unrepaired"] == [] and report["pushed_to_remote"] == []
    assert sorted(report["missing_on_remote"]) == [
        f"events version {old_events.md5}: the remote {remote} lacks 1 object(s): {old_events.md5}",
        f"model version {model.data_version}: the remote {remote} lacks 1 object(s): {skops_md5}",
    ]

    assert storage_command("verify", "--push-missing") == 0
    assert "2 pushed to it" in capsys.readouterr().out
    assert _remote_object(remote, old_events.md5).is_file() and _remote_object(remote, skops_md5).is_file()
    assert storage_command("verify") == 0


def test_push_missing_never_uploads_a_damaged_object(
    home_store: AssetStore, platform_home: PlatformHome, capsys: pytest.CaptureFixture
) -> None:
    record = home_store.record(["events"], version="run-0")
    _remote_object(platform_home.dvc_remote, record.md5).unlink()
    flip_byte(home_store.cache.path(record.md5))

    assert storage_command("verify", "--push-missing", "events") == 1
    out = capsys.readouterr().out
    assert f"events version {record.md5}: the remote lacks {record.md5} and the local copy is missing or damaged" in out
    assert not _remote_object(platform_home.dvc_remote, record.md5).exists()


def test_verify_fails_when_the_whole_remote_is_gone(
    home_store: AssetStore, platform_home: PlatformHome, capsys: pytest.CaptureFixture
) -> None:
    shutil.rmtree(platform_home.dvc_remote)
    assert storage_command("verify") == 1
    out = capsys.readouterr().out
    assert f"cannot check the remote: DVC remote 'storage' points to {platform_home.dvc_remote}" in out
    assert not platform_home.dvc_remote.exists()
