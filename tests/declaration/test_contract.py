"""The data contract built from a declaration: what it accepts, what it refuses, and how it names it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from asset_platform.declaration.contract import contract_schema, normalize_times
from asset_platform.validation.checks import check_against_schema
from tests.declaration.loans import generate_loans, loans_declaration


@pytest.fixture
def rows() -> pd.DataFrame:
    return generate_loans(60, dt.date(2026, 1, 1), 1)


def _report(frame: pd.DataFrame, with_label: bool = True):
    declaration = loans_declaration()
    return check_against_schema(normalize_times(frame, declaration), contract_schema(declaration, with_label))


@pytest.mark.parametrize("variant", ["naive", "iso string", "other time zone"])
def test_timestamps_as_upstream_writes_them_are_read_as_utc(rows, variant) -> None:
    times = rows["applied_at"]
    rows["applied_at"] = {
        "naive": times.dt.tz_localize(None),
        "iso string": times.dt.tz_localize(None).astype(str),
        "other time zone": times.dt.tz_convert("Asia/Tokyo"),
    }[variant]
    assert _report(rows).passed


def test_an_unreadable_timestamp_is_invalid_and_named(rows) -> None:
    rows["applied_at"] = rows["applied_at"].astype(object)
    rows.loc[4, "applied_at"] = "yesterday"
    report = _report(rows)
    assert not report.passed and report.failing_rows == 1 and "applied_at not_nullable" in report.summary()


def test_rows_from_the_future_are_refused(rows) -> None:
    rows.loc[0, "applied_at"] = pd.Timestamp("2099-01-01", tz="UTC")
    assert "applied_at not_after_now_plus_24h" in _report(rows).summary()


def test_infinity_is_refused_even_without_range_bounds(rows) -> None:
    rows.loc[2, "income"] = np.inf
    assert "income finite" in _report(rows).summary()


def test_a_binary_label_outside_zero_and_one_is_refused(rows) -> None:
    rows.loc[1, "defaulted"] = 2
    assert "defaulted isin" in _report(rows).summary()


def test_production_batches_need_no_label_but_history_does(rows) -> None:
    unlabeled = rows.drop(columns=["defaulted"])
    assert _report(unlabeled, with_label=False).passed
    assert "defaulted" in _report(unlabeled, with_label=True).summary()


def test_the_id_column_must_be_unique(rows) -> None:
    rows.loc[5, "loan_id"] = rows.loc[6, "loan_id"]
    assert "loan_id field_uniqueness" in _report(rows).summary()


def test_a_missing_feature_column_is_named(rows) -> None:
    assert "purpose" in _report(rows.drop(columns=["purpose"])).summary()


def test_normalizing_times_leaves_the_callers_frame_as_it_was(rows) -> None:
    rows["applied_at"] = rows["applied_at"].dt.tz_localize(None)
    before = rows.copy()
    normalized = normalize_times(rows, loans_declaration())
    assert str(normalized["applied_at"].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_frame_equal(rows, before)


def test_a_passing_check_returns_the_validated_frame_and_a_failing_one_none(rows) -> None:
    declaration = loans_declaration()
    schema = contract_schema(declaration, True)
    passed = check_against_schema(normalize_times(rows, declaration), schema, inplace=True)
    assert passed.passed and passed.validated is not None and len(passed.validated) == len(rows)
    rows.loc[3, declaration.label_column] = 7
    failed = check_against_schema(normalize_times(rows, declaration), schema, inplace=True)
    assert not failed.passed and failed.validated is None


@pytest.mark.parametrize("nullable", [True, False])
def test_a_flag_declared_nullable_takes_missing_values_and_one_not_declared_so_refuses_them(nullable) -> None:
    from asset_platform.declaration.model import ColumnSpec

    declaration = loans_declaration()
    flag = ColumnSpec(name="is_returning", dtype="bool", nullable=nullable)
    declared = declaration.model_copy(update={"columns": [*declaration.columns, flag]})
    frame = generate_loans(6, dt.date(2026, 1, 1), 1).assign(is_returning=[True, None, False, True, None, False])
    report = check_against_schema(normalize_times(frame, declared), contract_schema(declared, True))
    assert report.passed is nullable
    if nullable:
        assert report.validated["is_returning"].isna().sum() == 2
        assert report.validated["is_returning"].dropna().tolist() == [True, False, True, False]
    else:
        assert "is_returning" in report.summary()
