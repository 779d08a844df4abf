"""Sample data for any declaration, made from its data contract: try a model before real data flows.

A team that has just scaffolded a declaration wants to see its loop run (train,
score, drift, retrain) before the upstream system delivers anything, and its CI
wants data it can land without fixtures. `contract_frame` draws rows that pass
the declaration's contract: each column within its declared range, categories
from its closed list, ids unique per day, the time column inside the day; the
label depends on the features (so a model has something to learn) and a
`shift` moves every numeric feature by that many standard deviations, which the
drift policy is meant to notice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from asset_platform.declaration import ColumnSpec, ModelDeclaration

_OPEN_CATEGORIES = ("a", "b", "c", "d")


def contract_frame(
    declaration: ModelDeclaration, rows: int, day: dt.date, seed: int = 7, shift: float = 0.0
) -> pd.DataFrame:
    """`rows` labeled rows of `day` that pass `declaration`'s contract; numeric features shifted by `shift` σ."""
    columns = _columns(declaration)
    rng = np.random.default_rng(_day_seed(seed, day))
    frame = pd.DataFrame(index=range(rows))
    signal = np.zeros(rows)
    for spec in columns:
        if spec.name in (declaration.id_column, declaration.label_column):
            continue
        if spec.name == declaration.time_column:
            frame[spec.name] = _times(spec.dtype, day, rows, rng)
            continue
        values, contribution = _feature(spec, rows, rng, shift)
        frame[spec.name] = values
        signal += contribution
    frame.insert(0, declaration.id_column, [f"{day:%Y%m%d}-{seed}-{i:07d}" for i in range(rows)])
    frame[declaration.label_column] = _label(declaration, signal, rng)
    return frame[[spec.name for spec in columns]]


def _columns(declaration: ModelDeclaration) -> list[ColumnSpec]:
    if declaration.columns is None:
        raise ValueError(
            f"declaration {declaration.name!r} declares its contract as a pandera class "
            f"({declaration.schema_class}); sample data is made from a `columns:` contract only"
        )
    return list(declaration.columns)


def _day_seed(seed: int, day: dt.date) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{day.isoformat()}".encode()).digest()[:8], "little")


def _times(dtype: str, day: dt.date, rows: int, rng: np.random.Generator) -> pd.Series:
    seconds = np.sort(rng.integers(0, 86_400, rows))
    instants = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    if dtype == "date":
        return pd.Series([day] * rows)
    if dtype == "year":
        return pd.Series([day.year] * rows, dtype="int64")
    if dtype == "month":
        return pd.Series([f"{day:%Y-%m}"] * rows)
    return pd.Series(instants)


def _feature(spec: ColumnSpec, rows: int, rng: np.random.Generator, shift: float) -> tuple[pd.Series, np.ndarray]:
    """A column's values and its contribution to the label signal (standardized, so every feature counts)."""
    if spec.dtype in ("str", "bool") or spec.categories:
        choices = list(spec.categories or ([True, False] if spec.dtype == "bool" else _OPEN_CATEGORIES))
        picks = rng.integers(0, len(choices), rows)
        values = pd.Series([choices[i] for i in picks], dtype="object" if spec.dtype != "bool" else "bool")
        return values, (picks - (len(choices) - 1) / 2) / max(len(choices) - 1, 1)
    low = spec.min if spec.min is not None else (spec.max - 100 if spec.max is not None else 0.0)
    high = spec.max if spec.max is not None else low + 100
    centre, spread = (low + high) / 2, (high - low) / 6
    standard = rng.standard_normal(rows) + shift
    raw = np.clip(centre + spread * standard, low, high)
    values = pd.Series(np.round(raw).astype("int64") if spec.dtype == "int" else raw)
    if spec.nullable:
        values = values.astype("float64") if spec.dtype == "float" else values.astype("Int64")
        values[rng.random(rows) < 0.02] = pd.NA if spec.dtype == "int" else np.nan
    return values, (np.asarray(raw) - centre) / spread


def _label(declaration: ModelDeclaration, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    scale = np.sqrt(max(float(np.var(signal)), 1e-9))
    noisy = signal / scale + rng.standard_normal(len(signal)) * 0.7
    if declaration.task == "regression":
        return 50 + 10 * noisy
    return (noisy > 0.5).astype("int64")


def write_contract_day(
    declaration: ModelDeclaration,
    folder: Path,
    day: dt.date,
    rows: int,
    seed: int = 7,
    shift: float = 0.0,
    *,
    production: bool = False,
    labels_folder: Path | None = None,
) -> list[Path]:
    """Land one day of sample data atomically: a labeled history file, or (`production`) a batch without its
    label and, with `labels_folder`, its labels there (id and label) under the same file name."""
    from asset_platform.synthetic.landing import _write_atomically

    frame = contract_frame(declaration, rows, day, seed, shift)
    name = f"{declaration.name}_{day:%Y-%m-%d}.parquet"
    Path(folder).mkdir(parents=True, exist_ok=True)
    if not production:
        return [_write_atomically(frame, Path(folder) / name)]
    written = [_write_atomically(frame.drop(columns=[declaration.label_column]), Path(folder) / name)]
    if labels_folder is not None:
        Path(labels_folder).mkdir(parents=True, exist_ok=True)
        labels = frame[[declaration.id_column, declaration.label_column]]
        written.append(_write_atomically(labels, Path(labels_folder) / name))
    return written
