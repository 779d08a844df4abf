"""The data contract as a pandera schema, from a column list or a user's `DataFrameModel`.

Imported only where data is validated: pandera is slow to import and the code
location must load without it (a pandera class named by a declaration is the
exception, read at load to check the declaration against it).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from asset_platform.declaration.errors import DeclarationError
from asset_platform.imports import import_object

if TYPE_CHECKING:
    import pandera.pandas as pa

    from asset_platform.declaration.model import ColumnSpec, ModelDeclaration

_PANDAS_DTYPE = {"float": "float64", "int": "int64", "str": "str", "bool": "bool"}


def contract_schema(
    declaration: ModelDeclaration,
    with_label: bool | None = None,
    *,
    learned_until: Any = None,
    now: Any = None,
) -> pa.DataFrameSchema:
    """The pandera schema every history file and production batch is validated with.

    `with_label`: True requires the label, False forbids nothing but ignores it
    (production batches arrive without it), None makes it optional.
    `learned_until`: for a production batch as it lands, the newest event time the
    champion learned from (`lifecycle.past_bound`); its times are then bounded in the
    past too, `max_past_skew_days` before that, never before the wall clock, so a
    batch on a fixed date is judged the same whatever day it is. None (no champion
    yet; history and batches re-read for retraining, which grow old by design): no
    past bound. `now`: the instant the future bound counts from (default: the wall
    clock when validating; a row from the future is always wrong).
    """
    import pandas as pd
    import pandera.pandas as pa

    if declaration.schema_class is not None:
        schema = import_object(declaration.schema_class).to_schema()
    else:
        schema = pa.DataFrameSchema(
            {column.name: _column(column, declaration) for column in declaration.contract_columns()},
            coerce=True,
            strict=False,
        )
    if schema.strict:
        # A strict user schema refuses unknown columns; those serve-model adds to a captured batch are the
        # platform's bookkeeping (declarations may not use the names), optional and of any type.
        from asset_platform.declaration.model import SERVED_COLUMNS

        schema = schema.add_columns({name: pa.Column(required=False, nullable=True) for name in SERVED_COLUMNS})
    label = declaration.label_column
    if label in schema.columns:
        schema = schema.update_column(label, required=bool(with_label))
    time = declaration.event_time_column
    if declaration.time_column is None:
        # Stamped on every row by the landing zone when it reads a file (see landing.py).
        schema = schema.add_columns({time: pa.Column(pd.DatetimeTZDtype(unit="ns", tz="UTC"), coerce=True)})
    if time in schema.columns:
        # No row may come from the future (beyond a skew): a 2099 timestamp would anchor
        # every time window and time split on nothing.
        horizon = pd.Timedelta(hours=declaration.max_future_skew_hours)
        fixed_now = None if now is None else _utc_instant(now)
        checks = [
            pa.Check(
                lambda s: s <= (fixed_now if fixed_now is not None else pd.Timestamp.now(tz="UTC")) + horizon,
                element_wise=False,
                name=f"not_after_now_plus_{declaration.max_future_skew_hours:g}h",
            )
        ]
        if learned_until is not None and declaration.max_past_skew_days is not None:
            # Nor, when it arrives, from far before the champion's data: a batch dated years back would be
            # judged against a model of another era and its start would become a drift-triggered retrain's
            # window. Anchored on data, not the clock, so fixed-date data never ages into quarantine.
            floor = _utc_instant(learned_until) - past_reach(declaration)
            checks.append(
                pa.Check(
                    lambda s: s >= floor,
                    element_wise=False,
                    name=f"not_before_champion_data_minus_{declaration.max_past_skew_days:g}d",
                )
            )
        schema = schema.update_column(time, checks=[*schema.columns[time].checks, *checks])
    return schema


def past_reach(declaration: ModelDeclaration) -> Any:
    """How far before the champion's newest data a row may be timed: `max_past_skew_days`, plus one period
    for a date, month or year (read as the instant it starts: a period that ended within the bound passes)."""
    import pandas as pd

    days = declaration.max_past_skew_days or 0.0
    return pd.Timedelta(days=days) + _PERIOD_LENGTH.get(_time_dtype(declaration), pd.Timedelta(0))


def _utc_instant(value: Any) -> Any:
    import pandas as pd

    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _time_dtype(declaration: ModelDeclaration) -> str:
    if declaration.time_column is None:
        return "datetime"
    return next(c.dtype for c in declaration.contract_columns() if c.name == declaration.time_column)


def normalize_times(frame: Any, declaration: ModelDeclaration) -> Any:
    """The frame with every datetime, date and period column of the contract as UTC timestamps.

    Upstream systems write timestamps naive (meaning UTC), with offsets, or as
    ISO strings; pandas refuses to cast naive to aware, so the contract would
    call every row invalid. Naive values are read as UTC; values that cannot be
    read become missing, which the contract then reports (never silently kept).
    """
    columns = {c.name: c.dtype for c in declaration.contract_columns() if c.dtype in _TIME_KINDS}
    columns = {name: dtype for name, dtype in columns.items() if name in frame.columns}
    if not columns:
        return frame
    # A shallow copy: the datetime columns are replaced, never written into, so the
    # caller's frame is untouched without copying every column of a large batch.
    frame = frame.copy(deep=False)
    for name, dtype in columns.items():
        frame[name] = _period_start(frame[name], dtype) if dtype != "datetime" else _utc(frame[name])
    return frame


# A date or period is read as the UTC instant it starts at; the past bound reaches back one period further, so
# a period that ended within the bound passes.
_TIME_KINDS = ("datetime", "date", "year", "month")
_PERIOD_LENGTH = {"date": dt.timedelta(days=1), "month": dt.timedelta(days=31), "year": dt.timedelta(days=366)}
_PERIOD_FREQ = {"date": "D", "month": "M", "year": "Y"}


def _utc(values: Any) -> Any:
    import pandas as pd

    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed")


def _period_start(values: Any, dtype: str) -> Any:
    """A date, a year (2024) or a year-month ('2024-03') as the UTC instant its period starts at; else missing."""
    import pandas as pd

    if dtype == "year" and not pd.api.types.is_datetime64_any_dtype(values.dtype):
        years = pd.to_numeric(values, errors="coerce")
        # Whole years pandas can represent; anything else (2024.5, 20245, an epoch) becomes missing.
        whole = years.where((years % 1 == 0) & years.between(1678, 2261))
        text = whole.astype("Int64").astype("string")
        return pd.to_datetime(text, format="%Y", utc=True, errors="coerce")
    if dtype == "month" and not pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.astype("string").str.strip()
        return pd.to_datetime(text, format="%Y-%m", utc=True, errors="coerce")
    instants = _utc(values)
    return instants.dt.tz_localize(None).dt.to_period(_PERIOD_FREQ[dtype]).dt.start_time.dt.tz_localize("UTC")


def _column(spec: ColumnSpec, declaration: ModelDeclaration) -> pa.Column:
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa

    checks = []
    if spec.min is not None:
        checks.append(pa.Check.ge(spec.min))
    if spec.max is not None:
        checks.append(pa.Check.le(spec.max))
    if spec.dtype in ("float", "int"):
        # +-inf passes a missing range bound; it would reach the model unimputed.
        checks.append(pa.Check(lambda s: ~np.isinf(s.astype("float64")), name="finite"))
    if spec.categories is not None:
        checks.append(pa.Check.isin(spec.categories))
    if spec.name == declaration.label_column and declaration.task == "binary_classification":
        checks.append(pa.Check.isin([0, 1]))
    # Dates and periods are normalized to the instant they start at (`normalize_times`), like datetimes.
    timed = spec.dtype in _TIME_KINDS
    dtype: Any = pd.DatetimeTZDtype(unit="ns", tz="UTC") if timed else _PANDAS_DTYPE[spec.dtype]
    if spec.dtype == "int" and spec.nullable:
        dtype = "Int64"
    if spec.dtype == "bool":
        # pandas' nullable boolean: numpy's bool has no missing value, so coercing to it turned a missing flag
        # into False (a non-nullable column passed it silently, a nullable one could never hold one).
        dtype = "boolean"
    unique = spec.unique or spec.name == declaration.id_column
    nullable = spec.nullable and spec.name != declaration.id_column
    return pa.Column(dtype, checks=checks, nullable=nullable, unique=unique, coerce=True)


def columns_from_pandera(declaration_name: str, path: str) -> list[ColumnSpec]:
    """Column specs read from a pandera `DataFrameModel` (dtypes, nullability; checks stay in the class)."""
    return list(_columns_from_pandera(declaration_name, path))


@lru_cache(maxsize=64)
def _columns_from_pandera(declaration_name: str, path: str) -> tuple[ColumnSpec, ...]:
    from asset_platform.declaration.model import ColumnSpec

    try:
        schema = import_object(path).to_schema()
    except (ImportError, AttributeError) as error:
        raise DeclarationError(declaration_name, "schema_class", str(error)) from None
    columns = []
    for name, column in schema.columns.items():
        columns.append(ColumnSpec(name=name, dtype=_kind(str(column.dtype)), nullable=bool(column.nullable)))
    return tuple(columns)


def _kind(dtype: str) -> str:
    lowered = dtype.lower()
    if "datetime" in lowered:
        return "datetime"
    if lowered == "date":
        return "date"
    if lowered.startswith(("float", "double")):
        return "float"
    if lowered.startswith(("int", "uint")):
        return "int"
    if lowered.startswith("bool"):
        return "bool"
    return "str"
