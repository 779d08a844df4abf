"""A batch checked chunk by chunk gets the report the whole batch gets, clean or hostile.

The landing step checks a batch bigger than the engine's chunk one chunk at a time
(declaration/streamed_check.py). Here one batch, written as Parquet, is checked both ways:
whole (read with pandas, pandera's lazy validation, as the step does for a small batch) and
in 7-row chunks with uniqueness judged across the batch. Every variant must agree on the
failure counts per check, the failing rows, the failing sample and, for a clean batch, the
validated rows stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.contract import normalize_times
from asset_platform.declaration.contract_check import ContractCheck
from asset_platform.declaration.streamed_check import (
    NotStreamable,
    check_in_chunks,
    duplicated_values,
    streamable,
    unique_columns,
)
from asset_platform.drift.chunks import frames_as_read, row_schema, stream_frames
from tests.contract_batches import VALID, VARIANTS, clean_batch, hostile_batch, orders_declaration, whole_report

CHUNK_ROWS = 7


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
    declaration = orders_declaration()
    path = tmp_path / "batch.parquet"
    frame = hostile_batch(variant)
    frame.to_parquet(path, row_group_size=11)  # row groups that chunks cut across

    whole = whole_report(declaration, path)
    streamed, written = _streamed(declaration, path)

    assert streamed.failure_counts == whole.failure_counts, variant
    assert streamed.failing_rows == whole.failing_rows, variant
    assert streamed.rows == whole.rows == len(frame)
    pd.testing.assert_frame_equal(
        streamed.failing_sample.reset_index(drop=True), whole.failing_sample.reset_index(drop=True), obj=variant
    )
    assert whole.passed == streamed.passed == (variant in VALID), (variant, whole.failure_counts)
    if whole.passed:
        pd.testing.assert_frame_equal(pd.concat(written, ignore_index=True), whole.validated.reset_index(drop=True))


def test_several_missing_values_in_a_unique_column_are_left_to_the_whole_batch(tmp_path: Path) -> None:
    path = tmp_path / "batch.parquet"
    frame = clean_batch().assign(order_id=lambda f: f["order_id"].astype("float64"))
    frame.loc[[3, 30], "order_id"] = np.nan
    frame.to_parquet(path)
    with pytest.raises(NotStreamable, match="order_id.*2 missing values"):
        duplicated_values(lambda: (chunk["order_id"] for chunk in stream_frames(path, CHUNK_ROWS, ["order_id"])))


def test_a_users_own_pandera_class_is_checked_whole() -> None:
    declaration = orders_declaration().model_copy(update={"schema_class": "tests.somewhere.Schema"})
    assert "pandera class" in (streamable(declaration, ContractCheck(orders_declaration(), unique=False)) or "")
