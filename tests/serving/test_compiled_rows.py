"""A small request judged by the compiled contract gets pandera's verdict: the same refusals, worded alike, and
the same validated rows.

Over the example declarations, the tests' loans and one declaration with every dtype (timed by a column, by a
month, or by its arrival), requests of valid rows and of hostile values per column (NaN, infinities, bounds,
unknown categories, nulls, repeated ids, huge and unicode strings, times of every shape) go three ways: the
compiled contract (`CompiledContract.judge` on the request's arrays), pandera (`check_against_schema` on the
frame the frame path builds) and the whole `RequestContract.judge`. Where the compiled contract decides, its
verdict, its message's `column check` counts, its validated frame and the Arrow table capture writes must be
pandera's; it must decide every case except those it leaves to pandera by design. What a request breaks
before the contract (a missing, extra or mistyped input) is refused alike on both paths, naming the input.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from mlserver.types import InferenceRequest

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.contract_check import ContractCheck
from asset_platform.declaration.model import LANDED_AT
from asset_platform.serving.compiled_rows import FAST_ROWS, RequestRows, parse_instants
from asset_platform.serving.rows import BadRequest, RequestContract
from asset_platform.validation.checks import check_against_schema
from tests import REPO_ROOT
from tests.declaration.loans import loans_declaration
from tests.every_dtype import every_dtype_declaration

NOW = pd.Timestamp.now(tz="UTC").floor("s")
LEARNED_UNTIL = NOW - pd.Timedelta(days=30)
HUGE = "x" * 200_000
LONG_TIME = "2026-07-04T00:00:00" + "0" * 2_000  # longer, and dateutil's tokenizer takes seconds for one


def _declarations() -> dict[str, ModelDeclaration]:
    from asset_platform.project.yaml_files import load_declaration_file
    from assets.ecommerce import ecommerce

    (deliveries,), _ = load_declaration_file(Path(REPO_ROOT) / "assets" / "deliveries" / "defs.yaml")
    found = [
        ecommerce,
        deliveries,
        loans_declaration(),
        every_dtype_declaration("at"),
        every_dtype_declaration(None),
        every_dtype_declaration("month"),
    ]
    return {declaration.name: declaration for declaration in found}


DECLARATIONS = _declarations()
_DATATYPES = {"float": "FP64", "int": "INT64", "year": "INT64", "bool": "BOOL"}  # the rest travel as text


def _valid(spec: Col, row: int) -> object:
    """A value the column's contract accepts, different per row (ids and unique columns repeat none)."""
    if spec.dtype == "float":
        low = spec.min if spec.min is not None else 0.0
        high = spec.max if spec.max is not None else low + 1000.0
        return low + (high - low) * ((row * 7919) % 97) / 97
    if spec.dtype == "int":
        low = int(spec.min) if spec.min is not None else (int(spec.max) - 50 if spec.max is not None else 7)
        return low + row if spec.max is None else low + row % (int(spec.max) - low + 1)
    if spec.dtype == "bool":
        return row % 2 == 0
    if spec.dtype == "str":
        return spec.categories[row % len(spec.categories)] if spec.categories else f"v{row}-ü"
    instant = NOW - pd.Timedelta(days=2, hours=row, seconds=row * 17.123456789)
    return {
        "datetime": [instant.isoformat(), f"{instant:%Y-%m-%dT%H:%M:%S}Z", f"{instant:%Y-%m-%d %H:%M}"][row % 3],
        "date": f"{instant:%Y-%m-%d}",
        "month": f"{instant:%Y-%m}",
        "year": instant.year,
    }[spec.dtype]


def _hostile(spec: Col) -> list[object]:
    """Values of the column's JSON type that its contract may refuse (a nullable column takes the nulls)."""
    far_past, future = NOW - pd.Timedelta(days=800), NOW + pd.Timedelta(days=3)
    if spec.dtype == "float":
        return [None, float("nan"), float("inf"), float("-inf"), -1e-300, 1e12, 10**30]
    if spec.dtype == "int":
        return [None, 0, 10**6, -(2**63) + 1, 3.0]
    if spec.dtype == "bool":
        return [None, True]
    if spec.dtype == "str":
        return [None, "", " red", "nan", HUGE, "ünï\x00"]
    shapes = [
        None,
        "",
        "not a time",
        LONG_TIME,
        future.isoformat(),
        far_past.isoformat(),
        f"{NOW - pd.Timedelta(days=1):%Y-%m-%dT%H:%M:%S.%f}+05:30",
        f"{NOW - pd.Timedelta(days=1):%Y-%m-%dT%H:%M:%S}-23:59",
        f"{NOW - pd.Timedelta(days=1):%Y-%m-%dT%H:%M}+24:00",
        f"{NOW:%Y-%m-%d}T24:00:00",
        f"{NOW:%Y-%m-%d}T12:00:60",
        "2026-02-30",
        f"{NOW:%Y%m%d}",
        f"{NOW:%Y-%m-%d}t12:00:00z",
        f"{NOW:%Y-%m-%dT%H:%M:%S}.1234567891",
        "9999-01-01",
        "1600-01-01T00:00:00",
        " " + (NOW - pd.Timedelta(days=1)).isoformat(),
        "٢٠٢٦-٠٧-٠٤",
    ]
    return {
        "datetime": shapes,
        "date": [None, "2024-13-40", f"{future:%Y-%m-%d}", f"{far_past:%Y-%m-%d}", LONG_TIME, *shapes[4:8]],
        "month": [None, "March", f"{far_past:%Y-%m}", f"{NOW + pd.Timedelta(days=62):%Y-%m}", f"{NOW:%Y-%m-%d}"],
        "year": [None, 1500, future.year + 1, NOW.year - 5],
    }[spec.dtype]


def _request(declaration: ModelDeclaration, rows: int, faults: dict[tuple[str, int], object]) -> InferenceRequest:
    inputs = []
    for spec in declaration.contract_columns():
        if spec.name != declaration.label_column:
            data = [faults.get((spec.name, row), _valid(spec, row)) for row in range(rows)]
            datatype = _DATATYPES.get(spec.dtype, "BYTES")
            inputs.append({"name": spec.name, "shape": [rows], "datatype": datatype, "data": data})
    return InferenceRequest.model_validate({"inputs": inputs})


def _cases(declaration: ModelDeclaration) -> list[tuple[str, InferenceRequest]]:
    specs = [spec for spec in declaration.contract_columns() if spec.name != declaration.label_column]
    cases = [(f"valid, {rows} rows", _request(declaration, rows, {})) for rows in (1, 3, FAST_ROWS)]
    # every_dtype's variants (timed by a month, or by arrival) differ from it in their time checks alone.
    variant = declaration.name.startswith("every_dtype_")
    for spec in specs if not variant else [spec for spec in specs if spec.dtype in ("date", "month", "year")]:
        for value in _hostile(spec):
            cases.append((f"{spec.name}={str(value)[:40]!r}", _request(declaration, 2, {(spec.name, 1): value})))
        if spec.unique or spec.name == declaration.id_column:
            cases.append((f"{spec.name} repeated", _request(declaration, 3, {(spec.name, 2): _valid(spec, 0)})))
            cases.append(
                (f"{spec.name} null twice", _request(declaration, 3, {(spec.name, 0): None, (spec.name, 2): None}))
            )
    rng = np.random.default_rng(11)
    # Several faults at once: counts and failing rows add up as pandera's do.
    for index in range(4 if not variant else 0):
        faults = {}
        for spec, row in itertools.product(specs, range(5)):
            if rng.random() < 0.1:
                options = _hostile(spec)
                faults[(spec.name, row)] = options[rng.integers(len(options))]
        cases.append((f"mixed {index}", _request(declaration, 5, faults)))
    return cases


def _without_landing(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[LANDED_AT], errors="ignore")  # each path stamps its own arrival


def _leaves_to_pandera(declaration: ModelDeclaration, sent: dict[str, tuple[str, list]]) -> bool:
    """By design: a null pandera fails to coerce (a non-nullable int) or two nulls in a unique column."""
    specs = {spec.name: spec for spec in declaration.contract_columns()}
    for name, (_kind, values) in sent.items():
        spec, nulls = specs[name], sum(value is None for value in values)
        if spec.dtype == "int" and not spec.nullable and nulls:
            return True
        if (spec.unique or name == declaration.id_column) and nulls > 1:
            return True
    return False


@pytest.mark.parametrize("name", list(DECLARATIONS))
def test_the_compiled_contract_judges_a_request_as_pandera_does(name: str) -> None:
    declaration = DECLARATIONS[name]
    contract, frame_path = RequestContract(declaration, 1000), RequestContract(declaration, 1000, compiled=False)
    compiled = contract.compiled_check(LEARNED_UNTIL)
    schema = ContractCheck(declaration, False, learned_until=LEARNED_UNTIL).schema
    refused: set[str] = set()
    for case, request in _cases(declaration):
        frame = contract.frame(request)
        expected = check_against_schema(frame, schema)
        assert expected.passed or not case.startswith("valid"), f"{name} {case}: {expected.summary()}"
        sent, count = contract.sent(request)
        try:
            decided: RequestRows | BadRequest | None = compiled.judge(sent, count)
        except BadRequest as error:
            decided = error
        if decided is None:
            assert _leaves_to_pandera(declaration, sent), f"{name} {case}: the compiled contract should decide"
            continue
        assert not _leaves_to_pandera(declaration, sent), f"{name} {case}: left to pandera by design"
        if expected.passed:
            assert isinstance(decided, RequestRows) and decided.columns is not None, f"{name} {case}: {decided}"
            validated = expected.validated
            pd.testing.assert_frame_equal(_without_landing(decided.frame()), _without_landing(validated))
            wanted = pa.Table.from_pandas(_without_landing(validated), preserve_index=False)
            assert decided.table((LANDED_AT,)).equals(wanted.replace_schema_metadata(None)), f"{name} {case}"
        else:
            assert isinstance(decided, BadRequest), f"{name} {case}: pandera refuses ({expected.summary()})"
            assert _refusal(str(decided)) == _refusal(expected.summary()), f"{name} {case}"
            refused |= {key.split(" ", 1)[1].split("(")[0] for key in expected.failure_counts}
        # The whole request path gives the same answer as the frame path alone.
        _assert_same_judgement([contract, frame_path], request)
    if declaration.name.startswith("every_dtype_"):
        return
    reachable = {check.name for column in schema.columns.values() for check in column.checks}
    reachable |= {"not_nullable", "field_uniqueness"}
    reachable -= {check.name for check in schema.columns[declaration.label_column].checks}
    assert reachable <= refused, reachable - refused


def _refusal(message: str) -> tuple[str, dict[str, int]]:
    """'N of M rows invalid' and each `column check` with its count, from a refusal or a report's summary.

    Compared as a mapping: pandera orders checks of equal counts as NumPy's sort leaves them, which differs by
    platform; ours (as `ContractCheck`'s) by count, then name."""
    summary = message.split(": ", 1)[1] if message.startswith("rows break") else message
    head, _, problems = summary.partition(" (")
    counted = [problem.rsplit(": ", 1) for problem in problems.removesuffix(")").split("; ")]
    numbers = [int(count) for _key, count in counted]
    if message.startswith("rows break"):
        assert numbers == sorted(numbers, reverse=True), message
    return head, {key: int(count) for key, count in counted}


def _assert_same_judgement(contracts: list[RequestContract], request: InferenceRequest) -> None:
    outcomes = []
    for contract in contracts:
        try:
            rows = contract.judge(request, LEARNED_UNTIL)
            outcomes.append(_without_landing(rows.frame()))
        except BadRequest as error:
            outcomes.append(str(error))
    if isinstance(outcomes[0], str) or isinstance(outcomes[1], str):
        assert outcomes[0] == outcomes[1]
    else:
        pd.testing.assert_frame_equal(outcomes[0], outcomes[1])


def test_what_a_request_breaks_before_the_contract_is_refused_alike_naming_the_input() -> None:
    declaration = DECLARATIONS["every_dtype"]
    good = _request(declaration, 2, {}).model_dump()["inputs"]

    def changed(name: str, **change) -> dict:
        return {"inputs": [{**tensor, **change} if tensor["name"] == name else tensor for tensor in good]}

    bad = {
        "'ratio', row 1": changed("ratio", data=[0.5, "x"]),
        "'count', row 0": changed("count", data=[1.5, 2]),
        "'count', row 1": changed("count", data=[1, 2**63]),
        "'flag', row 0": changed("flag", data=[1, True]),
        "'colour', row 1": changed("colour", data=["red", 3]),
        "'at' is datetime": changed("at", datatype="FP64", data=[1.0, 2.0]),
        "'year', row 0": changed("year", data=[True, 2020]),
        "missing input(s) 'note'": {"inputs": [tensor for tensor in good if tensor["name"] != "note"]},
        "unknown input(s) 'extra'": {
            "inputs": [*good, {"name": "extra", "shape": [2], "datatype": "FP64", "data": [1, 2]}]
        },
        "'label' is the label": {
            "inputs": [*good, {"name": "label", "shape": [2], "datatype": "INT64", "data": [0, 1]}]
        },
        "'ratio' holds 1 rows": changed("ratio", shape=[1], data=[0.5]),
    }
    for named, payload in bad.items():
        request = InferenceRequest.model_validate(payload)
        messages = []
        for compiled in (True, False):
            with pytest.raises(BadRequest) as refused:
                RequestContract(declaration, 1000, compiled=compiled).judge(request, LEARNED_UNTIL)
            messages.append(str(refused.value))
        assert messages[0] == messages[1] and named in messages[0], messages


def test_more_rows_than_the_compiled_contract_takes_go_the_frame_path() -> None:
    declaration = DECLARATIONS["loans"]
    contract = RequestContract(declaration, 2 * FAST_ROWS)
    rows = contract.judge(_request(declaration, FAST_ROWS + 1, {}), LEARNED_UNTIL)
    assert rows.columns is None and len(rows) == FAST_ROWS + 1
    assert contract.judge(_request(declaration, FAST_ROWS, {}), LEARNED_UNTIL).columns is not None


def _iso_texts() -> list[str]:
    rng = np.random.default_rng(3)
    texts = []
    for _ in range(3000):
        year = int(rng.choice([1677, 1678, 1970, 2024, 2026, 2261, 2262, int(rng.integers(1000, 9999))]))
        month, day = int(rng.integers(0, 14)), int(rng.integers(0, 33))
        hour, minute, second = int(rng.integers(0, 26)), int(rng.integers(0, 62)), int(rng.integers(0, 62))
        digits = int(rng.integers(0, 12))
        fraction = "." + "".join(str(d) for d in rng.integers(0, 10, digits)) if digits else ""
        sign = rng.choice(["+", "-"])
        offset = rng.choice(["", "Z", f"{sign}{int(rng.integers(0, 26)):02d}:{int(rng.integers(0, 62)):02d}"])
        separator = rng.choice(["T", " ", "t"])
        date = f"{year:04d}-{month:02d}-{day:02d}"
        shape = int(rng.integers(0, 5))
        texts.append(
            [
                date,
                f"{date}{separator}{hour:02d}:{minute:02d}{offset}",
                f"{date}{separator}{hour:02d}:{minute:02d}:{second:02d}{offset}",
                f"{date}{separator}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}",
                f"{year}-{month}-{day}",
            ][shape]
        )
    return texts


def test_iso_times_read_here_are_the_instants_pandas_reads() -> None:
    texts = _iso_texts()
    expected = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, errors="coerce", format="mixed")
    expected = expected.astype(pd.DatetimeTZDtype(unit="ns", tz="UTC")).array.asi8
    read = 0
    for text, instant in zip(texts, expected, strict=True):
        parsed = parse_instants([text])
        if parsed is not None:
            read += 1
            assert parsed[0] == instant, text
    assert read > len(texts) / 5  # the canonical shapes are read here; pandas reads the rest (or finds no time)
    now = dt.datetime.now(dt.UTC)
    assert parse_instants([now.isoformat(), None])[0] == pd.Timestamp(now).value
    assert parse_instants([None]) is not None and parse_instants([1.5]) is None
