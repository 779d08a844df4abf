"""The contract checked on Spark gives the report checking the batch whole gives, clean or hostile.

With the `spark` engine the landing step checks a batch where it lies (batch_engine/spark_contract.py): the
plan `ContractCheck` compiles from the pandera contract, as Spark SQL. Each clean and hostile batch of
tests/contract_batches.py is written as Parquet and checked on `spark local[2]` (the one session of the test
run) and whole by pandera, as the landing step checks a small batch: the failure counts per check, the failing
rows and the failing sample (rows, values, dtypes, batch positions) agree. A float NaN is stored as pandas
stores it (null) and, in the NaN batch, as Spark and others store it (NaN), which pandas reads the same.
Where Spark cannot tell exactly what pandera decides, the driver checks the batch, and the result says why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow.parquet as pq
import pytest

from asset_platform.batch_engine.spark_contract import check_on_spark
from asset_platform.declaration.contract import normalize_times
from asset_platform.declaration.contract_check import ContractCheck
from tests.contract_batches import (
    VALID,
    VARIANTS,
    clean_batch,
    hostile_batch,
    orders_declaration,
    whole_report,
    write_batch,
)
from tests.spark import spark_engine

# Rows per Arrow batch on an executor: the batches' times are read by `normalize_times` a few rows at a time.
CHUNK_ROWS = 7


def _check(declaration, path: Path):
    check = ContractCheck(declaration, with_label=False, unique=False)

    def prepare(frame: pd.DataFrame) -> pd.DataFrame:  # what the landing step does to rows as read
        return normalize_times(frame.drop(columns=[declaration.label_column], errors="ignore"), declaration)

    return check, prepare, check_on_spark(spark_engine(CHUNK_ROWS), declaration, check, path, prepare)


@pytest.mark.parametrize("variant", VARIANTS)
def test_spark_gets_the_whole_batchs_report(variant: str, tmp_path: Path) -> None:
    declaration = orders_declaration()
    nan_as_null = variant != "NaN and infinity"
    path = write_batch(hostile_batch(variant), tmp_path / "batch.parquet", row_group_size=11, nan_as_null=nan_as_null)
    if not nan_as_null:  # the file holds NaN itself, which Spark reads as a number, not as missing
        assert pq.read_table(path)["amount"].null_count == 0

    whole = whole_report(declaration, path)
    check, prepare, on_spark = _check(declaration, path)

    assert on_spark.metadata() == {"contract_checked_by": "spark"}, on_spark.why_driver
    report = on_spark.report
    assert report.failure_counts == whole.failure_counts, variant
    assert report.failing_rows == whole.failing_rows, variant
    assert report.rows == whole.rows == len(hostile_batch(variant))
    assert report.frame_level == whole.frame_level, variant
    pd.testing.assert_frame_equal(report.failing_sample, whole.failing_sample, obj=variant)
    assert report.passed == whole.passed == (variant in VALID), (variant, whole.failure_counts)
    if report.passed:  # what the landing step stores then: the rows as the contract coerces them
        coerced = check.schema.coerce_dtype(prepare(pd.read_parquet(path)))
        pd.testing.assert_frame_equal(coerced, whole.validated)


def _text_ids() -> pd.DataFrame:
    return clean_batch().astype({"order_id": str})


def _two_missing_vouchers() -> pd.DataFrame:
    frame = clean_batch()
    frame.loc[40, "voucher"] = None  # and row 5's
    return frame


@pytest.mark.parametrize(
    ("batch", "why"),
    [
        (_text_ids, "column 'order_id' is read as object (string), which pandera coerces to int64"),
        (_two_missing_vouchers, "column 'voucher' holds 2 missing values where the contract wants it unique"),
    ],
)
def test_what_spark_cannot_tell_exactly_is_left_to_the_driver(batch, why: str, tmp_path: Path) -> None:
    path = write_batch(batch(), tmp_path / "batch.parquet")
    _, _, on_spark = _check(orders_declaration(), path)
    assert on_spark.report is None and on_spark.why_driver.startswith(why)
    assert on_spark.metadata() == {"contract_checked_by": "driver", "contract_not_on_spark": on_spark.why_driver}


class Orders(pa.DataFrameModel):
    """A user's own pandera class: it may check anything, so pandera alone decides."""

    order_id: int = pa.Field(unique=True)
    amount: float = pa.Field(ge=0)

    @pa.dataframe_check
    def few_large_orders(cls, frame: pd.DataFrame) -> bool:
        return bool((frame["amount"] > 1000).mean() < 0.5)


def test_a_users_own_pandera_class_is_checked_on_the_driver(tmp_path: Path) -> None:
    declaration = orders_declaration().model_copy(update={"columns": None, "schema_class": f"{__name__}:Orders"})
    path = write_batch(pd.DataFrame({"order_id": np.arange(3), "amount": [1.0, 2.0, 3.0]}), tmp_path / "b.parquet")
    check = ContractCheck(declaration, with_label=False, unique=False)
    on_spark = check_on_spark(spark_engine(CHUNK_ROWS), declaration, check, path, lambda frame: frame)
    assert on_spark.report is None and "pandera class" in on_spark.why_driver
    assert on_spark.metadata()["contract_checked_by"] == "driver"
