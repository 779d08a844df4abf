"""Reliability: writers killed mid-write, and many processes writing to one cache and remote at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from asset_platform.storage import AssetStore
from tests import REPO_ROOT
from tests.conftest import subprocess_env
from tests.storage import concurrent_job
from tests.storage.helpers import assert_objects_intact, small_frame
from tests.storage.killable_writer import big_frame
from tests.storage.test_dvc_cli import dvc


def _wait_for(ready: Path, child: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        if child.poll() is not None:
            raise AssertionError(f"the writer exited ({child.returncode}) before reaching the kill point")
        if time.monotonic() > deadline:
            raise AssertionError(f"the writer did not reach the kill point within {timeout_s} s")
        time.sleep(0.02)


def _kill_writer_at(point: str, workspace: Path, ready: Path) -> None:
    command = [sys.executable, "-m", "tests.storage.killable_writer", str(workspace), str(ready), point]
    child = subprocess.Popen(command, env=subprocess_env(), cwd=REPO_ROOT)
    try:
        _wait_for(ready, child)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("point", ["parquet-write", "remote-push", "publish"])
def test_sigkill_mid_write_leaves_the_previous_version(store: AssetStore, remote: Path, point: str) -> None:
    previous = store.put(["big"], small_frame(), run_id="previous").record
    _kill_writer_at(point, store.workspace, store.workspace.parent / "ready")
    if point == "parquet-write":
        assert any(store.staging.iterdir()), "the kill landed mid-write, leaving a partial staging file"
    after = AssetStore(store.workspace)
    assert after.record(["big"]).md5 == previous.md5
    pd.testing.assert_frame_equal(after.get(["big"]), small_frame())
    # No partial object is visible: every object in the cache and the remote hashes to its name.
    assert_objects_intact(store.workspace / ".dvc" / "cache")
    assert_objects_intact(remote)
    assert "up to date" in dvc("status", cwd=store.workspace)
    rerun = after.put(["big"], big_frame(), run_id="rerun").record
    assert after.record(["big"]).md5 == rerun.md5
    pd.testing.assert_frame_equal(after.get(["big"]), big_frame())
    assert (remote / "files" / "md5" / rerun.md5[:2] / rerun.md5[2:]).is_file()


def test_four_steps_write_to_one_cache_and_remote_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace, remote, barrier = tmp_path / "dvc", tmp_path / "dvc-remote", tmp_path / "barrier"
    barrier.mkdir()
    (tmp_path / "dagster").mkdir()
    monkeypatch.setenv(concurrent_job.WORKSPACE_ENV, str(workspace))
    monkeypatch.setenv(concurrent_job.REMOTE_ENV, str(remote))
    monkeypatch.setenv(concurrent_job.BARRIER_ENV, str(barrier))
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = dg.execute_job(dg.reconstructable(concurrent_job.concurrent_job), instance=instance)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        messages = [e.message or "" for e in result.all_events]
    assert not [m for m in messages if "lock" in m.lower()]
    store = AssetStore(workspace)
    versions = {name: store.record([name]).md5 for name in concurrent_job.SEEDS}
    assert versions["gamma"] == versions["gamma_twin"]
    for name, seed in concurrent_job.SEEDS.items():
        pd.testing.assert_frame_equal(store.get([name]), small_frame(seed, rows=concurrent_job.ROWS))
    assert assert_objects_intact(workspace / ".dvc" / "cache") == 3
    assert assert_objects_intact(remote) == 3
    assert "up to date" in dvc("status", cwd=workspace)
