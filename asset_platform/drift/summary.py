"""A batch's drift summary: exact counts in the reference profile's cells, mergeable by addition.

Every drift statistic (measure.py) is computed from this summary only, so a
batch summarized in one piece, streamed in chunks, or summarized in parts
elsewhere and merged in any order gives the same results, integer for integer:

* numeric feature: the count of values in each cell of the profile's cut grid
  (`NumericProfile.cuts`: one code per cut point, for values equal to it, and
  one per gap between cuts; see binning.py), the sum of the values strictly
  inside each gap (the Wasserstein distance places a gap's values at their
  mean), n, missing, min, max, and the sums of the values and of their squares;
* categorical feature: the count of each category the profile lists, of the
  rest ("other": categories the profile lumped together or never saw), and of
  missing values;
* the number of rows.

Sums are exact: integers in units of 2^-1126 (every float64 is a whole number
of those), so adding them is associative and commutative and a sum reads back
as the correctly rounded float of the true sum, however the batch was cut. A
float accumulator differs in its last bits between chunkings, and the
Wasserstein distance with it. The sum of squares adds each value's float64
square exactly; it is +inf once a square overflows (|x| > 1.3e154).

A summary records a fingerprint of each feature's reference profile: merging
summaries made against different profiles, or measuring one against another
profile, is refused, naming the feature.

`summarize_parquet` streams a Parquet file or a dataset folder of part files
in Arrow record batches of at most `chunk_rows` rows, adding each chunk's
counts and exact sums to running totals (what merging the chunks' summaries
gives), so memory is bounded by the chunk and a row group's column pages, not
by the batch.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asset_platform.dataset_folders import part_files
from asset_platform.drift.binning import STANDARD_CAP
from asset_platform.drift.columns import DriftInputError, category_counts, numeric_values, require_frame
from asset_platform.drift.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from asset_platform.exact_sums import SLICE_ROWS, UNIT_BITS, ExactSums, exact_float, exact_units

SUMMARY_FORMAT = "asset_platform.drift.summary/1"
DEFAULT_CHUNK_ROWS = 131_072


class SummaryMismatchError(ValueError):
    """Summaries, or a summary and a profile, that do not belong together; the message names the feature."""


@dataclass(frozen=True)
class NumericSummary:
    """One numeric feature of a batch: counts per cell code of the profile's cuts, and exact sums.

    `counts[c]` counts values with cell code c (binning.Cuts.codes: 2k + 1 for
    values equal to cut k, 2k for values strictly between cuts k - 1 and k).
    `cell_sums[k]` is the exact sum, in units of 2^-1126, of the values with
    code 2k; `sum_values` and `sum_squares` those of every value and of their
    float64 squares (+inf once a square overflows). `n` counts finite values,
    `missing` NaN, None and +/-inf. A column that is absent (`missing_column`)
    or unreadable (`errors`) counts every row as missing. `reference` is the
    fingerprint of the feature's profile.
    """

    name: str
    reference: str
    missing_column: bool
    errors: tuple[str, ...]
    n: int
    missing: int
    minimum: float | None
    maximum: float | None
    counts: tuple[int, ...]
    cell_sums: tuple[int, ...]
    sum_values: int
    sum_squares: int | float

    @property
    def mean(self) -> float | None:
        return exact_float(self.sum_values) / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Population variance from the sums (for reports; the drift statistics do not use it)."""
        if not self.n:
            return None
        mean = exact_float(self.sum_values) / self.n
        return max(exact_float(self.sum_squares) / self.n - mean * mean, 0.0)

    def standardized_cell_sums(self, center: float, scale: float) -> np.ndarray:
        """Per gap, the sum of (x - center) / scale: the exact sum less count x center, then rounded and divided.

        Capped at +/-1e15 per value, as binning.standardize caps each value.
        """
        counts, center_units = self.counts[0::2], exact_units(center)
        shifted = [
            exact_float(total - count * center_units) for total, count in zip(self.cell_sums, counts, strict=True)
        ]
        with np.errstate(over="ignore"):
            sums = np.array(shifted, dtype=np.float64) / scale
        cap = np.asarray(counts, dtype=np.float64) * STANDARD_CAP
        return np.clip(sums, -cap, cap)

    def merge(self, other: NumericSummary) -> NumericSummary:
        _check_same_reference(self, other)
        return replace(
            self,
            missing_column=self.missing_column or other.missing_column,
            errors=_merged_errors(self.errors, other.errors),
            n=self.n + other.n,
            missing=self.missing + other.missing,
            minimum=_extreme(min, self.minimum, other.minimum),
            maximum=_extreme(max, self.maximum, other.maximum),
            counts=_added(self.counts, other.counts),
            cell_sums=tuple(a + b for a, b in zip(self.cell_sums, other.cell_sums, strict=True)),
            sum_values=self.sum_values + other.sum_values,
            sum_squares=_add_exact(self.sum_squares, other.sum_squares),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **_plain(self),
            "cell_sums": [_exact_text(total) for total in self.cell_sums],
            "sum_values": _exact_text(self.sum_values),
            "sum_squares": _exact_text(self.sum_squares),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericSummary:
        item = _tupled(data, cls)
        summary = cls(
            **{
                **item,
                "cell_sums": tuple(_exact_from_text(text) for text in data["cell_sums"]),
                "sum_values": _exact_from_text(data["sum_values"]),
                "sum_squares": _exact_from_text(data["sum_squares"]),
            }
        )
        if len(summary.counts) != 2 * len(summary.cell_sums) - 1:
            raise ValueError(
                f"summary of feature {summary.name!r} is damaged: {len(summary.counts)} cell counts for "
                f"{len(summary.cell_sums)} cell sums (expected {2 * len(summary.cell_sums) - 1})"
            )
        return summary


@dataclass(frozen=True)
class CategoricalSummary:
    """One categorical feature of a batch: counts of the profile's categories, of the rest, of missing values.

    `errors` stays empty (every column has categories); it is there so both kinds merge and read alike.
    """

    name: str
    reference: str
    missing_column: bool
    errors: tuple[str, ...]
    counts: tuple[int, ...]
    other: int
    missing: int

    @property
    def n(self) -> int:
        return sum(self.counts) + self.other

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        _check_same_reference(self, other)
        return replace(
            self,
            missing_column=self.missing_column or other.missing_column,
            errors=_merged_errors(self.errors, other.errors),
            counts=_added(self.counts, other.counts),
            other=self.other + other.other,
            missing=self.missing + other.missing,
        )

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalSummary:
        return cls(**_tupled(data, cls))


@dataclass(frozen=True)
class BatchSummary:
    """What drift needs of a batch, per profiled feature; merge two parts of a batch with `merge`."""

    n_rows: int
    numeric: Mapping[str, NumericSummary]
    categorical: Mapping[str, CategoricalSummary]

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def merge(self, other: BatchSummary) -> BatchSummary:
        """The summary of both parts together: counts and sums added, extremes compared."""
        if not isinstance(other, BatchSummary):
            raise TypeError(f"can only merge a BatchSummary with another, not a {type(other).__name__}")
        for kind in ("numeric", "categorical"):
            _check_same_features(kind, getattr(self, kind), getattr(other, kind))
        return BatchSummary(
            n_rows=self.n_rows + other.n_rows,
            numeric={name: item.merge(other.numeric[name]) for name, item in self.numeric.items()},
            categorical={name: item.merge(other.categorical[name]) for name, item in self.categorical.items()},
        )

    def check_profile(self, profile: ReferenceProfile) -> None:
        """Raise SummaryMismatchError, naming the feature, unless this summary was made against `profile`."""
        for kind in ("numeric", "categorical"):
            references: Mapping[str, NumericProfile | CategoricalProfile] = getattr(profile, kind)
            _check_same_features(kind, getattr(self, kind), references, "the profile")
            for name, reference in references.items():
                made = getattr(self, kind)[name].reference
                if made != feature_fingerprint(reference):
                    raise SummaryMismatchError(
                        f"the summary of feature {name!r} was made against another reference profile "
                        f"(fingerprint {made}, this profile's is {feature_fingerprint(reference)}); "
                        "summarize the batch again with this profile"
                    )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; exact sums are written as hexadecimal integers times a power of two."""
        return {
            "format": SUMMARY_FORMAT,
            "n_rows": self.n_rows,
            "numeric": [item.to_dict() for item in self.numeric.values()],
            "categorical": [item.to_dict() for item in self.categorical.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchSummary:
        if data.get("format") != SUMMARY_FORMAT:
            raise ValueError(f"not a batch summary of format {SUMMARY_FORMAT!r} (got format {data.get('format')!r})")
        numeric = [NumericSummary.from_dict(item) for item in data["numeric"]]
        categorical = [CategoricalSummary.from_dict(item) for item in data["categorical"]]
        return cls(
            n_rows=int(data["n_rows"]),
            numeric={item.name: item for item in numeric},
            categorical={item.name: item for item in categorical},
        )


@functools.lru_cache(maxsize=1024)
def feature_fingerprint(reference: NumericProfile | CategoricalProfile) -> str:
    """A short hash of everything in a feature's reference profile (its cut points among it)."""
    text = json.dumps({f.name: getattr(reference, f.name) for f in fields(reference)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summarize(profile: ReferenceProfile, frame: pd.DataFrame) -> BatchSummary:
    """The summary of `frame` against `profile`; columns the profile lacks are ignored."""
    return summarize_frames(profile, [require_frame(frame, "the batch")])


def summarize_frames(profile: ReferenceProfile, frames: Iterable[pd.DataFrame]) -> BatchSummary:
    """The summary of a batch given as consecutive frames (chunks with the same columns), one at a time.

    Equal to `summarize(profile, pd.concat(frames))`; give at least one frame (an empty one for a batch of
    no rows), so that missing and non-numeric columns are recorded.
    """
    summarizer = _Summarizer(profile)
    for frame in frames:
        summarizer.add(frame)
    return summarizer.summary()


class _Summarizer:
    """Adds chunks of one batch into running counts and exact sums; `summary()` is their BatchSummary.

    Adding chunk by chunk is what summarizing each chunk and merging the
    summaries gives (counts and exact sums add, extremes compare), without
    building a summary per chunk.
    """

    def __init__(self, profile: ReferenceProfile) -> None:
        self.n_rows = 0
        self.numeric = [_NumericCounter(reference) for reference in profile.numeric.values()]
        self.categorical = [_CategoricalCounter(reference) for reference in profile.categorical.values()]

    def add(self, frame: pd.DataFrame) -> None:
        self.n_rows += len(frame)
        for counter in (*self.numeric, *self.categorical):
            counter.add(frame)

    def summary(self) -> BatchSummary:
        return BatchSummary(
            n_rows=self.n_rows,
            numeric={counter.reference.name: counter.summary() for counter in self.numeric},
            categorical={counter.reference.name: counter.summary() for counter in self.categorical},
        )


class _NumericCounter:
    """Running cell counts, exact sums, extremes and missing counts of one numeric feature."""

    def __init__(self, reference: NumericProfile) -> None:
        self.reference = reference
        self.missing_column = False
        self.errors: set[str] = set()
        self.missing = 0
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.counts = np.zeros(2 * len(reference.cuts) + 1, dtype=np.int64)
        self.gaps = ExactSums(len(reference.cuts) + 1)
        self.squares: ExactSums | None = ExactSums(1)  # None once a square overflows float64

    def add(self, frame: pd.DataFrame) -> None:
        name = self.reference.name
        if name not in frame.columns:
            self.missing_column, self.missing = True, self.missing + len(frame)
            return
        try:
            values, missing = numeric_values(frame, name)
        except DriftInputError as error:
            self.errors.add(str(error))
            self.missing += len(frame)
            return
        self.missing += missing
        if values.size == 0:
            return
        low, high = float(values.min()), float(values.max())
        self.minimum = _extreme(min, self.minimum, low)
        self.maximum = _extreme(max, self.maximum, high)
        largest = np.float64(max(-low, high))
        with np.errstate(over="ignore"):
            if not np.isfinite(largest * largest):  # then some square overflows float64
                self.squares = None
        for start in range(0, values.size, SLICE_ROWS):
            part = values[start : start + SLICE_ROWS]
            codes = self.reference.cuts.codes(part)
            self.counts += np.bincount(codes, minlength=self.counts.size)
            # Codes 2k (inside gap k) and 2k + 1 (at cut k) share k; `summary` takes the values at cuts out.
            codes >>= 1
            self.gaps.add(codes, part)
            if self.squares is not None:
                self.squares.add(None, part * part)

    def summary(self) -> NumericSummary:
        at_cuts = self.counts[1::2].tolist()
        units = _cut_units(self.reference)
        cell_sums = self.gaps.totals()
        for index, count in enumerate(at_cuts):
            if count:
                cell_sums[index] -= count * units[index]
        return NumericSummary(
            name=self.reference.name,
            reference=feature_fingerprint(self.reference),
            missing_column=self.missing_column,
            errors=tuple(sorted(self.errors)),
            n=int(self.counts.sum()),
            missing=self.missing,
            minimum=self.minimum,
            maximum=self.maximum,
            counts=tuple(self.counts.tolist()),
            cell_sums=tuple(cell_sums),
            sum_values=sum(cell_sums) + sum(count * unit for count, unit in zip(at_cuts, units, strict=True) if count),
            sum_squares=float("inf") if self.squares is None else self.squares.totals()[0],
        )


class _CategoricalCounter:
    """Running counts of one categorical feature's listed categories, the rest, and missing values."""

    def __init__(self, reference: CategoricalProfile) -> None:
        self.reference = reference
        self.missing_column = False
        self.counts = np.zeros(len(reference.categories), dtype=np.int64)
        self.other = 0
        self.missing = 0

    def add(self, frame: pd.DataFrame) -> None:
        if self.reference.name not in frame.columns:
            self.missing_column, self.missing = True, self.missing + len(frame)
            return
        counts, missing = category_counts(frame, self.reference.name)
        listed = [counts.get(category, 0) for category in self.reference.categories]
        self.counts += np.asarray(listed, dtype=np.int64)
        self.other += sum(counts.values()) - sum(listed)
        self.missing += missing

    def summary(self) -> CategoricalSummary:
        return CategoricalSummary(
            name=self.reference.name,
            reference=feature_fingerprint(self.reference),
            missing_column=self.missing_column,
            errors=(),
            counts=tuple(self.counts.tolist()),
            other=self.other,
            missing=self.missing,
        )


@functools.lru_cache(maxsize=256)
def _cut_units(reference: NumericProfile) -> list[int]:
    """The profile's cut points as exact integers (units of 2^-1126)."""
    return [exact_units(cut) for cut in reference.cuts.values.tolist()]


def summarize_parquet(
    profile: ReferenceProfile, path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> BatchSummary:
    """The summary of a Parquet file, or of a dataset folder of part files, read `chunk_rows` rows at a time.

    Equal to `summarize(profile, pd.read_parquet(path))` (or, for a folder, of
    the frame landing.py reads from it): the same columns and, for an integer
    column of a categorical feature, floats in every chunk if the column has a
    null anywhere (pandas reads the whole column so, and "1.0" is not "1").
    Arrow reads one batch ahead, on this thread, without pre-buffering: with
    Parquet's default pre-buffering (meant for object stores) it holds every
    row group's column chunks of a file at once, and its threaded scanner reads
    ahead of the consumer; either made memory grow with the file.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive number of rows, got {chunk_rows!r}")
    dataset = open_dataset(Path(path))
    scan = scan_options(chunk_rows)
    try:
        columns = [name for name in profile.features if name in dataset.schema.names]
        as_float = _integer_categories_with_nulls(dataset, profile, columns, scan)
        summarizer = _Summarizer(profile)
        # The empty frame records, for a batch of no rows too, which columns are missing or not numeric.
        summarizer.add(_to_frame(dataset.schema.empty_table().select(columns), as_float))
        for batch in record_batches(Path(path), dataset, columns, chunk_rows):
            summarizer.add(_to_frame(batch, as_float))
    except (OSError, ValueError, TypeError) as error:  # pyarrow's errors for damaged files derive from these
        raise ValueError(f"Parquet data {path} cannot be read ({error})") from error
    return summarizer.summary()


def record_batches(path: Path, dataset: Any, columns: list[str] | None, chunk_rows: int) -> Iterator[Any]:
    """Arrow record batches of at most `chunk_rows` rows of `columns` (None: all) of `dataset`, opened at `path`.

    A single file is read row group by row group, on this thread and without pre-buffering: memory is
    bounded by one row group. Arrow's dataset scanner, even with read-ahead 1, held more as the file grew
    (measured on 1M-row row groups: 373 MB at 1M rows, 534 MB at 3M); it still reads dataset folders.
    """
    if not path.is_dir():
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path, pre_buffer=False)
        return parquet.iter_batches(batch_size=chunk_rows, columns=columns, use_threads=False)
    return dataset.to_batches(columns=columns, **scan_options(chunk_rows))


def scan_options(chunk_rows: int) -> dict[str, Any]:
    """`Dataset.to_batches` options that read at most `chunk_rows` rows at a time, one batch ahead.

    Without pre-buffering and on this thread: see `summarize_parquet` for why memory grew otherwise.
    """
    import pyarrow.dataset as ds

    return {
        "batch_size": chunk_rows,
        "batch_readahead": 1,
        "fragment_readahead": 1,
        "use_threads": False,
        "fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False),
    }


def _to_frame(batch: Any, as_float: Iterable[str]) -> pd.DataFrame:
    import pyarrow as pa

    for name in as_float:
        index = batch.schema.get_field_index(name)
        batch = batch.set_column(index, name, batch.column(index).cast(pa.float64(), safe=False))
    return batch.to_pandas()


def _integer_categories_with_nulls(
    dataset: Any, profile: ReferenceProfile, columns: list[str], scan: dict[str, Any]
) -> list[str]:
    """Categorical features stored as integers with a null somewhere: pandas reads the whole column as floats."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    return [
        name
        for name in columns
        if name in profile.categorical
        and pa.types.is_integer(dataset.schema.field(name).type)
        and dataset.count_rows(filter=ds.field(name).is_null(), **scan) > 0
    ]


def open_dataset(path: Path) -> Any:
    """A Parquet file, or a folder of part files read as landing.py reads one (schemas unified, hive columns)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if not path.exists():
        raise FileNotFoundError(f"no Parquet file or dataset folder at {path}")
    if not path.is_dir():
        try:
            return ds.dataset(str(path), format="parquet")
        except (OSError, ValueError) as error:
            raise ValueError(f"{path} is not a readable Parquet file ({error})") from error
    parts = part_files(path)
    if not parts:
        raise ValueError(f"dataset folder {path} holds no part files (*.parquet)")
    try:
        schemas = [pq.read_schema(part) for part in parts]
        options = {"format": "parquet", "partitioning": "hive", "partition_base_dir": str(path)}
        found = ds.dataset([str(part) for part in parts], **options)
        schema = pa.unify_schemas([*schemas, found.schema], promote_options="permissive")
        return ds.dataset([str(part) for part in parts], schema=schema, **options)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"the part files of dataset folder {path} cannot be read together ({error})") from error


def _add_exact(a: int | float, b: int | float) -> int | float:
    if isinstance(a, float) or isinstance(b, float):  # an overflowed sum of squares stays +inf
        return float("inf")
    return a + b


def _exact_text(total: int | float) -> str:
    """An exact sum as `<hex integer>p<binary exponent>` (like float.hex, without the point), or 'inf'."""
    if isinstance(total, float):
        return "inf"
    if total == 0:
        return "0"
    zeros = (total & -total).bit_length() - 1
    return f"{hex(total >> zeros)}p{zeros - UNIT_BITS}"


def _exact_from_text(text: str) -> int | float:
    if text == "inf":
        return float("inf")
    if text == "0":
        return 0
    mantissa, _, exponent = text.partition("p")
    shift = int(exponent) + UNIT_BITS
    if shift < 0:
        raise ValueError(f"exact sum {text!r} is finer than 2^-{UNIT_BITS}: not a sum of float64 values")
    return int(mantissa, 16) << shift


def _added(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple((np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)).tolist())


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return pick(a, b)


def _merged_errors(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a if a == b else tuple(sorted({*a, *b}))


def _check_same_reference(a: NumericSummary | CategoricalSummary, b: NumericSummary | CategoricalSummary) -> None:
    if type(a) is not type(b) or a.name != b.name:
        raise SummaryMismatchError(f"cannot merge the summary of feature {a.name!r} with that of {b.name!r}")
    if a.reference != b.reference:
        raise SummaryMismatchError(
            f"cannot merge summaries of feature {a.name!r} made against different reference profiles "
            f"(fingerprints {a.reference} and {b.reference}); summarize both batches with the same profile"
        )


def _check_same_features(kind: str, a: Mapping[str, Any], b: Mapping[str, Any], other: str = "the other") -> None:
    if list(a) == list(b):
        return
    only_a, only_b = [name for name in a if name not in b], [name for name in b if name not in a]
    if not only_a and not only_b:
        raise SummaryMismatchError(f"{kind} features in a different order: {list(a)} and {list(b)} in {other}")
    raise SummaryMismatchError(
        f"summaries of different {kind} features: {only_a or 'none'} only in this summary, "
        f"{only_b or 'none'} only in {other}; summarize with the same profile"
    )


def _plain(item: NumericSummary | CategoricalSummary) -> dict[str, Any]:
    return {f.name: list(v) if isinstance(v := getattr(item, f.name), tuple) else v for f in fields(item)}


def _tupled(data: Mapping[str, Any], cls: type) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    missing = names - set(data)
    if missing:
        raise ValueError(f"summary of feature {data.get('name')!r} lacks {sorted(missing)}")
    return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items() if key in names}
