"""A batch larger than a step may hold fails at once, naming its size and the setting (issue 30, case 7).

A 2M-row batch peaked at 1.4-1.65 GiB in each step and took minutes; a larger
one would be killed by the pod's memory limit mid-run, with no word of why. The
batch's footprint is estimated from its Parquet footer, before any data is read.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from asset_platform.app.demo import LoopState
from asset_platform.home import PlatformHome
from asset_platform.landing import LandingZone
from asset_platform.lifecycle import lifecycle_names
from asset_platform.memory_estimate import estimated_step_bytes
from tests.hardening.helpers import (
    batch_frame,
    copy_home,
    day_of,
    declaration,
    env,
    open_instance,
    quarantined,
    run_text,
    run_tick,
)


@pytest.fixture
def home(trained_home: PlatformHome, tmp_path: Path) -> PlatformHome:
    return copy_home(trained_home, tmp_path / "home")


def _big_batch(path: Path, copies: int = 4) -> Path:
    frame = pd.concat([batch_frame(index) for index in range(copies)], ignore_index=True)
    frame.drop(columns=["converted"]).to_parquet(path, index=False)
    return path


def test_the_step_memory_estimate_comes_from_the_parquet_footer_and_is_about_twice_the_frame(tmp_path: Path) -> None:
    path = _big_batch(tmp_path / "batch.parquet")
    frame = pd.read_parquet(path).memory_usage(deep=True).sum()

    assert 1.5 * frame <= estimated_step_bytes(path) <= 3 * frame


def test_a_batch_larger_than_the_step_memory_fails_fast_naming_its_size_and_the_setting_and_stays_landed(
    home: PlatformHome,
) -> None:
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    model = declaration()
    with env(home), open_instance(home) as instance:
        resources = {**local_resources(home), "landing": LandingZone(root=str(home.landing), step_memory_mb=1)}
        landing = resources["landing"].for_model(model).ensure()
        state = LoopState(instance, build_definitions([model], resources), lifecycle_names(model), landing)
        path = _big_batch(landing.production / f"events_{day_of(0):%Y-%m-%d}.parquet")

        [result] = run_tick(state, state.names.batch_sensor)

        assert not result.success
        text = run_text(state, result.run_id)
        assert "GiB to take in" in text and "more than the 1 MiB a step may use" in text and "step_memory_mb" in text
        assert path.exists() and quarantined(state) == {}, "a good file too large for the step is left in place"
