"""Fixtures shared by the drift tests: one clean demo reference and its profile."""

from __future__ import annotations

import pandas as pd
import pytest

from asset_platform.drift import ReferenceProfile, build_profile
from tests.drift.demo_data import CATEGORICAL, NUMERIC, REFERENCE_DAY, REFERENCE_ROWS, SEED, demo_batch


@pytest.fixture(scope="session")
def demo_reference() -> pd.DataFrame:
    return demo_batch(REFERENCE_ROWS, REFERENCE_DAY)


@pytest.fixture(scope="session")
def demo_profile(demo_reference: pd.DataFrame) -> ReferenceProfile:
    return build_profile(demo_reference, NUMERIC, CATEGORICAL, seed=SEED)
