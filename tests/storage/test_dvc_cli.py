"""Interop with the real `dvc` CLI: what the store writes is a DVC workspace like any other."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from asset_platform.storage import AssetStore
from tests.conftest import VENV_BIN, subprocess_env
from tests.storage.helpers import small_frame, small_model


def dvc(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "dvc"), *args], cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def stored(store: AssetStore) -> AssetStore:
    """Three versions of a frame, one partitioned frame and a model folder."""
    for seed in range(3):
        store.put(["events"], small_frame(seed), run_id=f"run-{seed}")
    store.put(["daily"], small_frame(7), partition="2026-01-01")
    store.put(["model"], small_model())
    return store


def test_status_is_clean_after_materializations(stored: AssetStore) -> None:
    assert "up to date" in dvc("status", cwd=stored.workspace)
    assert "in sync" in dvc("status", "--cloud", cwd=stored.workspace)


def test_pull_restores_an_old_version_byte_identical(stored: AssetStore, tmp_path: Path) -> None:
    old = stored.record(["events"], version="run-0")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    dvc("init", "--no-scm", cwd=fresh)
    shutil.copy(stored.workspace / ".dvc" / "config", fresh / ".dvc" / "config")
    shutil.copy(stored.catalog.folder(["events"], None) / f"{old.entry_name}.dvc", fresh)
    dvc("pull", cwd=fresh)
    pulled = fresh / old.entry_name
    assert pulled.read_bytes() == stored.cache.path(old.md5).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(pulled), small_frame(0))


def test_pull_restores_a_model_folder(stored: AssetStore, tmp_path: Path) -> None:
    record = stored.record(["model"])
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    dvc("init", "--no-scm", cwd=fresh)
    shutil.copy(stored.workspace / ".dvc" / "config", fresh / ".dvc" / "config")
    shutil.copy(stored.catalog.folder(["model"], None) / f"{record.entry_name}.dvc", fresh)
    dvc("pull", cwd=fresh)
    for relpath, (md5, _size) in record.files.items():
        assert (fresh / record.entry_name / relpath).read_bytes() == stored.cache.path(md5).read_bytes()


def test_gc_keeps_retained_versions_and_frees_pruned_ones(stored: AssetStore) -> None:
    records = {r.run_id: r for r in stored.catalog.retained(["events"], None)}
    stored.prune(["events"], None, keep=2)
    dvc("gc", "--workspace", "--force", cwd=stored.workspace)
    assert not stored.cache.path(records["run-0"].md5).exists()
    for run_id in ("run-1", "run-2"):
        assert stored.cache.path(records[run_id].md5).exists()
    pd.testing.assert_frame_equal(stored.get(["events"], version="run-1"), small_frame(1))
    pd.testing.assert_frame_equal(stored.get(["daily"], partition="2026-01-01"), small_frame(7))
    assert stored.get(["model"]).flavor == "sklearn"
    assert "up to date" in dvc("status", cwd=stored.workspace)
