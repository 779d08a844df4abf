"""The data contract's verdict on a small frame by vector operations: what `contract_schema` decides, without pandera.

Serving checks every request's rows against the contract; pandera spends some 8 ms on a 1-row frame (a
failure-case table per check, every column coerced through its engine), numpy and pandas well under one.
`ContractCheck` is compiled once per schema: each column and each check of the pandera schema must be one this
module reproduces exactly (known by the name `contract._column` gives it, its bounds read from the check), else
the whole schema stays with pandera. A frame the plan cannot judge exactly (a column missing, a dtype the
request path does not build, a value pandera would fail to coerce) is judged by pandera too, so the report is
the pandera path's: same verdict, same `column check` names and counts, same validated frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa

    from asset_platform.declaration.model import ModelDeclaration
    from asset_platform.validation.checks import SchemaReport

_SAMPLE_ROWS = 5  # as many failing rows as check_against_schema keeps
# A check on a column's non-null values (numpy array) -> True where a value fails.
_Fails = Callable[[Any], Any]


class Rule(NamedTuple):
    """A check of the plan as data, for an engine that evaluates it elsewhere (batch_engine/spark_contract.py).

    `kind`: "ge" or "le" (`value`: the bound), "finite", "isin" (`value`: the allowed values), "not_after"
    (`value`: (the fixed instant in ns since the epoch, None for the wall clock when checked; the horizon in
    ns)), "not_before" (`value`: the floor in ns). Each fails a non-missing value only, as pandera's do.
    """

    kind: str
    value: Any = None


@dataclass(frozen=True)
class ColumnRules:
    """One column of the plan: the dtype pandera coerces it to, and its checks as (pandera's name, `Rule`)."""

    name: str
    target: str  # float64, int64, Int64, bool, boolean, str, datetime (datetime64[ns, UTC])
    required: bool
    nullable: bool
    unique: bool
    checks: tuple[tuple[str, Rule], ...]


@dataclass(frozen=True)
class _ColumnPlan:
    name: str
    target: str  # float64, int64, Int64, bool, boolean, str, datetime (datetime64[ns, UTC])
    required: bool
    nullable: bool
    unique: bool
    checks: tuple[tuple[str, _Fails, Rule], ...]  # (pandera's name for the check, its test, the test as data)


class ContractCheck:
    """`contract_schema(declaration, with_label, learned_until=, now=)` and a plan that decides it without pandera.

    `report(frame)` is `check_against_schema(frame, self.schema)`'s report; `plan` is None where the schema
    holds anything the fast path cannot reproduce exactly (`why_pandera` says what), and every frame then
    goes to pandera.
    """

    def __init__(
        self,
        declaration: ModelDeclaration,
        with_label: bool | None = None,
        *,
        learned_until: Any = None,
        now: Any = None,
        unique: bool = True,
    ):
        from asset_platform.declaration.contract import contract_schema

        self.schema = contract_schema(declaration, with_label, learned_until=learned_until, now=now)
        if not unique:  # judged across chunks instead (declaration/streamed_check.py)
            self.schema = self.schema.update_columns(
                {name: {"unique": False} for name, column in self.schema.columns.items() if column.unique}
            )
        self.plan: tuple[_ColumnPlan, ...] | None = None
        self.why_pandera: str | None = None
        try:
            self.plan = _compile(self.schema, declaration, learned_until, now)
        except _NotReproducible as reason:
            self.why_pandera = str(reason)

    def rules(self) -> tuple[ColumnRules, ...] | None:
        """The plan as data, for an engine that checks elsewhere; None where only pandera decides exactly (the
        plan is None, or pandera's configuration skips the data checks)."""
        if self.plan is None or not _pandera_validates_data():
            return None
        return tuple(
            ColumnRules(c.name, c.target, c.required, c.nullable, c.unique, tuple((n, rule) for n, _, rule in c.checks))
            for c in self.plan
        )

    def report(self, frame: pd.DataFrame) -> SchemaReport:
        from asset_platform.validation.checks import check_against_schema

        report = self.fast_report(frame)
        return report if report is not None else check_against_schema(frame, self.schema)

    def fast_report(self, frame: pd.DataFrame) -> SchemaReport | None:
        """The report without pandera, or None where only pandera can tell exactly."""
        import numpy as np

        from asset_platform.validation.checks import SchemaReport

        unique_labels = frame.index.is_unique and frame.columns.is_unique
        if self.plan is None or not unique_labels or not _pandera_validates_data():
            return None
        failing = np.zeros(len(frame), dtype=bool)
        counts: dict[str, int] = {}
        coerced: dict[str, Any] = {}
        for column in self.plan:
            if column.name not in frame.columns:
                if column.required:
                    return None  # a frame-level failure: pandera words it
                continue
            series = frame[column.name]
            judged = _judge(column, series, counts, failing)
            if judged is None:
                return None
            if judged is not series:
                coerced[column.name] = judged
        if counts:
            ordered = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            sample = frame[failing].head(_SAMPLE_ROWS)
            return SchemaReport(len(frame), int(failing.sum()), ordered, sample, failing_mask=failing)
        validated = frame.copy(deep=False)  # columns the contract did not coerce stay shared with `frame`
        for name, values in coerced.items():
            validated[name] = values
        return SchemaReport(len(frame), 0, {}, frame.head(0), validated)


class _NotReproducible(Exception):
    """The schema holds something only pandera decides exactly."""


def _pandera_validates_data() -> bool:
    from pandera.config import ValidationDepth, get_config_context

    config = get_config_context()
    return config.validation_enabled and config.validation_depth in (None, ValidationDepth.SCHEMA_AND_DATA)


def _judge(column: _ColumnPlan, series: pd.Series, counts: dict[str, int], failing: np.ndarray) -> Any:
    """The column as pandera coerces it, its failures added to `counts` and `failing`; None: pandera decides."""
    import numpy as np

    coerced = _coerce(series, column.target)
    if coerced is None:
        return None
    values, null = _values(coerced, column.target)
    if null is not None and null.any():
        if column.unique and null.sum() > 1:
            return None  # pandera fails the column yet names no duplicate: leave it the wording
        if not column.nullable:
            _fail(counts, failing, f"{column.name} not_nullable", null)
        keep = ~null
        values = values[keep]
    else:
        keep = None
    if column.unique:
        duplicated = coerced.duplicated(keep=False).to_numpy()
        if null is not None:
            duplicated &= ~null
        _fail(counts, failing, f"{column.name} field_uniqueness", duplicated)
    for label, fails, _ in column.checks:
        bad = np.asarray(fails(values), dtype=bool)
        if bad.any():
            if keep is not None:
                spread = np.zeros(len(keep), dtype=bool)
                spread[keep] = bad
                bad = spread
            _fail(counts, failing, f"{column.name} {label}", bad)
    return coerced


def _fail(counts: dict[str, int], failing: Any, key: str, mask: Any) -> None:
    count = int(mask.sum())
    if count:
        counts[key] = counts.get(key, 0) + count
        failing |= mask


def _coerce(series: pd.Series, target: str) -> Any:
    """The series as pandera's coercion leaves it, where that is certain; else None."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if target == "float64":
        if dtype == "float64":
            return series
        return series.astype("float64") if dtype == "int64" else None
    if target == "int64":
        if dtype == "int64":
            return series
        return series.astype("int64") if dtype == "Int64" and not series.hasnans else None
    if target == "Int64":
        if dtype == "Int64":
            return series
        return series.astype("Int64") if dtype == "int64" else None
    if target == "bool":
        if dtype == "bool":
            return series
        return series.astype("bool") if dtype == "boolean" and not series.hasnans else None
    if target == "boolean":  # a nullable flag
        if dtype == "boolean":
            return series
        return series.astype("boolean") if dtype == "bool" else None
    if target == "str":
        # Text as the request path builds it: str or missing; anything else pandera turns into text.
        if dtype is not np.dtype(object) or not all(isinstance(value, str) or value is None for value in series.array):
            return None
        return series
    if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC":
        return series if dtype.unit == "ns" else series.astype(pd.DatetimeTZDtype(unit="ns", tz="UTC"))
    return None


def _values(series: pd.Series, target: str) -> tuple[Any, Any]:
    """(values as a numpy array, null mask or None where the dtype holds no nulls)."""
    import numpy as np

    if target == "float64":
        values = series.to_numpy()
        return values, np.isnan(values)
    if target in ("int64", "bool"):
        return series.to_numpy(), None
    if target == "Int64":
        return series.to_numpy(dtype="int64", na_value=0), series.isna().to_numpy()
    if target == "boolean":
        return series.to_numpy(dtype=bool, na_value=False), series.isna().to_numpy()
    if target == "str":
        values = series.to_numpy()
        return values, np.fromiter((value is None for value in values), dtype=bool, count=len(values))
    nanoseconds = series.array.asi8  # datetime64[ns, UTC]: NaT is the smallest int64
    return nanoseconds, nanoseconds == np.iinfo(np.int64).min


def _compile(
    schema: pa.DataFrameSchema, declaration: ModelDeclaration, learned_until: Any, now: Any
) -> tuple[_ColumnPlan, ...]:
    if declaration.schema_class is not None:
        # A user's DataFrameModel may check anything (custom, dataframe-wide, groupby checks): pandera's alone.
        raise _NotReproducible(f"the contract is the pandera class {declaration.schema_class}")
    frame_options = (schema.strict, schema.ordered, schema.unique, schema.add_missing_columns, schema.drop_invalid_rows)
    if schema.checks or schema.parsers or schema.index is not None or any(frame_options) or not schema.coerce:
        raise _NotReproducible("the schema has frame-level checks or options")
    specs = {column.name: column for column in declaration.contract_columns()}
    plans = []
    for name, column in schema.columns.items():
        options = (column.regex, column.drop_invalid_rows, column.parsers, column.default is not None)
        if any(options) or not column.coerce or column.report_duplicates != "all":
            raise _NotReproducible(f"column {name!r} has options the fast path does not reproduce")
        target = _target(str(column.dtype))
        spec = specs.get(name)
        if spec is not None and spec.dtype in ("float", "int", "bool", "str") and target not in _CONTRACT[spec.dtype]:
            raise _NotReproducible(f"column {name!r}: dtype {column.dtype} for a {spec.dtype} column")
        checks = tuple(_check(check, name, target, declaration, learned_until, now) for check in column.checks)
        plans.append(_ColumnPlan(name, target, column.required, column.nullable, column.unique, checks))
    return tuple(plans)


_CONTRACT = {"float": ("float64",), "int": ("int64", "Int64"), "bool": ("bool", "boolean"), "str": ("str",)}


def _target(dtype: str) -> str:
    if dtype in ("float64", "int64", "Int64", "bool", "boolean", "str"):
        return dtype
    if dtype == "datetime64[ns, UTC]":
        return "datetime"
    raise _NotReproducible(f"dtype {dtype}")


def _check(
    check: Any, column: str, target: str, declaration: ModelDeclaration, learned_until: Any, now: Any
) -> tuple[str, _Fails, Rule]:
    """One pandera check of `contract._column` or `contract_schema` as (its name in failure cases, its test)."""
    import numpy as np
    import pandas as pd

    from asset_platform.declaration.contract import _utc_instant, past_reach

    if check.groupby is not None or not check.ignore_na or check.raise_warning or check.n_failure_cases is not None:
        raise _NotReproducible(f"column {column!r}: check {check.name} has options the fast path does not reproduce")
    label = check.error if check.error is not None else check.name
    numeric = target in ("float64", "int64", "Int64")
    stats = check.statistics or {}
    if check.name == "greater_than_or_equal_to" and numeric and _number(stats.get("min_value")):
        low = stats["min_value"]
        return label, lambda values: ~(values >= low), Rule("ge", low)
    if check.name == "less_than_or_equal_to" and numeric and _number(stats.get("max_value")):
        high = stats["max_value"]
        return label, lambda values: ~(values <= high), Rule("le", high)
    if check.name == "finite" and numeric:
        return label, lambda values: np.isinf(values.astype("float64")), Rule("finite")
    if check.name == "isin" and (target == "str" or numeric):
        allowed = list(stats.get("allowed_values", ()))
        if target == "str" and all(isinstance(value, str) for value in allowed):
            members = frozenset(allowed)
            fails = lambda values: np.fromiter((v not in members for v in values), bool, count=len(values))  # noqa: E731
            return label, fails, Rule("isin", tuple(allowed))
        if target != "str" and all(_number(value) for value in allowed):
            return label, lambda values: ~np.isin(values, allowed), Rule("isin", tuple(allowed))
    horizon_hours = declaration.max_future_skew_hours
    if check.name == f"not_after_now_plus_{horizon_hours:g}h" and target == "datetime":
        horizon = pd.Timedelta(hours=horizon_hours).value
        fixed = None if now is None else _utc_instant(now).value

        def after_horizon(values: Any) -> Any:
            # The wall clock read as pandera's check reads it: when the frame is checked.
            instant = fixed if fixed is not None else pd.Timestamp.now(tz="UTC").value
            return values > instant + horizon

        return label, after_horizon, Rule("not_after", (fixed, horizon))
    past_days = declaration.max_past_skew_days
    if (
        past_days is not None
        and learned_until is not None
        and check.name == f"not_before_champion_data_minus_{past_days:g}d"
        and target == "datetime"
    ):
        floor = (_utc_instant(learned_until) - past_reach(declaration)).value
        return label, lambda values: values < floor, Rule("not_before", floor)
    raise _NotReproducible(f"column {column!r}: check {label}")


def _number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)
