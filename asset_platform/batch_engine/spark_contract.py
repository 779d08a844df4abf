"""The data contract checked on Spark: the plan `ContractCheck` compiles from the pandera contract, as Spark SQL.

A batch the `spark` engine lands is checked where it lies instead of chunk by chunk on the driver
(declaration/streamed_check.py). The rules are those `ContractCheck.rules()` gives, the ones the pandas fast
path and the streamed check run, so both engines judge by one source: each rule becomes a Spark SQL condition
on a column as pandera coerces it, and every condition is counted in one aggregation over the batch. Then the
values that repeat in a unique column (the id column, those declared unique) are found by a group-by, and the
batch's first failing rows by a bounded top-5 in batch order. The report is the one checking the whole batch at
once gives (`check_against_schema`): the same verdict, `column check` names and counts, failing rows and sample.

Times are read as `normalize_times` reads them: a datetime column stored in nanoseconds as stored (Spark reads
it as the int64 it is, see spark.py), any other time column (text, dates, periods) by `normalize_times` itself,
run on the executors. Where Spark could not tell exactly what pandera decides (no plan: a pandera class of the
user's own, frame-level checks; a column read in a dtype whose coercion is not reproduced here; a value whose
coercion only pandera tells; several missing values in a unique column), the result says why and the caller
checks the batch on the driver instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asset_platform.batch_engine.spark import POSITION, arrow_as_frame
from asset_platform.drift.chunks import read_dtypes, row_schema, stream_frames

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from asset_platform.batch_engine import BatchEngine
    from asset_platform.declaration.contract_check import ColumnRules, ContractCheck
    from asset_platform.declaration.model import ModelDeclaration
    from asset_platform.validation.checks import SchemaReport

_SAMPLE_ROWS = 5  # as many failing rows as check_against_schema keeps
# Hidden columns of the checked frame; named so that no contract column can collide.
_HIDDEN = "__asset_platform_contract"
_UNSURE = f"{_HIDDEN}_unsure"  # per row: a time `normalize_times` gave that nanoseconds cannot hold
_INT64_BOUND = 2.0**63  # a float at or beyond it has no int64: numpy's cast is undefined there


@dataclass(frozen=True)
class SparkContractCheck:
    """The batch's report as checking it whole gives it, or None with why the driver must check it instead."""

    report: SchemaReport | None
    why_driver: str | None = None

    def metadata(self) -> dict[str, str]:
        """What the contract check records of where it ran."""
        if self.report is not None:
            return {"contract_checked_by": "spark"}
        return {"contract_checked_by": "driver", "contract_not_on_spark": str(self.why_driver)}


def check_on_spark(
    engine: BatchEngine,
    declaration: ModelDeclaration,
    check: ContractCheck,
    batch: Path,
    prepare: Callable[[pd.DataFrame], pd.DataFrame],
) -> SparkContractCheck:
    """The contract's report on the Parquet batch at `batch`, computed by `engine`'s Spark session.

    `check`: built with `unique=False` (uniqueness is judged here across the batch). `prepare`: what the
    landing does to rows as read before checking them (drop the label, add the landing time, `normalize_times`);
    the columns it adds must hold one value for the whole batch (the landing time), which is read from its first
    row, and the failing sample is the prepared rows.
    """
    rules = check.rules()
    if rules is None:
        return SparkContractCheck(None, check.why_pandera or "pandera's configuration skips the data checks")
    dtypes = read_dtypes(batch)
    first = _as_read(next(stream_frames(batch, 1)), dtypes)
    if not len(first):
        return SparkContractCheck(None, "the batch has no rows")
    prepared = prepare(first)
    added = {name: prepared[name].iloc[0] for name in prepared.columns if name not in first.columns}
    spark = engine.spark_batches()  # started first: Spark's column expressions need a session
    plan = _Plan(declaration, rules, row_schema(batch), dtypes, prepared.columns, added)
    if plan.why_driver is not None:
        return SparkContractCheck(None, plan.why_driver)
    return _Evaluation(spark, plan, batch, prepare, prepared.head(0)).run()


@dataclass
class _Judged:
    """One contract column on the checked frame, as Spark SQL over its hidden columns."""

    rules: ColumnRules
    value: Any  # the value pandera checks once it coerced the column; null where missing
    raw: Any = None  # where the coercion can fail: the value as read, which pandera then checks instead
    fails: Any = None  # with `raw`: per row, the value pandera cannot coerce
    # The pandera checks that name each value it cannot coerce: its cast, and its dtype check where pandera
    # finds the dtype wrong too (float values for an int64 column; not the nullable "Int64" it counts as int64).
    fails_named: tuple[str, ...] = ("coerce_dtype", "dtype")
    unsure: Any = None  # per row: a value whose coercion only pandera tells exactly


class _Plan:
    """The contract's columns as Spark expressions over the batch (or why they cannot be)."""

    def __init__(
        self,
        declaration: ModelDeclaration,
        rules: tuple[ColumnRules, ...],
        schema: pa.Schema,
        dtypes: dict[str, Any],
        present: Any,
        added: dict[str, Any],
    ) -> None:
        from asset_platform.declaration.streamed_check import unique_columns

        self.declaration, self.schema, self.dtypes = declaration, schema, dtypes
        self.kinds = {column.name: column.dtype for column in declaration.contract_columns()}
        self.columns: list[_Judged] = []
        self.frame_level: dict[str, int] = {}
        self.normalized: list[str] = []  # time columns `normalize_times` reads on the executors
        self.stored_nanoseconds: list[str] = []  # datetime columns judged as stored
        self.why_driver: str | None = None
        for column in rules:
            if column.name not in present:
                if column.required:  # a frame-level failure, counted once as pandera does
                    self.frame_level[f"{column.name} column_in_dataframe"] = 1
                continue
            judged = self._judged(column, added)
            if isinstance(judged, str):
                self.why_driver = judged
                return
            self.columns.append(judged)
        self.unique = unique_columns(declaration, [column.rules.name for column in self.columns])

    def _judged(self, column: ColumnRules, added: dict[str, Any]) -> _Judged | str:
        import pandas as pd
        from pyspark.sql import functions as F

        name, target = column.name, column.target
        if name in added:  # stamped by the landing on every row
            value = added[name]
            if target != "datetime" or not isinstance(value, pd.Timestamp):
                return f"column {name!r} is added by the landing as {value!r}, which the Spark check does not judge"
            return _Judged(column, F.lit(value.as_unit("ns").value))
        source = _source(self.dtypes[name], self.schema.field(name).type)
        if target == "datetime":
            if source == "nanoseconds" and self.kinds.get(name) == "datetime":
                self.stored_nanoseconds.append(name)
                return _Judged(column, _col(name))  # as stored: UTC, or naive read as UTC
            self.normalized.append(name)
            return _Judged(column, _col(_hidden(name)), unsure=F.col(_UNSURE))
        x = _col(name)
        if target == "float64" and source in ("float", "int", "nullable int"):
            return _Judged(column, _no_nan(x.cast("double")))
        if target in ("int64", "Int64") and source == "int" or target == "Int64" and source == "nullable int":
            return _Judged(column, x)
        if target == "int64" and source == "nullable int":
            # pandas' cast to int64 fails at a missing value; pandera then checks the values as read.
            return _Judged(column, x, raw=x, fails=x.isNull(), fails_named=("coerce_dtype",))
        if target in ("int64", "Int64") and source == "float":
            value = _no_nan(x.cast("double"))
            finite = value.isNotNull() & ~_infinite(value)
            beyond = finite & (F.abs(value) >= F.lit(_INT64_BOUND))
            if target == "Int64":  # pandas casts whole floats only (a fraction fails the column, its cases unnamed)
                return _Judged(
                    column, value, unsure=beyond | (value.isNotNull() & (~finite | (value != _trunc(value))))
                )
            # pandas' cast truncates, and fails at a missing or infinite value: pandera then checks them as read.
            return _Judged(column, _trunc(value), raw=value, fails=~finite, unsure=beyond)
        if target == "boolean" and source in ("flag", "nullable flag") or target == "bool" and source == "flag":
            return _Judged(column, x)
        if target == "str" and source == "text":
            return _Judged(column, x)
        return (
            f"column {name!r} is read as {self.dtypes[name]} ({self.schema.field(name).type}), which pandera coerces "
            f"to {target} in a way the Spark check does not reproduce"
        )


class _Evaluation:
    """The plan evaluated on one batch: one aggregation, the unique columns' repeats, the first failing rows."""

    def __init__(self, spark: Any, plan: _Plan, batch: Path, prepare: Callable, empty: pd.DataFrame) -> None:
        import pandas as pd

        self.spark, self.plan, self.batch, self.prepare, self.empty = spark, plan, batch, prepare, empty
        self.frame = self._checked_frame()
        # The wall clock a future bound counts from, read once as pandera reads it once for the whole batch.
        self.now = pd.Timestamp.now(tz="UTC").value
        self.failed_coercion: set[int] = set()  # the columns pandera could not coerce: judged as read

    def _checked_frame(self) -> Any:
        """The batch with its position, and each time column `normalize_times` reads on the executors."""
        from pyspark.sql.types import BooleanType, LongType, StructField, StructType

        frame = self.spark.positioned(self.batch)
        if not self.plan.normalized:
            return frame
        names = self.plan.normalized
        job = _TimesJob(self.plan.declaration, _arrow_fields(self.plan.schema, names), self.plan.dtypes)
        fields = [*(StructField(_hidden(name), LongType()) for name in names), StructField(_UNSURE, BooleanType())]
        return frame.mapInArrow(partial(_normalize_times, job=job), StructType([*frame.schema.fields, *fields]))

    def run(self) -> SparkContractCheck:
        from pyspark.sql import functions as F
        from pyspark.sql.types import LongType

        plan = self.plan
        for name in plan.stored_nanoseconds:
            read_as = self.frame.schema[name].dataType
            if not isinstance(read_as, LongType):  # see spark.py: read as the int64 nanoseconds they are
                return SparkContractCheck(None, f"column {name!r}: Spark reads its nanosecond times as {read_as}")
        aggregates: dict[str, Any] = {"rows": F.count(F.lit(1)), "failing": F.count_if(_any(self._row_fails(None)))}
        for index, column in enumerate(plan.columns):
            for variant in ("value", "raw") if column.raw is not None else ("value",):
                for key, condition in _failures(column, getattr(column, variant), self.now).items():
                    aggregates[f"{index} {variant} {key}"] = F.count_if(condition)
            for kind in ("fails", "unsure"):
                if getattr(column, kind) is not None:
                    aggregates[f"{index} {kind}"] = F.count_if(getattr(column, kind))
        found = self.frame.agg(*(expression.alias(f"c{i}") for i, expression in enumerate(aggregates.values())))
        found = dict(zip(aggregates, found.first(), strict=True))  # the one pass over the batch
        for index, column in enumerate(plan.columns):
            if found.get(f"{index} unsure"):
                return SparkContractCheck(
                    None,
                    f"column {column.rules.name!r} holds values whose coercion to {column.rules.target} only pandera "
                    "tells exactly",
                )
        counts: dict[str, int] = {}
        self.failed_coercion = {i for i, c in enumerate(plan.columns) if c.raw is not None and found[f"{i} fails"]}
        for index, column in enumerate(plan.columns):
            variant = "raw" if index in self.failed_coercion else "value"
            prefix = f"{index} {variant} "
            for key in (key for key in found if key.startswith(prefix)):
                if key != f"{prefix}missing" and found[key]:
                    counts[key.removeprefix(prefix)] = found[key]
            if index in self.failed_coercion:  # each value pandera could not coerce, as its checks name it
                for check in column.fails_named:
                    counts[f"{column.rules.name} {check}('{column.rules.target}')"] = found[f"{index} fails"]
            missing = found[f"{prefix}missing"]
            if column.rules.name in plan.unique and missing > 1:
                return SparkContractCheck(
                    None,
                    f"column {column.rules.name!r} holds {missing} missing values where the contract wants it unique",
                )
        repeated = self._repeats(counts)
        failing_rows = found["failing"]
        if repeated or self.failed_coercion:  # the rows failing are known only now
            failing_rows = self._failing(repeated).count()
        counts.update(plan.frame_level)
        ordered = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        return SparkContractCheck(self._report(found["rows"], failing_rows, ordered, repeated))

    def _report(self, rows: int, failing_rows: int, counts: dict[str, int], repeated: dict) -> SchemaReport:
        from asset_platform.validation.checks import SchemaReport

        frame_level = frozenset(self.plan.frame_level)
        if not counts:
            return SchemaReport(rows, 0, {}, self.empty, None, None, frame_level)
        if failing_rows:
            first = self._failing(repeated).orderBy(POSITION).limit(_SAMPLE_ROWS)
            sample = self._prepared(first.select(*(_col(name) for name in self.plan.schema.names), POSITION))
        else:  # only frame-level failures: every row is invalid, as read whole
            failing_rows = rows
            sample = self.prepare(_as_read(next(stream_frames(self.batch, _SAMPLE_ROWS)), self.plan.dtypes))
        return SchemaReport(rows, failing_rows, counts, sample, None, None, frame_level)

    def _repeats(self, counts: dict[str, int]) -> dict[int, Any]:
        """Per unique column with a value that repeats: the repeated values (a Spark frame); their rows counted.

        One job for all the unique columns: their group-bys run side by side."""
        from functools import reduce

        from pyspark.sql import functions as F

        candidates, found = {}, []
        for index, column in enumerate(self.plan.columns):
            if column.rules.name in self.plan.unique:
                key = self._value(index).alias("key")
                values = self.frame.select(key).where(F.col("key").isNotNull()).groupBy("key").count()
                candidates[index] = values.where(F.col("count") > 1)
                found.append(candidates[index].select(F.lit(index).alias("column"), "count"))
        if not found:
            return {}
        rows = reduce(lambda left, right: left.unionByName(right), found).groupBy("column").agg(F.sum("count"))
        repeated = {}
        for index, count in rows.collect():
            counts[f"{self.plan.columns[index].rules.name} field_uniqueness"] = int(count)
            repeated[index] = candidates[index]
        return dict(sorted(repeated.items()))

    def _failing(self, repeated: dict[int, Any]) -> Any:
        """The failing rows of the checked frame (a repeated unique value fails every row that holds it)."""
        from pyspark.sql import functions as F

        frame, flags = self.frame, []
        for index, values in repeated.items():
            key, flag = f"{_HIDDEN}_key_{index}", f"{_HIDDEN}_repeated_{index}"
            frame = frame.withColumn(key, self._value(index))
            frame = frame.join(values.select(F.col("key").alias(key), F.lit(True).alias(flag)), key, "left")
            flags.append(F.col(flag).isNotNull())
        return frame.where(_any([*self._row_fails(self.failed_coercion), *flags]))

    def _row_fails(self, failed_coercion: set[int] | None) -> list[Any]:
        """Per column, the condition that fails a row, each column as coerced (`failed_coercion`: those as read)."""
        conditions = []
        for index, column in enumerate(self.plan.columns):
            raw = failed_coercion is not None and index in failed_coercion
            failures = _failures(column, column.raw if raw else column.value, self.now)
            failures.pop("missing")
            conditions.extend(failures.values())
            if raw:
                conditions.append(column.fails)
        return conditions

    def _value(self, index: int) -> Any:
        column = self.plan.columns[index]
        return column.raw if index in self.failed_coercion else column.value

    def _prepared(self, rows: Any) -> pd.DataFrame:
        """Rows of the checked frame (with their position) as the landing prepares them, labelled by position."""
        table = rows.toArrow()
        frame = self.prepare(_as_read(arrow_as_frame(table, self.plan.schema), self.plan.dtypes))
        return frame.set_axis(table[POSITION].to_pylist())


def _failures(column: _Judged, value: Any, now: int) -> dict[str, Any]:
    """Per pandera check of the column (keyed `column check`), the condition that fails a row of `value`;
    "missing": a missing value (a failure where the column is not nullable). `now`: the wall clock in ns."""
    from pyspark.sql import functions as F

    rules, present = column.rules, value.isNotNull()
    failures = {"missing": value.isNull()}
    if not rules.nullable:
        failures[f"{rules.name} not_nullable"] = value.isNull()
    for label, rule in rules.checks:
        if rule.kind == "ge":
            fails = ~(value >= F.lit(rule.value))
        elif rule.kind == "le":
            fails = ~(value <= F.lit(rule.value))
        elif rule.kind == "finite":
            fails = _infinite(value.cast("double"))
        elif rule.kind == "isin":
            fails = ~value.isin(list(rule.value))
        elif rule.kind == "not_after":
            fixed, horizon = rule.value
            fails = value > F.lit((fixed if fixed is not None else now) + horizon)
        elif rule.kind == "not_before":
            fails = value < F.lit(rule.value)
        else:  # a rule contract_check.py learned after this module: never a silent pass
            raise ValueError(f"column {rules.name!r}: the Spark contract check has no translation of {rule}")
        key = f"{rules.name} {label}"
        failures[key] = present & fails if key not in failures else failures[key] | (present & fails)
    return failures


@dataclass
class _TimesJob:
    declaration: ModelDeclaration
    schema: pa.Schema  # the time columns read here, as the file stores them
    dtypes: dict[str, Any]  # the whole file's dtypes as read


def _normalize_times(batches: Any, job: _TimesJob) -> Any:
    """On an executor: each Arrow batch with its time columns as `normalize_times` reads them, in UTC nanoseconds."""
    import numpy as np
    import pyarrow as pa

    from asset_platform.declaration.contract import normalize_times

    for batch in batches:
        table = pa.Table.from_batches([batch])
        normalized = normalize_times(_as_read(arrow_as_frame(table, job.schema), job.dtypes), job.declaration)
        unsure = np.zeros(len(table), dtype=bool)
        for name in job.schema.names:
            nanoseconds, missing, sure = _nanoseconds(normalized[name])
            table = table.append_column(_hidden(name), pa.array(nanoseconds, type=pa.int64(), mask=missing))
            unsure |= not sure
        yield from table.append_column(_UNSURE, pa.array(unsure)).to_batches()


def _nanoseconds(times: pd.Series) -> tuple[Any, Any, bool]:
    """(UTC nanoseconds, missing, sure) of normalized times; not sure: pandera's cast of them to nanoseconds could
    fail (a time beyond what nanoseconds hold, a dtype other than UTC times)."""
    import numpy as np
    import pandas as pd

    if isinstance(times.dtype, pd.DatetimeTZDtype) and str(times.dtype.tz) == "UTC":
        try:
            values = times.dt.as_unit("ns").array.asi8
            return values, values == np.iinfo(np.int64).min, True  # NaT is the smallest int64
        except (OverflowError, ValueError):
            pass
    return np.zeros(len(times), dtype=np.int64), np.ones(len(times), dtype=bool), False


def _source(dtype: Any, arrow_type: pa.DataType) -> str | None:
    """What kind of values pandas reads a column as (its `read_dtypes` dtype, its type in the file)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "ns":
        return "nanoseconds"
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            return "float"
        if dtype.kind == "i" or (dtype.kind == "u" and dtype.itemsize < 8):  # uint64 is read as a decimal by Spark
            return "int"
        if dtype.kind == "b":
            return "flag"
        if dtype.kind == "O" and pa.types.is_boolean(arrow_type):
            return "nullable flag"
        if dtype.kind == "O" and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)):
            return "text"
        return None
    if isinstance(dtype, pd.BooleanDtype):
        return "nullable flag"
    if pd.api.types.is_integer_dtype(dtype) and dtype.name not in ("UInt64",):
        return "nullable int"
    return None


def _as_read(frame: pd.DataFrame, dtypes: dict[str, Any]) -> pd.DataFrame:
    """Rows in the dtypes the whole file is read with (`read_dtypes`), as `frames_as_read` gives them.

    A categorical column keeps its own categories: the whole file's dtype, read from no rows, has none."""
    import pandas as pd

    differ = {
        name: dtype
        for name, dtype in dtypes.items()
        if name in frame and frame[name].dtype != dtype and not isinstance(dtype, pd.CategoricalDtype)
    }
    return frame.astype(differ) if differ else frame


def _arrow_fields(schema: pa.Schema, names: list[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([schema.field(name) for name in names], metadata=schema.metadata)


def _hidden(name: str) -> str:
    return f"{_HIDDEN}_time_{name}"


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _no_nan(value: Any) -> Any:
    """NaN as missing, as pandas reads it."""
    from pyspark.sql import functions as F

    return F.nanvl(value, F.lit(None).cast("double"))


def _infinite(value: Any) -> Any:
    from pyspark.sql import functions as F

    return value.isin(F.lit(float("inf")), F.lit(float("-inf")))


def _trunc(value: Any) -> Any:
    """A float's integer part, as a float (exact: the remainder is), where numpy's cast to int64 truncates."""
    return value - value % 1


def _any(conditions: list[Any]) -> Any:
    from functools import reduce

    from pyspark.sql import functions as F

    return reduce(lambda left, right: left | right, conditions, F.lit(False))
