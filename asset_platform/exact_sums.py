"""Exact sums of float64 values, in bounded memory and independent of how the values were cut into pieces.

A float accumulator's result depends, in its last bits, on the order and the
grouping of what it added: two chunkings of one batch would give two sums. Here
every float64 is read as a whole number of units 2^-1126 (np.frexp writes it as
m * 2^e with |m| < 1 and e >= -1073, i.e. (m * 2^53) * 2^(e - 53)), so sums are
Python integers: adding them is associative and commutative, and a sum reads
back (`exact_float`) as the correctly rounded float of the true sum.
"""

from __future__ import annotations

import numpy as np

UNIT_BITS = 1126
_FREXP_MIN_EXPONENT = -1073
# Values are added this many at a time, so that temporaries stay small and in cache.
SLICE_ROWS = 65_536


class ExactSums:
    """Exact sums of float64 values per key in [0, slots); `totals()` in units of 2^-1126.

    Each value is m * 2^(e - 53) with m a whole number below 2^53 (np.frexp).
    Values are grouped by (key, e), and m is cut at bit 31 into two pieces that
    `np.bincount` adds exactly in float64 as long as a group holds fewer than
    2^21 values (a piece sum stays below 2^52). The float accumulators are
    folded into Python integers every 2^21 values and at the end, once per
    occupied (key, e) group, never per value. Values go in slices of 65,536:
    temporaries that small stay in cache (several times faster than
    whole-column arrays, whose pages the kernel must first hand out).
    """

    _WIDTH = 31
    _FOLD_EVERY = 1 << 21

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.folded = [0] * slots
        self.pending = 0
        self.low = 0
        self.sums = [np.zeros((slots, 0)), np.zeros((slots, 0))]

    def add(self, keys: np.ndarray | None, values: np.ndarray) -> None:
        """Add finite `values`, the one at i under key `keys[i]` (all under key 0 if `keys` is None)."""
        for start in range(0, values.size, SLICE_ROWS):
            part = slice(start, start + SLICE_ROWS)
            if self.pending + values[part].size > self._FOLD_EVERY:
                self._fold()
            self.pending += values[part].size
            self._add_slice(None if keys is None else keys[part], values[part])

    def _add_slice(self, keys: np.ndarray | None, values: np.ndarray) -> None:
        whole, exponent = np.frexp(values)
        whole *= 2.0**53
        low, high = int(exponent.min()), int(exponent.max())
        span = high - low + 1
        self._cover(low, high)
        exponent -= low
        groups = exponent.astype(np.intp)
        if keys is not None:
            groups += keys.astype(np.intp, copy=False) * span
        present = None
        if self.slots * span > 4 * values.size + 65_536:  # magnitudes spread very widely: number those present
            present, groups = np.unique(groups, return_inverse=True)
        bins = self.slots * span if present is None else present.size
        top = np.multiply(whole, 2.0**-self._WIDTH)
        np.floor(top, out=top)  # whole = top * 2^31 + rest exactly, 0 <= rest < 2^31, |top| <= 2^22
        high_sums = np.bincount(groups, weights=top, minlength=bins)
        top *= 2.0**self._WIDTH
        whole -= top
        low_sums = np.bincount(groups, weights=whole, minlength=bins)
        for accumulator, sums in zip(self.sums, (low_sums, high_sums), strict=True):
            if present is None:
                accumulator[:, low - self.low : high - self.low + 1] += sums.reshape(self.slots, span)
            else:
                np.add.at(accumulator, (present // span, present % span + low - self.low), sums)

    def _cover(self, low: int, high: int) -> None:
        """Widen the accumulators to exponents [low, high]."""
        have = self.sums[0].shape[1]
        if have and self.low <= low and high < self.low + have:
            return
        new_low = min(low, self.low) if have else low
        new_high = max(high, self.low + have - 1) if have else high
        for index, old in enumerate(self.sums):
            wider = np.zeros((self.slots, new_high - new_low + 1))
            wider[:, self.low - new_low : self.low - new_low + have] = old
            self.sums[index] = wider
        self.low = new_low

    def _fold(self) -> None:
        """Move the float accumulators into the Python integers."""
        span = self.sums[0].shape[1]
        low_sums, high_sums = (sums.ravel() for sums in self.sums)
        occupied = np.flatnonzero((low_sums != 0) | (high_sums != 0))
        shifts = occupied % span + (self.low - _FREXP_MIN_EXPONENT)
        parts = (low_sums[occupied].astype(np.int64).tolist(), high_sums[occupied].astype(np.int64).tolist())
        for slot, shift, low, high in zip((occupied // span).tolist(), shifts.tolist(), *parts, strict=True):
            self.folded[slot] += (low + (high << self._WIDTH)) << shift
        for sums in self.sums:
            sums.fill(0.0)
        self.pending = 0

    def totals(self) -> list[int]:
        self._fold()
        return list(self.folded)


def exact_sums(keys: np.ndarray | None, values: np.ndarray, slots: int) -> list[int]:
    """Per key in [0, slots), the exact sum of the finite `values` with that key, in units of 2^-1126."""
    sums = ExactSums(slots)
    sums.add(keys, values)
    return sums.totals()


def exact_units(value: float) -> int:
    """A finite float as a whole number of units 2^-1126 (exactly)."""
    numerator, denominator = float(value).as_integer_ratio()
    return numerator << (UNIT_BITS - denominator.bit_length() + 1)


def exact_float(total: int | float) -> float:
    """The correctly rounded float of an exact sum (Python's int division rounds correctly)."""
    if isinstance(total, float):
        return total
    try:
        return total / (1 << UNIT_BITS)
    except OverflowError:
        return float("inf") if total > 0 else float("-inf")
