"""Shared fixtures: a throw-away platform home with small demo data."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pytest

from asset_platform.home import PlatformHome
from asset_platform.synthetic import write_batches
from tests import REPO_ROOT
from tests.browser import browser  # noqa: F401 - the session's one Chromium, for every browser test

VENV_BIN = Path(sys.executable).parent
# Small but learnable: 14 days x 800 sessions.
DEMO_DAYS, DEMO_ROWS_PER_DAY, DEMO_SEED = 14, 800, 3


def ecommerce_history(home: PlatformHome) -> Path:
    """Where the ecommerce example model's labeled history lands (the default landing layout)."""
    return home.landing / "ecommerce" / "history"


@pytest.fixture
def platform_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlatformHome:
    """An empty platform home in a temporary folder, also exported as $ASSET_PLATFORM_HOME."""
    home = PlatformHome(tmp_path / "platform").ensure()
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    return home


@pytest.fixture
def demo_history(platform_home: PlatformHome) -> list[Path]:
    """Clean demo history files in the ecommerce model's landing folder of the platform home."""
    return write_batches(
        ecommerce_history(platform_home), dt.date(2026, 1, 1), DEMO_DAYS, DEMO_ROWS_PER_DAY, seed=DEMO_SEED
    )


@pytest.fixture
def local_resources(platform_home: PlatformHome) -> dict:
    from asset_platform.resources.local import local_resources as build

    return build(platform_home)


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: the venv first on PATH, the repository importable."""
    env = {**os.environ, **extra}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env
