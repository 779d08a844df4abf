"""The reference profile: a compact, JSON-ready summary of the training data.

Drift is measured against this profile, not against the training rows, so its
size is fixed by its parameters and does not grow with the number of rows:

* numeric feature: `bins` quantile bins (interior edges at the reference's
  1/bins, 2/bins, ... quantiles, deduplicated for discrete features; the outer
  bins are open-ended, so every batch value falls in some bin) with their counts;
  a stratified sample of `sample_size` reference values for KS and Wasserstein;
  mean, standard deviation, min, max and missing count.
* categorical feature: counts of the `max_categories` most frequent categories,
  the rest summed into one "other" bucket, and the missing count.

A prediction score is profiled like any numeric feature (e.g. "prediction").

The sample is stratified: the sorted reference is cut into `sample_size` runs of
equal size and one value is drawn (seeded) from each. The sample's ECDF is
therefore within 1/sample_size + 1/n_rows of the full reference's everywhere, so
a KS statistic against the sample is within that of the full-reference one
(measure.py subtracts that margin to get a conservative full-reference KS
p-value; the counts of the quantile bins are the full reference's). Its
Wasserstein distance to the full reference (`sample_error`, in feature units)
bounds, by the triangle inequality, how far any Wasserstein distance against the
sample can be from the full-reference one.

A reference of more than `sketch_rows` rows (default 2,000,000) is not sorted:
its cut points (edges and sample) are read off mergeable quantile sketches and
its values counted exactly into them, chunk by chunk (sketches.py, which also
says what `ks_bound` and `sample_ecdf_error` record). Up to `sketch_rows` rows
the profile is built as above, exactly as before those fields existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asset_platform.drift.binning import Cuts
from asset_platform.drift.columns import DriftInputError, category_counts, numeric_values, require_frame
from asset_platform.drift.statistics import wasserstein_sorted

PROFILE_FORMAT = "asset_platform.drift.profile/1"
DEFAULT_BINS = 10
DEFAULT_SAMPLE_SIZE = 1024
DEFAULT_MAX_CATEGORIES = 50
# Above this many rows the reference is profiled from sketches (sketches.py); DriftMonitor's
# `reference_sketch_rows` sets it per deployment.
DEFAULT_SKETCH_ROWS = 2_000_000
# Rows read at a time from a Parquet reference profiled from sketches.
DEFAULT_CHUNK_ROWS = 131_072
# Fields a profile built from sketches adds (sketches.py); absent from an exact profile's dict.
_SKETCH_FIELDS = ("ks_bound", "sample_ecdf_error")
OTHER_CATEGORY = "__other__"


@dataclass(frozen=True)
class NumericProfile:
    """Reference summary of one numeric feature; bins are [edges[i-1], edges[i])."""

    name: str
    n_rows: int
    missing: int
    mean: float
    std: float
    minimum: float
    maximum: float
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    sample: tuple[float, ...]
    sample_error: float
    # Set only when built from sketches (sketches.py): the largest share of the values strictly between two
    # adjacent cut points, and the measured sup |sample ECDF - reference ECDF|.
    ks_bound: float | None = None
    sample_ecdf_error: float | None = None

    @property
    def missing_rate(self) -> float:
        return self.missing / self.n_rows if self.n_rows else 0.0

    @property
    def scale(self) -> float:
        """What Wasserstein distances are divided by: the reference's standard deviation.

        A constant reference has no spread to normalise by; its distances stay
        in the feature's own units (scale 1).
        """
        return self.std if self.std > 0 else 1.0

    @cached_property
    def cuts(self) -> Cuts:
        """Every point a batch is compared at: sample values, bin edges, min and max."""
        return Cuts(np.concatenate((self.sample, self.edges, (self.minimum, self.maximum))))


@dataclass(frozen=True)
class CategoricalProfile:
    """Reference frequencies of one categorical feature, the tail summed as "other"."""

    name: str
    n_rows: int
    missing: int
    categories: tuple[str, ...]
    counts: tuple[int, ...]
    other: int

    @property
    def missing_rate(self) -> float:
        return self.missing / self.n_rows if self.n_rows else 0.0


@dataclass(frozen=True)
class ReferenceProfile:
    """Per-feature reference summaries plus the parameters they were built with."""

    n_rows: int
    numeric: Mapping[str, NumericProfile]
    categorical: Mapping[str, CategoricalProfile]
    bins: int
    sample_size: int
    max_categories: int
    seed: int
    # How the cut points were placed when the reference was profiled from sketches (sketches.py); None: sorted.
    sketch: Mapping[str, Any] | None = None

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def ks_bound(self) -> float | None:
        """The largest `ks_bound` of the numeric features (None for a profile of a sorted reference)."""
        bounds = [p.ks_bound for p in self.numeric.values() if p.ks_bound is not None]
        return max(bounds) if bounds else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists, numbers, strings); `json.dumps` takes it as is."""
        data = {
            "format": PROFILE_FORMAT,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "sample_size": self.sample_size,
            "max_categories": self.max_categories,
            "seed": self.seed,
            "numeric": [_listed(asdict(p)) for p in self.numeric.values()],
            "categorical": [_listed(asdict(p)) for p in self.categorical.values()],
        }
        if self.sketch is not None:
            data["sketch"] = dict(self.sketch)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        if data.get("format") != PROFILE_FORMAT:
            raise ValueError(
                f"not a reference profile of format {PROFILE_FORMAT!r} (got format {data.get('format')!r}); "
                "rebuild it with build_profile"
            )
        numeric = [NumericProfile(**_tupled(item)) for item in data["numeric"]]
        categorical = [CategoricalProfile(**_tupled(item)) for item in data["categorical"]]
        return cls(
            n_rows=int(data["n_rows"]),
            numeric={p.name: p for p in numeric},
            categorical={p.name: p for p in categorical},
            bins=int(data["bins"]),
            sample_size=int(data["sample_size"]),
            max_categories=int(data["max_categories"]),
            seed=int(data["seed"]),
            sketch=data.get("sketch"),
        )


def _listed(item: dict[str, Any]) -> dict[str, Any]:
    # An exact profile's dict is what it was before profiles could be built from sketches.
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in item.items()
        if not (key in _SKETCH_FIELDS and value is None)
    }


def _tupled(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in item.items()}


def build_profile(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    bins: int = DEFAULT_BINS,
    seed: int = 0,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    sketch_rows: int = DEFAULT_SKETCH_ROWS,
) -> ReferenceProfile:
    """Profile `frame` (the training set) for drift measurement.

    A frame of more than `sketch_rows` rows is profiled from sketches, in chunks
    (sketches.py), without sorting a copy of each column.

    Raises DriftInputError naming the column when a feature is missing, a
    numeric feature is not numeric, or a feature has no non-missing value.
    """
    from asset_platform.drift.sketches import check_sketch_rows, frame_chunks, sketched_profile

    frame = require_frame(frame, "the reference frame")
    _check_arguments(frame.columns, numeric, categorical, sample_size, bins, max_categories)
    sketch_rows = check_sketch_rows(sketch_rows)
    if len(frame) > sketch_rows:
        settings = {"sample_size": sample_size, "bins": bins, "seed": seed, "max_categories": max_categories}
        return sketched_profile(frame_chunks(frame), numeric, categorical, **settings, sketch_rows=sketch_rows)
    rng = np.random.default_rng(seed)
    return ReferenceProfile(
        n_rows=len(frame),
        numeric={name: _numeric_profile(frame, name, bins, sample_size, rng) for name in numeric},
        categorical={name: _categorical_profile(frame, name, max_categories) for name in categorical},
        bins=bins,
        sample_size=sample_size,
        max_categories=max_categories,
        seed=seed,
    )


def build_profile_parquet(
    path: str | Path,
    numeric: Sequence[str],
    categorical: Sequence[str],
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    bins: int = DEFAULT_BINS,
    seed: int = 0,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    sketch_rows: int = DEFAULT_SKETCH_ROWS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ReferenceProfile:
    """Profile the reference stored at `path` (a Parquet file or dataset folder of part files).

    Up to `sketch_rows` rows it is read whole and profiled as `build_profile` profiles a frame; above, it is
    read twice, `chunk_rows` rows at a time, and profiled from sketches: memory is bounded by a chunk.
    """
    from asset_platform.drift.chunks import row_count
    from asset_platform.drift.sketches import check_sketch_rows, parquet_chunks, sketched_profile
    from asset_platform.drift.summary import open_dataset

    path = Path(path)
    names = open_dataset(path).schema.names
    _check_arguments(names, numeric, categorical, sample_size, bins, max_categories)
    sketch_rows = check_sketch_rows(sketch_rows)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive number of rows, got {chunk_rows!r}")
    settings = {"sample_size": sample_size, "bins": bins, "seed": seed, "max_categories": max_categories}
    columns = [*numeric, *categorical]
    if row_count(path) <= sketch_rows:
        frame = next(iter(parquet_chunks(path, columns, categorical, max(row_count(path), 1))(columns)))
        return build_profile(frame, numeric, categorical, **settings, sketch_rows=sketch_rows)
    chunks = parquet_chunks(path, columns, categorical, chunk_rows)
    return sketched_profile(chunks, numeric, categorical, **settings, sketch_rows=sketch_rows)


def _check_arguments(
    columns: Sequence[str],
    numeric: Sequence[str],
    categorical: Sequence[str],
    sample_size: int,
    bins: int,
    max_categories: int,
) -> None:
    if isinstance(numeric, str) or isinstance(categorical, str):
        raise TypeError("numeric and categorical are lists of column names, not a single string")
    if bins < 2 or sample_size < 2 or max_categories < 1:
        raise ValueError(
            f"need bins >= 2, sample_size >= 2, max_categories >= 1; got {bins}, {sample_size}, {max_categories}"
        )
    both = set(numeric) & set(categorical)
    if both:
        raise ValueError(f"columns listed as both numeric and categorical: {sorted(both)}")
    missing = [name for name in (*numeric, *categorical) if name not in columns]
    if missing:
        raise DriftInputError(f"reference frame lacks feature columns {missing}; it has {list(columns)}")


def _numeric_profile(
    frame: pd.DataFrame, name: str, bins: int, sample_size: int, rng: np.random.Generator
) -> NumericProfile:
    values, missing = numeric_values(frame, name)
    if values.size == 0:
        raise DriftInputError(
            f"column {name!r} has no non-missing values in the reference ({len(frame)} rows); "
            "drop it from the numeric features or fix the training data"
        )
    ordered = np.sort(values)
    edges = np.unique(np.quantile(ordered, np.arange(1, bins) / bins))
    below_edge = np.searchsorted(ordered, edges, side="left")
    counts = np.diff(np.concatenate(([0], below_edge, [ordered.size])))
    sample = _stratified_sample(ordered, sample_size, rng)
    std, error = float(ordered.std()), wasserstein_sorted(sample, ordered)
    if not (np.isfinite(std) and np.isfinite(error)):
        raise DriftInputError(f"column {name!r} has values too large to summarise (std {std}); rescale it")
    return NumericProfile(
        name=name,
        n_rows=len(frame),
        missing=missing,
        mean=float(ordered.mean()),
        std=std,
        minimum=float(ordered[0]),
        maximum=float(ordered[-1]),
        edges=tuple(edges.tolist()),
        counts=tuple(counts.tolist()),
        sample=tuple(sample.tolist()),
        sample_error=error,
    )


def _stratified_sample(ordered: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if ordered.size <= size:
        return ordered
    starts = np.arange(size + 1) * ordered.size // size
    picks = starts[:-1] + (rng.random(size) * np.diff(starts)).astype(np.int64)
    return ordered[picks]


def _categorical_profile(frame: pd.DataFrame, name: str, max_categories: int) -> CategoricalProfile:
    counts, missing = category_counts(frame, name)
    return ranked_categories(name, len(frame), counts, missing, max_categories)


def ranked_categories(
    name: str, n_rows: int, counts: Mapping[str, int], missing: int, max_categories: int
) -> CategoricalProfile:
    """The profile of a categorical feature from its exact counts per category (of a frame, or added up)."""
    if not counts:
        raise DriftInputError(
            f"column {name!r} has no non-missing values in the reference ({n_rows} rows); "
            "drop it from the categorical features or fix the training data"
        )
    if OTHER_CATEGORY in counts:
        raise DriftInputError(f"column {name!r} uses the reserved category {OTHER_CATEGORY!r}; rename that value")
    # Ties broken by name, so the same data always gives the same profile.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = ranked[:max_categories]
    return CategoricalProfile(
        name=name,
        n_rows=n_rows,
        missing=missing,
        categories=tuple(category for category, _ in kept),
        counts=tuple(count for _, count in kept),
        other=sum(count for _, count in ranked[max_categories:]),
    )
