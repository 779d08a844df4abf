"""The compiled contract check (`ContractCheck`) judges request-sized frames exactly as the pandera schema does.

Frames are built as serve-model builds a request's rows (`serving.rows`: float64; int64, or Int64 with a
null; bool, or boolean with a null; text as object; times as sent, then `normalize_times`), valid ones and
each kind of bad value per column kind, for the example declarations and one with every dtype. For each,
the fast path and `check_against_schema` must agree on the verdict, the `column check` names and counts, the
failing rows and the validated frame; the fast path must decide every frame except those pandera fails to
coerce (a null in an int or bool column), which it leaves to pandera.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from mlserver.types import InferenceRequest

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.contract import normalize_times
from asset_platform.declaration.contract_check import ContractCheck
from asset_platform.declaration.model import LANDED_AT
from asset_platform.validation.checks import check_against_schema
from tests.every_dtype import every_dtype_declaration

ROOT = Path(__file__).resolve().parents[2]
NOW = pd.Timestamp.now(tz="UTC").floor("s")
LEARNED_UNTIL = NOW - pd.Timedelta(days=30)


def _declarations() -> list[ModelDeclaration]:
    from asset_platform.project.yaml_files import load_declaration_file
    from assets.ecommerce import ecommerce

    (deliveries,), _ = load_declaration_file(ROOT / "assets" / "deliveries" / "defs.yaml")
    return [
        ecommerce,
        deliveries,
        every_dtype_declaration("at"),
        every_dtype_declaration(None),
        every_dtype_declaration("month"),
    ]


DECLARATIONS = {declaration.name: declaration for declaration in _declarations()}


def _valid(spec: Col, row: int) -> object:
    """A value every contract of this column accepts, different per row (ids are unique)."""
    if spec.dtype == "float":
        return spec.min if spec.min is not None else (spec.max if spec.max is not None else 2.5 + row)
    if spec.dtype == "int":
        return int(spec.min) + row if spec.min is not None else (int(spec.max) if spec.max is not None else 7 + row)
    if spec.dtype == "bool":
        return row % 2 == 0
    if spec.dtype == "str":
        return spec.categories[row % len(spec.categories)] if spec.categories else f"v{row}"
    instant = NOW - pd.Timedelta(days=2, hours=row)
    return {
        "datetime": instant.isoformat(),
        "date": f"{instant:%Y-%m-%d}",
        "month": f"{instant:%Y-%m}",
        "year": instant.year,
    }[spec.dtype]


def _bad(spec: Col) -> list[object]:
    """Each kind of value a contract of this kind may refuse (a nullable column takes the nulls)."""
    far_past, future = NOW - pd.Timedelta(days=800), NOW + pd.Timedelta(days=3)
    if spec.dtype == "float":
        return [None, float("inf"), -2.0, 1e12]
    if spec.dtype == "int":
        return [None, 0, 10**6, 2**62]
    if spec.dtype == "bool":
        return [None]
    if spec.dtype == "str":
        return [None, "unknown-category"]
    return {
        "datetime": [None, "not a time", future.isoformat(), far_past.isoformat()],
        "date": [None, "2024-13-40", f"{future:%Y-%m-%d}", f"{far_past:%Y-%m-%d}"],
        "month": [None, "March", f"{far_past:%Y-%m}", f"{NOW + pd.Timedelta(days=62):%Y-%m}"],
        "year": [None, 1500, future.year + 1],
    }[spec.dtype]


def _series(spec: Col, values: list) -> pd.Series:
    """One input as `serving.rows` builds it from a V2 request."""
    if spec.dtype == "float":
        return pd.Series([np.nan if value is None else value for value in values], dtype="float64")
    if spec.dtype in ("int", "year"):
        return pd.Series(values, dtype="Int64" if None in values else "int64")
    if spec.dtype == "bool":
        return pd.Series(values, dtype="boolean" if None in values else "bool")
    return pd.Series(values, dtype="object")


def _frame(declaration: ModelDeclaration, rows: int, faults: dict[tuple[str, int], object]) -> pd.DataFrame:
    specs = [spec for spec in declaration.contract_columns() if spec.name != declaration.label_column]
    columns = {}
    for spec in specs:
        values = [faults.get((spec.name, row), _valid(spec, row)) for row in range(rows)]
        columns[spec.name] = _series(spec, values)
    frame = pd.DataFrame(columns)
    if declaration.time_column is None:  # a request's rows are timed by its arrival
        stamps = [faults.get((LANDED_AT, row), pd.Timestamp.now(tz="UTC")) for row in range(rows)]
        frame[LANDED_AT] = pd.Series(stamps, dtype="datetime64[ns, UTC]")
    return normalize_times(frame, declaration)


def _cases(declaration: ModelDeclaration) -> list[tuple[str, pd.DataFrame]]:
    specs = [spec for spec in declaration.contract_columns() if spec.name != declaration.label_column]
    cases = [("valid, 1 row", _frame(declaration, 1, {})), ("valid, 3 rows", _frame(declaration, 3, {}))]
    # every_dtype's variants (timed by a month, or by landing) differ from it in their time checks alone.
    variant = declaration.name.startswith("every_dtype_")
    for spec in specs if not variant else [spec for spec in specs if spec.name == declaration.time_column]:
        for value in _bad(spec):
            cases.append((f"{spec.name}={value!r}", _frame(declaration, 2, {(spec.name, 1): value})))
        if spec.unique or spec.name == declaration.id_column:  # a value repeated
            cases.append((f"{spec.name} repeated", _frame(declaration, 3, {(spec.name, 2): _valid(spec, 0)})))
    if declaration.time_column is None:  # as a captured batch's rows could be, re-read
        for stamp in (NOW + pd.Timedelta(days=2), NOW - pd.Timedelta(days=900)):
            cases.append((f"landed at {stamp}", _frame(declaration, 2, {(LANDED_AT, 0): stamp})))
    # Faults together, several per row: counts and failing rows add up as pandera's do.
    rng = np.random.default_rng(7)
    for index in range(4):
        faults = {}
        for spec, row in itertools.product(specs, range(4)):
            if rng.random() < 0.08:
                options = _bad(spec)
                faults[(spec.name, row)] = options[rng.integers(len(options))]
        cases.append((f"mixed {index}", _frame(declaration, 4, faults)))
    return cases


def _leaves_to_pandera(frame: pd.DataFrame, declaration: ModelDeclaration) -> bool:
    """Pandera fails to coerce a null in a non-nullable int64 column: its wording is left to it (a flag's
    column is pandas' nullable boolean whatever it declares, so a missing flag is judged by the fast path)."""
    for spec in declaration.contract_columns():
        held = str(frame[spec.name].dtype) if spec.name in frame else None
        if held == "Int64" and spec.dtype == "int" and not spec.nullable:
            return True
    return False


@pytest.mark.parametrize("name", list(DECLARATIONS))
def test_the_fast_path_judges_as_pandera_does(name: str) -> None:
    declaration = DECLARATIONS[name]
    check = ContractCheck(declaration, False, learned_until=LEARNED_UNTIL)
    assert check.plan is not None, check.why_pandera
    refused = set()
    for case, frame in _cases(declaration):
        expected = check_against_schema(frame, check.schema)
        fast = check.fast_report(frame)
        if _leaves_to_pandera(frame, declaration):
            assert fast is None, case  # and `report` is pandera's
            continue
        assert fast is not None, case
        assert fast.failure_counts == expected.failure_counts, case
        assert (fast.failing_rows, fast.summary()) == (expected.failing_rows, expected.summary()), case
        pd.testing.assert_frame_equal(fast.failing_sample, expected.failing_sample)
        if expected.passed:
            pd.testing.assert_frame_equal(fast.validated, expected.validated)
        refused |= {key.split(" ", 1)[1].split("(")[0] for key in fast.failure_counts}
    # The cases reach every kind of check the request's columns have.
    variant = declaration.name.startswith("every_dtype_")
    tried = [declaration.event_time_column] if variant else list(check.schema.columns)
    columns = [check.schema.columns[name] for name in tried if name != declaration.label_column]
    reachable = {kind.name for column in columns for kind in column.checks}
    if not variant:
        reachable |= {"not_nullable", "field_uniqueness"}
    assert reachable <= refused, reachable - refused


class Ratios(pa.DataFrameModel):
    """A user's pandera class: its checks are pandera's alone."""

    key: str = pa.Field(unique=True)
    at: pd.DatetimeTZDtype(unit="ns", tz="UTC")
    ratio: float = pa.Field(lt=0.5)
    size: float

    class Config:
        coerce = True


def test_a_pandera_class_leaves_the_contract_to_pandera() -> None:
    declaration = ModelDeclaration(
        name="ratios",
        owners=["team:test"],
        task="regression",
        metric="rmse",
        id_column="key",
        label_column="size",
        time_column="at",
        schema_class=f"{__name__}:Ratios",
        models=[{"family": "lightgbm"}],
    )
    check = ContractCheck(declaration, None, learned_until=LEARNED_UNTIL)
    assert check.plan is None and "pandera class" in check.why_pandera
    sent = pd.DataFrame({"key": ["a"], "at": [NOW.isoformat()], "ratio": [0.7], "size": [1.0]})
    frame = normalize_times(sent, declaration)
    assert check.fast_report(frame) is None
    assert check.report(frame).failure_counts == {"ratio less_than(0.5)": 1}


def test_without_a_champion_no_past_bound_is_checked() -> None:
    declaration = DECLARATIONS["ecommerce"]
    check = ContractCheck(declaration, False)
    frame = _frame(declaration, 1, {("event_time", 0): (NOW - pd.Timedelta(days=3000)).isoformat()})
    report = check.fast_report(frame)
    assert report is not None and report.passed


_DATATYPES = {"float": "FP64", "int": "INT64", "year": "INT64", "bool": "BOOL"}  # the rest travel as text


def _request(declaration: ModelDeclaration, rows: int, faults: dict[tuple[str, int], object]) -> InferenceRequest:
    inputs = []
    for spec in declaration.contract_columns():
        if spec.name != declaration.label_column:
            data = [faults.get((spec.name, row), _valid(spec, row)) for row in range(rows)]
            datatype = _DATATYPES.get(spec.dtype, "BYTES")
            inputs.append({"name": spec.name, "shape": [rows], "datatype": datatype, "data": data})
    return InferenceRequest.model_validate({"inputs": inputs})


def test_serve_model_refuses_a_request_for_what_pandera_refuses_and_returns_its_frame() -> None:
    from asset_platform.serving.rows import BadRequest, RequestContract

    declaration = DECLARATIONS["every_dtype"]
    contract = RequestContract(declaration, 100)
    schema = ContractCheck(declaration, False, learned_until=LEARNED_UNTIL).schema
    specs = [spec for spec in declaration.contract_columns() if spec.name != declaration.label_column]
    # Per column a null and its last kind of bad value: pandera decides the nulls it fails to coerce.
    cases = [{}] + [{(spec.name, 1): value} for spec in specs for value in {*_bad(spec)[:1], *_bad(spec)[-1:]}]
    for faults in cases:
        expected = check_against_schema(_frame(declaration, 2, faults), schema)
        request = _request(declaration, 2, faults)
        if expected.passed:
            pd.testing.assert_frame_equal(contract.rows(request, LEARNED_UNTIL), expected.validated)
            continue
        with pytest.raises(BadRequest) as refused:
            contract.rows(request, LEARNED_UNTIL)
        assert str(refused.value).endswith(expected.summary()), faults
