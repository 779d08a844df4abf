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


# `make test` runs the suite on two xdist workers. A worker takes a whole group at a time: a folder of tests/
# (its session fixtures, such as the UI's demo home, are built once, on one worker) or a test file at the top
# (`FolderScheduling`). The groups that hold the slowest tests (daemons, the image, browsers) are handed out
# first, so the last group a worker takes is a short one; the rest keep their collection order.
SLOW_GROUPS_FIRST = (
    "ui",
    "deployments",
    "project",
    "test_make_up.py",
    "hardening",
    "serving",
    "monitoring",
    "scale",
    "ml",
    "access",
    "declaration",
    "tuning",
    "test_up_auth.py",
)


def _group(nodeid: str) -> str:
    """A test's group: its folder under tests/, or its file when it sits in tests/ itself."""
    return nodeid.split("::", 1)[0].split("/")[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {group: index for index, group in enumerate(SLOW_GROUPS_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item.nodeid), len(rank)))  # stable: each group keeps its order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Whole folders to a worker. Not xdist's `--dist loadgroup`: its markers never reach the node ids under
    pytest 9 (xdist 3.8 sets an attribute pytest no longer reads), so each test would be a group of its own."""
    from xdist.scheduler import LoadScopeScheduling

    class FolderScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    return FolderScheduling(config, log)


@pytest.fixture(autouse=True)
def _project_selection_reset():
    """A test that runs the CLI in-process (`main(["-m", ...])`) selects a project for the whole process
    (`app.location.select_project`); the next test finds its project from the current folder again, as a
    fresh process would, whichever tests ran before it on this worker."""
    yield
    from asset_platform.app.location import select_project

    select_project()


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: the venv first on PATH, the repository importable."""
    env = {**os.environ, **extra}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env
