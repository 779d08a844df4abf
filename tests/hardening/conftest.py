"""The hardening tests' shared baseline: the small ecommerce loop trained once per session, copied per module."""

from __future__ import annotations

import pytest

from asset_platform.home import PlatformHome
from tests.hardening.helpers import train_home


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> PlatformHome:
    """A platform home with the ecommerce history and its trained champion; copy it (`copy_home`), never change it."""
    return train_home(tmp_path_factory.mktemp("hardening") / "trained")
