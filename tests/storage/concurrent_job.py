"""A job whose four assets write to one DVC cache and remote at the same moment.

Loaded by `dagster.reconstructable`, so the multiprocess executor's step processes
can import it; the folders come from environment variables the test sets.
"""

import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from asset_platform.storage.io_manager import DvcIOManager
from tests.storage.helpers import small_frame

WORKSPACE_ENV = "STORAGE_TEST_WORKSPACE"
REMOTE_ENV = "STORAGE_TEST_REMOTE"
BARRIER_ENV = "STORAGE_TEST_BARRIER"
# Two assets share a seed, so two processes insert and push the very same object at once.
SEEDS = {"alpha": 1, "beta": 2, "gamma": 3, "gamma_twin": 3}
ROWS = 20_000


def _wait_for_every_step(name: str, timeout_s: float = 120) -> None:
    """A file barrier: return once all steps are running, so their writes overlap."""
    barrier = Path(os.environ[BARRIER_ENV])
    (barrier / name).touch()
    deadline = time.monotonic() + timeout_s
    while len(list(barrier.iterdir())) < len(SEEDS):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {sorted(p.name for p in barrier.iterdir())} of {sorted(SEEDS)} started")
        time.sleep(0.05)


def _frame_asset(name: str, seed: int) -> dg.AssetsDefinition:
    @dg.asset(name=name)
    def _frame() -> pd.DataFrame:
        frame = small_frame(seed, rows=ROWS)
        _wait_for_every_step(name)
        return frame

    return _frame


def concurrent_job() -> dg.JobDefinition:
    io_manager = DvcIOManager(
        workspace=os.environ[WORKSPACE_ENV], remote_url=os.environ[REMOTE_ENV], create_local_remote=True
    )
    executor = dg.multiprocess_executor.configured({"max_concurrent": len(SEEDS)})
    defs = dg.Definitions(
        assets=[_frame_asset(name, seed) for name, seed in SEEDS.items()],
        resources={"io_manager": io_manager},
        jobs=[dg.define_asset_job("concurrent_writes", executor_def=executor)],
    )
    return defs.resolve_job_def("concurrent_writes")
