"""The monitoring tests' shared baseline: the ecommerce example trained once per session."""

from __future__ import annotations

import pytest

from asset_platform.home import PlatformHome
from tests.monitoring.loop import open_instance, train_baseline


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> PlatformHome:
    """A platform home with the ecommerce history and its trained baseline; copy it (`copy_home`), never change it."""
    home = PlatformHome(tmp_path_factory.mktemp("monitoring") / "trained").ensure()
    with open_instance(home) as instance:
        train_baseline(home, instance)
    return home
