"""Locate a large batch among a reference's few cut points in O(n), without sorting it.

Every numeric statistic needs only where each batch value falls among the
profile's cut points (its sample values, bin edges, min and max): the batch's
ECDF at those points gives KS, PSI and the out-of-range share, and per-cell
counts and sums give most of the Wasserstein integral. Sorting a million values
costs far more than that, and so does `np.searchsorted` with a million unsorted
needles (a branchy binary search per value).

So the cut points get a uniform lookup grid: a value's grid cell says how many
cut points lie in earlier cells, and a few vectorized compare-and-add steps
settle the rest. When a grid cell would hold more than `_MAX_STEPS` cut points
(extremely heavy tails), binary search is used instead; results are identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_GRID_PER_CUT = 32
_MAX_STEPS = 6
# Values are standardized for the Wasserstein sums; beyond 1e15 standard
# deviations a value is absurd anyway, and capping keeps the sums finite.
STANDARD_CAP = 1e15


class Cuts:
    """Sorted unique cut points with a lookup grid for fast ranking."""

    def __init__(self, points: np.ndarray) -> None:
        self.values = np.unique(np.asarray(points, dtype=np.float64))
        if self.values.size == 0 or not np.isfinite(self.values).all():
            raise ValueError("cut points must be finite and non-empty")
        # Index r - 1 of this array is the largest cut <= v; NaN at 0 never equals a value.
        self._below = np.concatenate(([np.nan], self.values))
        self._above = np.append(self.values, np.inf)
        self._grid = self._make_grid()

    def __len__(self) -> int:
        return int(self.values.size)

    def _make_grid(self) -> tuple[float, float, int, np.ndarray, int] | None:
        low, high = float(self.values[0]), float(self.values[-1])
        cells = _GRID_PER_CUT * self.values.size
        scale = cells / (high - low) if high > low else np.inf
        if not np.isfinite(scale):
            return None
        per_cell = np.bincount(self._cell(self.values, low, scale, cells), minlength=cells)
        steps = int(per_cell.max())
        if steps > _MAX_STEPS:
            return None
        # Cut points in earlier cells: the same as a left binary search of each cell index
        # among the (sorted) cells of the cuts, without the binary searches.
        table = np.zeros(cells, dtype=np.intp)
        np.cumsum(per_cell[:-1], out=table[1:])
        return low, scale, cells, table, steps

    @staticmethod
    def _cell(values: np.ndarray, low: float, scale: float, cells: int) -> np.ndarray:
        # Cuts and batch values go through these same float operations, so the
        # cell index is monotone in the value and consistent between the two.
        # Far-out values overflow to +/-inf here, which the clip maps to the end cells.
        with np.errstate(over="ignore"):
            position = values - low
            position *= scale
        np.clip(position, 0, cells - 1, out=position)
        return position.astype(np.intp)

    def rank(self, values: np.ndarray) -> np.ndarray:
        """For each value, how many cut points are <= it."""
        if self._grid is None:
            return np.searchsorted(self.values, values, side="right")
        low, scale, cells, table, steps = self._grid
        rank = table[self._cell(values, low, scale, cells)]
        for _ in range(steps):
            rank += self._above[rank] <= values
        return rank

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Cell code per value: 2k + 1 if it equals cut k, 2k if it lies strictly between cuts k - 1 and k."""
        rank = self.rank(values)
        equal = self._below[rank] == values
        codes = rank * 2
        codes -= equal
        return codes

    def index(self, points: np.ndarray) -> np.ndarray:
        """Positions of points that are cut points."""
        return np.searchsorted(self.values, points)


@dataclass(frozen=True)
class BinnedBatch:
    """A batch placed among cut points: counts and standardized sums per cell code.

    `values` is None when the batch is known by its counts only (a batch summary,
    summary.py); every statistic but scipy's exact KS p-value (`ks_binned`) needs no more.
    """

    cuts: Cuts
    values: np.ndarray | None
    counts: np.ndarray
    cumulative: np.ndarray
    sums: np.ndarray

    @property
    def n(self) -> int:
        return int(self.cumulative[-1])

    @classmethod
    def from_counts(cls, cuts: Cuts, counts: np.ndarray, sums: np.ndarray) -> BinnedBatch:
        """A batch known by its counts and standardized sums per cell code only."""
        counts = np.asarray(counts, dtype=np.int64)
        return cls(cuts=cuts, values=None, counts=counts, cumulative=np.cumsum(counts), sums=sums)

    def count_below(self, positions: np.ndarray) -> np.ndarray:
        """Batch values strictly below the cut points at `positions`."""
        return self.cumulative[2 * positions]

    def count_upto(self, positions: np.ndarray) -> np.ndarray:
        """Batch values at or below the cut points at `positions`."""
        return self.cumulative[2 * positions + 1]


def standardize(values: np.ndarray, center: float, scale: float) -> np.ndarray:
    with np.errstate(over="ignore"):  # overflow to inf is capped just below
        result = values - center
        result /= scale
    return np.clip(result, -STANDARD_CAP, STANDARD_CAP, out=result)


def bin_batch(cuts: Cuts, values: np.ndarray, center: float, scale: float) -> BinnedBatch:
    """Place finite `values` among `cuts`; `center`/`scale` standardize the Wasserstein sums."""
    codes = cuts.codes(values)
    standardized = standardize(values, center, scale)
    slots = 2 * len(cuts) + 1
    counts = np.bincount(codes, minlength=slots)
    return BinnedBatch(
        cuts=cuts,
        values=values,
        counts=counts,
        cumulative=np.cumsum(counts),
        sums=np.bincount(codes, weights=standardized, minlength=slots),
    )
