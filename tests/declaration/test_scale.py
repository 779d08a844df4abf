"""A code location with 20 declared models (about 300 assets) loads and validates."""

from __future__ import annotations

import subprocess

from tests.conftest import VENV_BIN, subprocess_env


def test_twenty_declarations_pass_dagster_definitions_validate(tmp_path) -> None:
    env = subprocess_env(ASSET_PLATFORM_HOME=str(tmp_path), DAGSTER_HOME=str(tmp_path))
    validated = subprocess.run(
        [str(VENV_BIN / "dagster"), "definitions", "validate", "-m", "benchmarks.fleet_location"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    counted = subprocess.run(
        [
            str(VENV_BIN / "python"),
            "-c",
            "from benchmarks.fleet_location import defs, fleet; "
            "print(len(defs.resolve_all_asset_keys()), len(defs.jobs), len(defs.sensors), "
            "sum(d.monitoring.freshness.declared for d in fleet()))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assets, jobs, sensors, fresh = map(int, counted.stdout.split())
    # Six jobs (one scores a batch whose labels landed with it) and three sensors per model, a freshness
    # sensor per model that declares freshness, plus the fleet overview's job and automation sensor and the
    # run recovery sensor.
    assert assets >= 280 and jobs == 20 * 6 + 1 and 0 < fresh < 20 and sensors == 20 * 3 + fresh + 2
