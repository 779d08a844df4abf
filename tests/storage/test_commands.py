"""`asset-platform storage ...` on a platform home.

The main paths run the console script as a subprocess, as a user would; error
cases call `asset_platform.cli.main` in-process, because each start of the
script costs seconds on a small machine and exit codes and messages are the same.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from asset_platform.app.cli import build_parser, main
from asset_platform.home import PlatformHome
from asset_platform.storage import AssetStore
from asset_platform.storage.workspace import ensure_workspace
from tests.conftest import VENV_BIN, subprocess_env
from tests.storage.helpers import flip_byte, small_frame


def storage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "asset-platform"), "storage", *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def home_store(platform_home: PlatformHome) -> AssetStore:
    """The platform home's own workspace with three versions of `events` and two partitions of `daily`."""
    platform_home.dvc_remote.mkdir()
    ensure_workspace(platform_home.dvc_workspace, "storage", str(platform_home.dvc_remote))
    store = AssetStore(platform_home.dvc_workspace)
    for seed in range(3):
        store.put(["events"], small_frame(seed), run_id=f"run-{seed}")
    for day in ("2026-01-01", "2026-01-02"):
        store.put(["daily"], small_frame(int(day[-1]) + 10), partition=day)
    return store


def test_path_names_workspace_cache_and_remote(home_store: AssetStore, platform_home: PlatformHome) -> None:
    done = storage("path", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "workspace": str(platform_home.dvc_workspace),
        "cache": str(platform_home.dvc_workspace / ".dvc" / "cache"),
        "remote": str(platform_home.dvc_remote),
    }


def test_list_shows_retained_versions_and_the_latest(home_store: AssetStore) -> None:
    done = storage("list", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    events = [v for v in listed if v["asset"] == "events"]
    assert [v["run_id"] for v in events] == ["run-2", "run-1", "run-0"]
    assert [v["latest"] for v in events] == [True, False, False]
    assert {v["partition"] for v in listed if v["asset"] == "daily"} == {"2026-01-01", "2026-01-02"}
    assert {"md5", "size", "format", "created_at"} <= set(events[0])


def test_list_table_marks_the_latest(home_store: AssetStore, capsys: pytest.CaptureFixture) -> None:
    assert main(["storage", "list", "events"]) == 0
    table = capsys.readouterr().out
    latest = home_store.record(["events"])
    assert home_store.record(["events"], version="run-0").md5 in table and "daily" not in table
    assert next(line for line in table.splitlines() if latest.md5 in line).split()[1] == "*"


def test_unknown_asset_and_missing_workspace_are_clear_errors(
    home_store: AssetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert main(["storage", "list", "nope"]) == 2
    assert "no stored versions of asset 'nope'" in capsys.readouterr().err
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(tmp_path / "empty-home"))
    assert main(["storage", "verify"]) == 2
    assert f"no DVC workspace at {tmp_path / 'empty-home' / 'dvc'}" in capsys.readouterr().err


def test_verify_repairs_from_the_remote_and_fails_on_what_it_cannot(
    home_store: AssetStore, platform_home: PlatformHome
) -> None:
    repairable = home_store.record(["events"], version="run-1")
    flip_byte(home_store.cache.path(repairable.md5))
    done = storage("verify", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["checked"] == 5 and report["unrepaired"] == []
    assert len(report["repaired"]) == 1 and repairable.md5 in report["repaired"][0]
    assert "verifying" in done.stderr, "a progress bar on stderr"
    lost = home_store.record(["daily"], partition="2026-01-02")
    flip_byte(home_store.cache.path(lost.md5))
    (platform_home.dvc_remote / "files" / "md5" / lost.md5[:2] / lost.md5[2:]).unlink()
    done = storage("verify", "daily")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"daily[2026-01-02] version {lost.md5}" in done.stdout
    assert "checked 2 versions: 0 objects repaired, 1 not repaired" in done.stdout


def test_prune_drops_old_pointers_and_gc_frees_their_bytes(
    home_store: AssetStore, capsys: pytest.CaptureFixture
) -> None:
    oldest, middle, latest = (home_store.record(["events"], version=f"run-{i}") for i in range(3))
    assert main(["storage", "prune", "events", "--keep", "2"]) == 0
    out = capsys.readouterr().out
    assert f"dropped events version {oldest.md5}" in out and "dvc gc -w" in out
    assert home_store.cache.path(oldest.md5).exists(), "bytes stay until gc"
    done = storage("prune", "events", "--keep", "1", "--gc")
    assert done.returncode == 0, done.stderr
    assert not home_store.cache.path(oldest.md5).exists() and not home_store.cache.path(middle.md5).exists()
    assert home_store.cache.path(latest.md5).exists()
    assert all(home_store.cache.path(r.md5).exists() for r in home_store.catalog.retained(["daily"], "2026-01-01"))
    assert main(["storage", "prune", "events", "--keep", "0"]) == 2
    assert "keep must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("subcommand", ["list", "verify", "prune", "path"])
def test_every_subcommand_explains_itself(subcommand: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["storage", subcommand, "--help"])
    assert exited.value.code == 0
    assert f"usage: asset-platform storage {subcommand}" in capsys.readouterr().out
