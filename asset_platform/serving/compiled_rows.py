"""A small request's rows judged by the data contract's compiled plan, without building a pandas frame.

The request path used to build a frame from the request's arrays, normalize its times with pandas and hand
it to `ContractCheck`: about 1.5 ms for one row, a pandas Series built and indexed per column, more than
the model's featurizing and prediction together. Here each column of a request of at most `FAST_ROWS` rows
is held as the NumPy values and null mask `ContractCheck`'s vector path judges (its `plan`, compiled once
per champion from the very pandera schema a batch meets), and the same rules run on them: nullability,
uniqueness, then each check, counted under the same `column check` keys, so a refusal reads as pandera's
report would word it. Where the plan cannot decide exactly (no plan, pandera's validation switched off,
a null pandera would fail to coerce, two nulls in a unique column, a type the plan does not take),
`CompiledContract.judge` returns None and the request takes the frame path (rows.py), which ends in
pandera wherever `ContractCheck` does. ISO-8601 times are read here where they have the canonical shape
(`parse_instants`); any other text of a time column is read by pandas, as `normalize_times` reads it.

`RequestRows` is what the runtime passes on: the judged columns, or a validated frame (the frame path);
`frame()` gives the validated frame either way (equal to pandera's, tests/serving/test_compiled_rows.py),
`features()` what the compiled featurizer reads and `table()` the Arrow table capture writes.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.declaration.contract_check import ContractCheck

# At most this many rows are judged here (and featurized by featurize.py's plan); more, the frame path. The
# per-value Python work grows with rows, yet both stayed cheaper than pandas at every size measured on the loans
# model (judge / score, ms of CPU, compiled vs frame path): 1 row 0.08/0.06 vs 1.0/1.8; 100 rows 0.5/0.3 vs
# 1.8/2.9; 1000 rows 4.6/3.4 vs 5.5/7.3; 3000 rows 11.3/9.6 vs 12.0/14.6. Bounded where the gap closes.
FAST_ROWS = 1000

_NAT = np.iinfo(np.int64).min  # how datetime64[ns] holds a missing instant
_TIME_KINDS = ("datetime", "date", "year", "month")
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
# The canonical ISO-8601 shape: a date, optionally a time to the minute, second or nanosecond and an offset.
# Anything else (other separators, week dates, 24:00, leap seconds, years pandas' nanoseconds cannot hold)
# is read by pandas, which decides what it means or that it is no time.
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_YEARS = (1678, 2261)  # whole years inside datetime64[ns]'s range (1677-09-21 to 2262-04-11)


@dataclass(frozen=True)
class Column:
    """One judged column: its values as the contract coerces them, where they are missing, and its dtype.

    `values` is what `ContractCheck` judges: float64 (NaN where missing), int64 (0 where missing), bool
    (False where missing), str objects (None where missing) or int64 nanoseconds since the epoch in UTC."""

    values: np.ndarray
    null: np.ndarray | None  # None: the dtype holds no missing value
    target: str  # as ContractCheck's plan names it: float64, int64, Int64, bool, boolean, str, datetime


class RequestRows:
    """A request's rows once the contract passed them: judged columns, or the validated frame."""

    def __init__(self, count: int, columns: dict[str, Column] | None = None, frame: pd.DataFrame | None = None):
        self.count, self.columns, self._frame = count, columns, frame

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> RequestRows:
        return cls(len(frame), frame=frame)

    def __len__(self) -> int:
        return self.count

    def first(self, name: str) -> Any:
        """The first row's value of column `name` (the canary assigns a request by its first id)."""
        if self.columns is None:
            return self._frame[name].iloc[0]
        column = self.columns[name]
        return None if column.null is not None and column.null[0] else column.values[0]

    def features(self) -> Any:
        """What `RowFeaturizer.matrix` reads: per column NumPy values as `features._numeric` and `_codes` see
        them (numbers as float64 with NaN where missing, text as objects with None), or the frame."""
        if self.columns is None:
            return self._frame
        out = {}
        for name, column in self.columns.items():
            values = column.values
            if column.target == "datetime":
                values = values.view("M8[ns]")  # not a type the plan takes: the pandas path decides
            elif column.null is not None and column.target != "str" and np.count_nonzero(column.null):
                values = np.where(column.null, np.nan, values.astype(np.float64))
            out[name] = values
        return out

    def frame(self) -> pd.DataFrame:
        """The validated frame: the dtypes pandera's coercion gives, equal to its `validated` frame."""
        if self._frame is None:
            import pandas as pd

            self._frame = pd.DataFrame({name: _pandas(column) for name, column in self.columns.items()})
        return self._frame

    def table(self, without: tuple[str, ...] = ()) -> pa.Table:
        """The rows as the Arrow table `pa.Table.from_pandas(self.frame())` gives (without schema metadata),
        less the columns `without`."""
        return rows_table([self], without)


def rows_table(rows: list[RequestRows], without: tuple[str, ...] = ()) -> pa.Table:
    """Several requests' rows as one Arrow table in their order, less the columns `without`: each run of judged
    columns joined by NumPy without building frames, a frame's rows as `from_pandas` converts them (a column
    all missing in one request is typed null there, and promoted as the landing promotes a folder's parts)."""
    import pyarrow as pa

    tables, run = [], []
    for part in rows:
        if part.columns is not None:
            run.append(part)
            continue
        if run:
            tables.append(_columns_table(run, without))
            run = []
        tables.append(_frame_table(part.frame(), without))
    if run:
        tables.append(_columns_table(run, without))
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def _columns_table(rows: list[RequestRows], without: tuple[str, ...]) -> pa.Table:
    import pyarrow as pa

    arrays = {}
    for name, first in rows[0].columns.items():
        if name in without:
            continue
        parts = [part.columns[name] for part in rows]
        values = np.concatenate([part.values for part in parts]) if len(parts) > 1 else parts[0].values
        if first.null is None and all(part.null is None for part in parts):
            null = None
        else:
            null = np.concatenate([_null(part) for part in parts]) if len(parts) > 1 else parts[0].null
        arrays[name] = _arrow(values, null, first.target)
    return pa.table(arrays)


def _frame_table(frame: pd.DataFrame, without: tuple[str, ...]) -> pa.Table:
    import pyarrow as pa

    dropped = [name for name in without if name in frame.columns]
    table = pa.Table.from_pandas(frame.drop(columns=dropped) if dropped else frame, preserve_index=False)
    return table.replace_schema_metadata(None)


def _null(column: Column) -> np.ndarray:
    return column.null if column.null is not None else np.zeros(len(column.values), dtype=bool)


def _arrow(values: np.ndarray, null: np.ndarray | None, target: str) -> pa.Array:
    import pyarrow as pa

    if target == "str":
        return pa.array(values, from_pandas=True)  # typed as from_pandas types an object column (all None: null)
    if target == "datetime":
        return pa.array(values, type=pa.timestamp("ns", tz="UTC"), mask=null)
    return pa.array(values, mask=null if null is not None and np.count_nonzero(null) else None)


def _pandas(column: Column) -> Any:
    import pandas as pd

    values, null, target = column.values, column.null, column.target
    if target == "Int64":
        return pd.arrays.IntegerArray(values, null.copy())
    if target == "boolean":
        return pd.arrays.BooleanArray(values, null.copy())
    if target == "datetime":
        return pd.DatetimeIndex(values.view("M8[ns]")).tz_localize("UTC")
    return values


class CompiledContract:
    """`ContractCheck`'s plan applied to a small request's columns; one per champion (its data bounds the past)."""

    def __init__(self, declaration: ModelDeclaration, check: ContractCheck, names: list[str]):
        self.declaration, self.check = declaration, check
        self.model = declaration.name
        self.times = {spec.name: spec.dtype for spec in declaration.contract_columns() if spec.dtype in _TIME_KINDS}
        self.names = names  # the request's columns, in the order the frame path builds them
        self.landed = declaration.time_column is None  # then a request's rows are timed by its arrival

    def judge(self, inputs: dict[str, tuple[str, list]], count: int) -> RequestRows | None:
        """The rows the contract passes; `BadRequest` with pandera's report where it refuses them; None where
        only the frame path can tell. `inputs`: per column, the kind of its values and the values as sent."""
        from asset_platform.declaration.model import LANDED_AT

        plan = self.check.plan
        if plan is None or count > FAST_ROWS or not _pandera_validates_data():
            return None
        sent = dict(inputs)
        if self.landed:
            # As the frame path stamps it (pandas' clock reads microseconds).
            sent[LANDED_AT] = ("instant", [time.time_ns() // 1000 * 1000] * count)
        failing = np.zeros(count, dtype=bool)
        counts: dict[str, int] = {}
        columns: dict[str, Column] = {}
        for column in plan:
            if column.name not in sent:
                if column.required:
                    return None  # a frame-level failure: pandera words it
                continue
            kind, values = sent[column.name]
            judged = self._column(column.name, kind, values, column.target)
            if judged is None or not _judge(column, judged, counts, failing):
                return None
            columns[column.name] = judged
        if counts:
            from asset_platform.serving.rows import BadRequest

            ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            problems = "; ".join(f"{what}: {number}" for what, number in ordered)
            summary = f"{np.count_nonzero(failing)} of {count} rows invalid ({problems})"
            raise BadRequest(f"rows break the data contract of model {self.model!r}: {summary}")
        order = [*self.names, LANDED_AT] if self.landed else self.names
        return RequestRows(count, {name: columns[name] for name in order if name in columns})

    def _column(self, name: str, kind: str, values: list, target: str) -> Column | None:
        """The sent values as the contract coerces them to `target`; None where the plan cannot be sure."""
        time_kind = self.times.get(name)
        if kind == "instant":
            return Column(np.array(values, dtype=np.int64), np.zeros(len(values), dtype=bool), "datetime")
        if time_kind is not None:
            return self._instants(name, time_kind, kind, values) if target == "datetime" else None
        missing = [value is None for value in values]
        null = np.array(missing, dtype=bool) if any(missing) else None
        if kind == "number" and target == "float64":
            floats = np.array(values, dtype=np.float64)  # None: NaN
            return Column(floats, np.isnan(floats), target)
        if kind == "integer" and target in ("int64", "Int64"):
            if null is not None and target == "int64":
                return None  # pandera fails to coerce it: its wording
            whole = np.array([0 if value is None else int(value) for value in values], dtype=np.int64)
            if target == "Int64":
                return Column(whole, null if null is not None else np.zeros(len(values), dtype=bool), target)
            return Column(whole, None, target)
        if kind == "bool" and target in ("bool", "boolean"):
            if null is not None and target == "bool":
                return None
            flags = np.array([bool(value) for value in values], dtype=bool)  # None: False
            if target == "boolean":
                return Column(flags, null if null is not None else np.zeros(len(values), dtype=bool), target)
            return Column(flags, None, target)
        if kind == "string" and target == "str":
            text = np.empty(len(values), dtype=object)
            text[:] = values
            return Column(text, null if null is not None else np.zeros(len(values), dtype=bool), target)
        return None

    def _instants(self, name: str, time_kind: str, kind: str, values: list) -> Column | None:
        """A time column as UTC nanoseconds: canonical ISO datetimes read here, anything else by pandas."""
        if time_kind == "datetime":
            parsed = parse_instants(values)
            if parsed is not None:
                return Column(parsed, parsed == _NAT, "datetime")
        import pandas as pd

        from asset_platform.declaration.contract import normalize_times

        series = normalize_times(pd.DataFrame({name: frame_array(kind, values)}), self.declaration)[name]
        dtype = series.dtype
        if not isinstance(dtype, pd.DatetimeTZDtype) or str(dtype.tz) != "UTC":
            return None
        if dtype.unit != "ns":
            series = series.astype(pd.DatetimeTZDtype(unit="ns", tz="UTC"))
        nanoseconds = series.array.asi8.copy()
        return Column(nanoseconds, nanoseconds == _NAT, "datetime")


def _pandera_validates_data() -> bool:
    """Whether pandera's configuration (PANDERA_VALIDATION_ENABLED, _DEPTH) has it check data; where not, its
    verdict is the frame path's to give."""
    from pandera.config import ValidationDepth, get_config_context

    config = get_config_context()
    return config.validation_enabled and config.validation_depth in (None, ValidationDepth.SCHEMA_AND_DATA)


def frame_array(kind: str, values: list) -> Any:
    """Values of `kind` as the frame path's column: arrays, not Series (a Series per column cost more than the
    contract check); a null in a float is NaN, in an int or a flag pandas' nullable dtypes hold it."""
    import pandas as pd

    if kind == "number":
        return np.array(values, dtype="float64")
    if kind == "integer":
        return pd.array(values, dtype="Int64") if None in values else np.array(values, dtype="int64")
    if kind == "bool":
        return pd.array(values, dtype="boolean") if None in values else np.array(values, dtype="bool")
    text = np.empty(len(values), dtype=object)
    text[:] = values
    return text


def parse_instants(values: list) -> np.ndarray | None:
    """Canonical ISO-8601 texts (naive read as UTC) and None as int64 UTC nanoseconds (NaT where None), as
    `pd.to_datetime(..., utc=True, format="mixed")` reads them; None where any text is not of that shape."""
    out = np.empty(len(values), dtype=np.int64)
    for index, value in enumerate(values):
        if value is None:
            out[index] = _NAT
            continue
        if type(value) is not str:
            return None
        match = _ISO.fullmatch(value)
        if match is None:
            return None
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        year = int(year)
        if not _YEARS[0] <= year <= _YEARS[1]:
            return None
        try:
            days = dt.date(year, int(month), int(day)).toordinal() - _EPOCH_DAY
        except ValueError:
            return None  # no such day: pandas says so
        hours, minutes, seconds = int(hour or 0), int(minute or 0), int(second or 0)
        if hours > 23 or minutes > 59 or seconds > 59:
            return None
        shift = 0
        if offset is not None and offset != "Z":
            offset_hours, offset_minutes = int(offset[1:3]), int(offset[4:6])
            if offset_hours > 23 or offset_minutes > 59:
                return None
            shift = (offset_hours * 60 + offset_minutes) * 60 * (1 if offset[0] == "+" else -1)
        nanos = int(fraction.ljust(9, "0")) if fraction else 0
        out[index] = (((days * 24 + hours) * 60 + minutes) * 60 + seconds - shift) * 1_000_000_000 + nanos
    return out


def _judge(column: Any, judged: Column, counts: dict[str, int], failing: np.ndarray) -> bool:
    """`ContractCheck`'s rules for one column (its `_judge`, on arrays); False where pandera must word it."""
    values, null = judged.values, judged.null
    keep = None
    # np.count_nonzero, not .any() or .sum(): a few rows cost their Python wrappers more than the work.
    nulls = np.count_nonzero(null) if null is not None else 0
    if nulls:
        if column.unique and nulls > 1:
            return False  # pandera fails the column yet names no duplicate
        if not column.nullable:
            _fail(counts, failing, f"{column.name} not_nullable", null)
        keep = ~null
        values = values[keep]
    if column.unique:
        _fail(counts, failing, f"{column.name} field_uniqueness", _duplicated(judged.values, null))
    for check in column.checks:
        label, fails = check[0], check[1]  # (pandera's name for the check, its test on the non-missing values)
        bad = np.asarray(fails(values), dtype=bool)
        if np.count_nonzero(bad):
            if keep is not None:
                spread = np.zeros(len(keep), dtype=bool)
                spread[keep] = bad
                bad = spread
            _fail(counts, failing, f"{column.name} {label}", bad)
    return True


def _duplicated(values: np.ndarray, null: np.ndarray | None) -> np.ndarray:
    """Where a non-missing value occurs more than once (pandas' `duplicated(keep=False)`, nulls apart)."""
    seen: dict[Any, int] = {}
    listed = values.tolist()
    for value in listed:
        seen[value] = seen.get(value, 0) + 1
    repeated = np.fromiter((seen[value] > 1 for value in listed), dtype=bool, count=len(listed))
    return repeated & ~null if null is not None else repeated


def _fail(counts: dict[str, int], failing: np.ndarray, key: str, mask: np.ndarray) -> None:
    count = np.count_nonzero(mask)
    if count:
        counts[key] = counts.get(key, 0) + count
        failing |= mask
