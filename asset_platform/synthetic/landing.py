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

from asset_platform.synthetic.datasets import demo_dataset

BATCH_PREFIX = "events_"
BATCH_SUFFIX = ".parquet"


def batch_file_name(day: datetime.date, dataset: str = "ecommerce") -> str:
    """File name of the batch of `day`, e.g. ``events_2024-03-01.parquet`` (labels use the same name)."""
    return demo_dataset(dataset).file_name(day)


def write_batches(
    landing_dir: Path,
    start: datetime.date,
    days: int,
    rows_per_day: int,
    seed: int,
    scenario: str | None = None,
    drift_day: int | None = None,
    intensity: float = 1.0,
    dataset: str = "ecommerce",
) -> list[Path]:
    """Write one labeled Parquet file per day for `days` days starting at `start` (history).

    Days before `drift_day` (0-based day index) are clean; from `drift_day` on,
    `scenario` is applied with `intensity`. Without `drift_day` the scenario
    applies from the first day. Existing files of the same days are replaced.
    Returns the written paths in day order.
    """
    data = demo_dataset(dataset)
    _validate(data, days, rows_per_day, scenario, drift_day)
    first_drifted = 0 if drift_day is None else drift_day
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(days):
        day = start + datetime.timedelta(days=index)
        active = scenario if index >= first_drifted else None
        frame = data.generate(rows_per_day, day, seed, active, intensity)
        paths.append(_write_atomically(frame, landing_dir / data.file_name(day)))
    return paths


def _validate(data, days: int, rows_per_day: int, scenario: str | None, drift_day: int | None) -> None:
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if rows_per_day < 1:
        raise ValueError(f"rows_per_day must be >= 1, got {rows_per_day}")
    if scenario is not None and scenario not in data.scenarios:
        raise ValueError(f"unknown scenario {scenario!r} for {data.name}; known: {', '.join(sorted(data.scenarios))}")
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


def write_production_day(
    landing_dir: Path,
    day: datetime.date,
    rows: int,
    seed: int,
    scenario: str | None = None,
    intensity: float = 1.0,
    dataset: str = "ecommerce",
) -> tuple[Path, pd.DataFrame]:
    """Write a production batch as upstream would: rows without the label, into `landing_dir`.

    Returns the batch path and the labels (id and label columns), which arrive
    later as their own file (`write_labels`), as in production.
    """
    data = demo_dataset(dataset)
    _validate(data, 1, rows, scenario, None)
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    frame = data.generate(rows, day, seed, scenario, intensity)
    labels = frame[[data.id_column, data.label_column]].copy()
    path = _write_atomically(frame.drop(columns=[data.label_column]), landing_dir / data.file_name(day))
    return path, labels


def write_labels(labels_dir: Path, day: datetime.date, labels: pd.DataFrame, dataset: str = "ecommerce") -> Path:
    """Write the delayed labels of `day`'s production batch (same file name as the batch)."""
    labels_dir = Path(labels_dir)
    labels_dir.mkdir(parents=True, exist_ok=True)
    return _write_atomically(labels, labels_dir / demo_dataset(dataset).file_name(day))
