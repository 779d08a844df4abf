"""A batch checked chunk by chunk gets the report the whole batch gets, clean or hostile.

The landing step checks a batch bigger than the engine's chunk one chunk at a time
(declaration/streamed_check.py). Here one batch, written as Parquet, is checked both ways:
whole (read with pandas, pandera's lazy validation, as the step does for a small batch) and
in 7-row chunks with uniqueness judged across the batch. Every variant must agree on the
failure counts per check, the failing rows, the failing sample and, for a clean batch, the
validated rows stored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.contract import contract_schema, normalize_times
from asset_platform.declaration.contract_check import ContractCheck
from asset_platform.declaration.streamed_check import (
    NotStreamable,
    check_in_chunks,
    duplicated_values,
    streamable,
    unique_columns,
)
from asset_platform.drift.chunks import frames_as_read, row_schema, stream_frames
from asset_platform.validation.checks import check_against_schema

CHUNK_ROWS = 7
ROWS = 60


def _declaration() -> ModelDeclaration:
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


def _clean(rows: int = ROWS) -> pd.DataFrame:
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
            # Unique where present; one missing value (two or more: see the test at the end).
            "voucher": [f"V{i:04d}" if i != 5 else None for i in range(rows)],
        }
    )


def _hostile(name: str) -> pd.DataFrame:
    frame = _clean()
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
    return frame


VARIANTS = [
    "clean",
    "duplicate ids far apart",
    "out of range and missing",
    "unknown categories and repeated vouchers",
    "a missing column",
    "the label inside the batch",
    "times as text, one unreadable",
    "an integer column with a null in one chunk",
]


def _whole(declaration: ModelDeclaration, path: Path):
    frame = pd.read_parquet(path).drop(columns=[declaration.label_column], errors="ignore")
    frame = normalize_times(frame, declaration)
    return check_against_schema(frame, contract_schema(declaration, with_label=False), inplace=True)


def _streamed(declaration: ModelDeclaration, path: Path):
    check = ContractCheck(declaration, with_label=False, unique=False)
    assert streamable(declaration, check) is None

    def prepared():
        for chunk in frames_as_read(path, CHUNK_ROWS):
            yield normalize_times(chunk.drop(columns=[declaration.label_column], errors="ignore"), declaration)

    def column(name):
        return lambda: (chunk[name] for chunk in stream_frames(path, CHUNK_ROWS, [name]))

    columns = row_schema(path).names
    duplicated = {name: duplicated_values(column(name)) for name in unique_columns(declaration, columns)}
    written: list[pd.DataFrame] = []
    return check_in_chunks(check, prepared(), duplicated, written.append), written


@pytest.mark.parametrize("variant", VARIANTS)
def test_chunks_get_the_whole_batchs_report(variant: str, tmp_path: Path) -> None:
    declaration = _declaration()
    path = tmp_path / "batch.parquet"
    frame = _hostile(variant)
    frame.to_parquet(path, row_group_size=11)  # row groups that chunks cut across

    whole = _whole(declaration, path)
    streamed, written = _streamed(declaration, path)

    assert streamed.failure_counts == whole.failure_counts, variant
    assert streamed.failing_rows == whole.failing_rows, variant
    assert streamed.rows == whole.rows == len(frame)
    pd.testing.assert_frame_equal(
        streamed.failing_sample.reset_index(drop=True), whole.failing_sample.reset_index(drop=True), obj=variant
    )
    valid = ("clean", "the label inside the batch")
    assert whole.passed == streamed.passed == (variant in valid), (variant, whole.failure_counts)
    if whole.passed:
        pd.testing.assert_frame_equal(pd.concat(written, ignore_index=True), whole.validated.reset_index(drop=True))


def test_several_missing_values_in_a_unique_column_are_left_to_the_whole_batch(tmp_path: Path) -> None:
    path = tmp_path / "batch.parquet"
    frame = _clean().assign(order_id=lambda f: f["order_id"].astype("float64"))
    frame.loc[[3, 30], "order_id"] = np.nan
    frame.to_parquet(path)
    with pytest.raises(NotStreamable, match="order_id.*2 missing values"):
        duplicated_values(lambda: (chunk["order_id"] for chunk in stream_frames(path, CHUNK_ROWS, ["order_id"])))


def test_a_users_own_pandera_class_is_checked_whole() -> None:
    declaration = _declaration().model_copy(update={"schema_class": "tests.somewhere.Schema"})
    assert "pandera class" in (streamable(declaration, ContractCheck(_declaration(), unique=False)) or "")
