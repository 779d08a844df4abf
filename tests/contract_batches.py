"""Clean and hostile production batches of one small declaration, and the report checking a batch whole gives.

Shared by the tests that check a batch another way and must find the same report: chunk by chunk on the
driver (tests/monitoring/test_streamed_contract.py) and on Spark (tests/scale/test_spark_contract.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.contract import contract_schema, normalize_times
from asset_platform.validation.checks import SchemaReport, check_against_schema

ROWS = 60

VARIANTS = [
    "clean",
    "duplicate ids far apart",
    "out of range and missing",
    "unknown categories and repeated vouchers",
    "a missing column",
    "the label inside the batch",
    "times as text, one unreadable",
    "an integer column with a null in one chunk",
    "NaN and infinity",
]
# The variants every row of which passes the contract.
VALID = ("clean", "the label inside the batch")


def orders_declaration() -> ModelDeclaration:
    return ModelDeclaration(
        name="orders",
        task="binary_classification",
        metric="auc",
        id_column="order_id",
        label_column="returned",
        time_column="placed_at",
        columns=[
            Col(name="order_id", dtype="int"),
            Col(name="placed_at", dtype="datetime"),
            Col(name="amount", dtype="float", min=0, nullable=True),
            Col(name="items", dtype="int", min=1, max=50),
            Col(name="gift", dtype="bool", nullable=True),
            Col(name="channel", dtype="str", categories=["web", "app", "store"]),
            Col(name="voucher", dtype="str", nullable=True, unique=True),
            Col(name="returned", dtype="int"),
        ],
        models=[{"family": "lightgbm"}],
    )


def clean_batch(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    start = pd.Timestamp(dt.datetime(2026, 3, 1), tz="UTC")
    return pd.DataFrame(
        {
            "order_id": np.arange(1000, 1000 + rows),
            "placed_at": [start + pd.Timedelta(minutes=i) for i in range(rows)],
            "amount": rng.gamma(2.0, 30.0, rows).round(2),
            "items": rng.integers(1, 10, rows),
            "gift": pd.array(rng.integers(0, 2, rows).astype(bool), dtype="boolean"),
            "channel": rng.choice(["web", "app", "store"], rows),
            # Unique where present; one missing value (two or more: the contract words that failure its own way).
            "voucher": [f"V{i:04d}" if i != 5 else None for i in range(rows)],
        }
    )


def hostile_batch(name: str) -> pd.DataFrame:
    frame = clean_batch()
    if name == "duplicate ids far apart":
        frame.loc[[2, 40, 55], "order_id"] = 1000 + 30  # and row 30 holds it too
    elif name == "out of range and missing":
        frame.loc[[1, 12, 13, 59], "items"] = [0, 51, 200, 0]
        frame.loc[[5, 33], "amount"] = [-1.0, -0.01]
    elif name == "unknown categories and repeated vouchers":
        frame.loc[[4, 20], "channel"] = ["fax", "Web"]
        frame.loc[[8, 50], "voucher"] = "V0001"
    elif name == "a missing column":
        frame = frame.drop(columns=["items"]).assign(amount=frame["amount"].where(frame.index != 9, -5.0))
    elif name == "the label inside the batch":
        frame = frame.assign(returned=np.arange(len(frame)) % 2)
    elif name == "times as text, one unreadable":
        frame = frame.assign(placed_at=frame["placed_at"].astype(str)).astype({"placed_at": object})
        frame.loc[17, "placed_at"] = "not a time"
    elif name == "an integer column with a null in one chunk":
        frame = frame.astype({"items": "float64"})
        frame.loc[44, "items"] = np.nan
    elif name == "NaN and infinity":
        # A missing amount is allowed, an infinite one is not; an infinite count of items cannot be an integer.
        frame.loc[[3, 7, 9], "amount"] = [np.inf, np.nan, -np.inf]
        frame = frame.astype({"items": "float64"})
        frame.loc[[11, 12], "items"] = [np.inf, 2.5]
    return frame


def write_batch(frame: pd.DataFrame, path: Path, row_group_size: int | None = None, nan_as_null: bool = True) -> Path:
    """`frame` as a Parquet batch; `nan_as_null=False` stores a float NaN as NaN (as Spark and others write it),
    not as the null pandas writes."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if not nan_as_null:
        for name in frame.columns[(frame.dtypes == "float64").to_numpy()]:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pa.array(frame[name].to_numpy(), type=pa.float64()))
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def whole_report(declaration: ModelDeclaration, path: Path) -> SchemaReport:
    """The batch read whole with pandas and validated by pandera, as the landing step does for a small batch."""
    frame = pd.read_parquet(path).drop(columns=[declaration.label_column], errors="ignore")
    frame = normalize_times(frame, declaration)
    return check_against_schema(frame, contract_schema(declaration, with_label=False), inplace=True)
