"""One environment serves both Dagster and DVC despite their antlr pins.

DVC (through hydra-core) pins antlr4-python3-runtime 4.9; Dagster 1.13's asset
selection parser needs 4.13. The install forces 4.13.2 and omegaconf 2.4.0
(constraints/overrides.txt). These tests prove both sides still work.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env

CODE_LOCATION_MODULE = "definitions"


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout + result.stderr


def test_dagster_cli_accepts_string_asset_selection(platform_home):
    # Failed with "TypeError: ord() expected string of length 1" under antlr 4.9.3.
    dagster = str(VENV_BIN / "dagster")
    output = _run([dagster, "asset", "list", "-m", CODE_LOCATION_MODULE, "--select", "*"], REPO_ROOT)
    assert "ecommerce/raw_data" in output and "ecommerce/evaluation" in output
    assert "deliveries/raw_data" in output
    output = _run(
        [dagster, "asset", "list", "-m", CODE_LOCATION_MODULE, "--select", "+ecommerce/lgbm_model"], REPO_ROOT
    )
    assert "ecommerce/training_set" in output and "ecommerce/evaluation" not in output


def test_dvc_add_push_pull_round_trip(tmp_path: Path):
    dvc = str(VENV_BIN / "dvc")
    workspace, remote = tmp_path / "ws", tmp_path / "remote"
    workspace.mkdir()
    remote.mkdir()
    _run([dvc, "init", "--no-scm"], workspace)
    _run([dvc, "remote", "add", "-d", "storage", str(remote)], workspace)
    payload = bytes(range(256)) * 1000
    (workspace / "data.bin").write_bytes(payload)
    _run([dvc, "add", "data.bin"], workspace)
    _run([dvc, "push"], workspace)
    (workspace / "data.bin").unlink()
    _run([dvc, "cache", "dir"], workspace)
    for cached in (workspace / ".dvc" / "cache").rglob("*"):
        if cached.is_file():
            cached.unlink()
    _run([dvc, "pull"], workspace)
    assert (workspace / "data.bin").read_bytes() == payload
    assert "up to date" in _run([dvc, "status"], workspace)
