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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
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

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists, numbers, strings); `json.dumps` takes it as is."""
        return {
            "format": PROFILE_FORMAT,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "sample_size": self.sample_size,
            "max_categories": self.max_categories,
            "seed": self.seed,
            "numeric": [_listed(asdict(p)) for p in self.numeric.values()],
            "categorical": [_listed(asdict(p)) for p in self.categorical.values()],
        }

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
        )


def _listed(item: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in item.items()}


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
) -> ReferenceProfile:
    """Profile `frame` (the training set) for drift measurement.

    Raises DriftInputError naming the column when a feature is missing, a
    numeric feature is not numeric, or a feature has no non-missing value.
    """
    frame = require_frame(frame, "the reference frame")
    _check_arguments(frame, numeric, categorical, sample_size, bins, max_categories)
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


def _check_arguments(
    frame: pd.DataFrame,
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
    missing = [name for name in (*numeric, *categorical) if name not in frame.columns]
    if missing:
        raise DriftInputError(f"reference frame lacks feature columns {missing}; it has {list(frame.columns)}")


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
    if not counts:
        raise DriftInputError(
            f"column {name!r} has no non-missing values in the reference ({len(frame)} rows); "
            "drop it from the categorical features or fix the training data"
        )
    if OTHER_CATEGORY in counts:
        raise DriftInputError(f"column {name!r} uses the reserved category {OTHER_CATEGORY!r}; rename that value")
    # Ties broken by name, so the same data always gives the same profile.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = ranked[:max_categories]
    return CategoricalProfile(
        name=name,
        n_rows=len(frame),
        missing=missing,
        categories=tuple(category for category, _ in kept),
        counts=tuple(count for _, count in kept),
        other=sum(count for _, count in ranked[max_categories:]),
    )
