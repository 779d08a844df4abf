"""Write daily batches of synthetic sessions into a landing folder.

The landing folder is what a sensor watches, so every file appears atomically:
it is written under a hidden temporary name in the same folder and then renamed
into place, which a watcher sees as one event with a complete file.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

import pandas as pd

from asset_platform.synthetic.generator import generate_events
from asset_platform.synthetic.scenarios import get_scenario

BATCH_PREFIX = "events_"
BATCH_SUFFIX = ".parquet"


def batch_file_name(day: datetime.date) -> str:
    """File name of the batch of `day`, e.g. ``events_2024-03-01.parquet``."""
    return f"{BATCH_PREFIX}{day:%Y-%m-%d}{BATCH_SUFFIX}"


def write_batches(
    landing_dir: Path,
    start: datetime.date,
    days: int,
    rows_per_day: int,
    seed: int,
    scenario: str | None = None,
    drift_day: int | None = None,
    intensity: float = 1.0,
) -> list[Path]:
    """Write one Parquet batch per day for `days` days starting at `start`.

    Days before `drift_day` (0-based day index) are clean; from `drift_day` on,
    `scenario` is applied with `intensity`. Without `drift_day` the scenario
    applies from the first day. Existing files of the same days are replaced.
    Returns the written paths in day order.
    """
    _validate(days, rows_per_day, scenario, drift_day)
    first_drifted = 0 if drift_day is None else drift_day
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(days):
        day = start + datetime.timedelta(days=index)
        active = scenario if index >= first_drifted else None
        frame = generate_events(rows_per_day, day, seed, active, intensity)
        paths.append(_write_atomically(frame, landing_dir / batch_file_name(day)))
    return paths


def _validate(days: int, rows_per_day: int, scenario: str | None, drift_day: int | None) -> None:
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if rows_per_day < 1:
        raise ValueError(f"rows_per_day must be >= 1, got {rows_per_day}")
    if scenario is not None:
        get_scenario(scenario)  # fail before any file is written
    if drift_day is None:
        return
    if scenario is None:
        raise ValueError("drift_day was given but scenario is None; name a scenario")
    if not 0 <= drift_day < days:
        raise ValueError(f"drift_day must be in [0, {days - 1}] for days={days}, got {drift_day}")


def _write_atomically(frame: pd.DataFrame, target: Path) -> Path:
    # Hidden name without the .parquet suffix, so globs for batches skip it;
    # same folder, so os.replace is a rename on one file system.
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        frame.to_parquet(temporary, engine="pyarrow", index=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


LABELS_PREFIX = "labels_"


def labels_file_name(day: datetime.date) -> str:
    """File name of the delayed labels of `day`'s batch, e.g. ``labels_2024-03-01.parquet``."""
    return f"{LABELS_PREFIX}{day:%Y-%m-%d}{BATCH_SUFFIX}"


def write_production_day(
    landing_dir: Path,
    day: datetime.date,
    rows: int,
    seed: int,
    scenario: str | None = None,
    intensity: float = 1.0,
) -> tuple[Path, pd.DataFrame]:
    """Write a production batch as upstream would: events without the label.

    Returns the batch path and the labels (`event_id`, `converted`), which arrive
    later as their own file (`write_labels`), as in production.
    """
    _validate(1, rows, scenario, None)
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    frame = generate_events(rows, day, seed, scenario, intensity)
    labels = frame[["event_id", "converted"]].copy()
    path = _write_atomically(frame.drop(columns=["converted"]), landing_dir / batch_file_name(day))
    return path, labels


def write_labels(landing_dir: Path, day: datetime.date, labels: pd.DataFrame) -> Path:
    """Write the delayed labels of `day`'s production batch."""
    return _write_atomically(labels, Path(landing_dir) / labels_file_name(day))
