"""Drift statistics on binned counts and sorted arrays, vectorized with numpy.

Each function is the textbook definition, written so that it agrees with scipy
on the same inputs (the tests hold it to that):

* `psi` - Population Stability Index, sum((a - e) * ln(a / e)) over bins, where
  e and a are the reference's and the batch's shares of each bin. An empty bin
  on either side gets the share `PSI_EPSILON` = 1e-4 instead of 0 (no
  renormalisation), so the log stays finite and one empty bin adds a bounded,
  visible amount rather than infinity.
* `js_distance` - Jensen-Shannon distance with base-2 logarithms, so it lies in
  [0, 1]; equals `scipy.spatial.distance.jensenshannon(p, q, base=2)`.
* `ks_two_sample` - two-sample Kolmogorov-Smirnov statistic and two-sided
  p-value; equals `scipy.stats.ks_2samp(x, y)` (method "auto": exact p-values
  up to 10,000 values per side, Smirnov's asymptotic distribution beyond).
  For two given samples only: drift results never call it (see below).
* `ks_pvalue_asymptotic` - the two-sided KS p-value from the limiting
  Kolmogorov distribution, P(K > sqrt(n1 n2 / (n1 + n2)) D): O(1), where
  scipy's exact and finite-n ("asymp") p-values cost milliseconds to seconds per
  call (`kstwo.sf` takes ~0.5 s at 100,000 effective values). It is never below
  `scipy.stats.kstwo.sf(D, round(n1 n2 / (n1 + n2)))`, scipy's own asymptotic
  p-value, and within 10% of it for p >= 1e-6 once n1 n2 / (n1 + n2) >= 1,000
  (4% from 3,000; tested), i.e. slightly conservative. Drift results use it with the full
  reference's size (measure.py).
* `category_shift` - Cohen's h of each category's share, |2 asin sqrt(a) -
  2 asin sqrt(e)|, with Anscombe's (1948) 3/8 continuity offsets (share =
  (count + 3/8) / (n + 3/4)) so that a rare category that is absent from a
  small batch by chance is not a large effect (see policy.py for the numbers).
* `wasserstein` - 1-Wasserstein (earth mover's) distance divided by a scale,
  with the batch's values placed at their cell means (see `wasserstein_binned`
  for the exact scipy equivalent and the bound on the difference);
  `wasserstein_sorted` is the exact distance of two sorted arrays.
* `chi_square` - chi-square test of homogeneity of two count vectors; equals
  `scipy.stats.chi2_contingency([ref, batch], correction=False)` after dropping
  categories empty on both sides. Yates' correction is never applied: it only
  matters for two categories and small counts.
* `adjust_p_values` - Bonferroni or Benjamini-Hochberg adjustment for testing
  many features at once.

The `_binned` variants take the batch already placed among the profile's cut
points (see binning.py), so one O(n) pass over a batch column serves every
statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from asset_platform.drift.binning import BinnedBatch, Cuts, bin_batch, standardize

PSI_EPSILON = 1e-4


def _stats():
    """scipy.stats, imported on first use: it takes ~0.5 s, which the code location should not pay at load."""
    from scipy import stats

    return stats


# scipy.stats.ks_2samp computes exact p-values up to this many values per side
# and the asymptotic Smirnov distribution beyond; we follow the same switch.
_KS_EXACT_MAX_N = 10_000


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(len(counts))


def psi(reference_counts: Sequence[float], batch_counts: Sequence[float], epsilon: float = PSI_EPSILON) -> float:
    """Population Stability Index of two count vectors over the same bins.

    PSI = sum over bins of (a - e) * ln(a / e), with e, a the reference's and the
    batch's shares and empty bins set to `epsilon` (1e-4). In drift results the
    bins are the profile's: for numeric features the reference's quantile bins
    (10 by default: edges at the 10%, ..., 90% quantiles, duplicates merged for
    discrete features, outer bins open-ended), for categorical features the
    listed categories plus "other".
    """
    expected = shares(np.asarray(reference_counts, dtype=np.float64))
    actual = shares(np.asarray(batch_counts, dtype=np.float64))
    expected = np.where(expected == 0, epsilon, expected)
    actual = np.where(actual == 0, epsilon, actual)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def js_distance(reference_counts: Sequence[float], batch_counts: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors over the same bins."""
    p = shares(np.asarray(reference_counts, dtype=np.float64))
    q = shares(np.asarray(batch_counts, dtype=np.float64))
    m = (p + q) / 2
    divergence = (_kl_to_mixture(p, m) + _kl_to_mixture(q, m)) / 2
    # Rounding can leave -1e-17 for identical inputs; sqrt of that is NaN.
    return float(np.sqrt(max(divergence, 0.0)))


def _kl_to_mixture(p: np.ndarray, m: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log2(p[present] / m[present])))


def ks_two_sample(sample: np.ndarray, batch: np.ndarray) -> tuple[float, float]:
    """KS statistic and two-sided p-value of two non-empty samples of finite values."""
    sample_sorted = np.sort(np.asarray(sample, dtype=np.float64))
    binned = bin_batch(Cuts(sample_sorted), np.asarray(batch, dtype=np.float64), 0.0, 1.0)
    return ks_binned(sample_sorted, binned)


def ks_statistic_binned(sample_sorted: np.ndarray, batch: BinnedBatch) -> float:
    """KS statistic of a sorted sample against a batch binned at (at least) its values.

    Between two sample values the sample's ECDF is flat and the batch's is
    monotone, so the supremum is reached at an end of the interval: the batch's
    ECDF is only needed just below and at each sample value.
    """
    m, n = len(sample_sorted), batch.n
    values, first = np.unique(sample_sorted, return_index=True)
    positions = batch.cuts.index(values)
    sample_below = first / m
    sample_upto = np.append(first[1:], m) / m
    batch_below = batch.count_below(positions) / n
    batch_upto = batch.count_upto(positions) / n
    return float(max(np.abs(sample_below - batch_below).max(), np.abs(sample_upto - batch_upto).max()))


def ks_binned(sample_sorted: np.ndarray, batch: BinnedBatch) -> tuple[float, float]:
    """`ks_statistic_binned` and scipy's p-value for that sample and batch (exact for small sizes).

    The exact p-value costs far more than the statistic (scipy's exact
    distribution is quadratic in the sizes); drift results do not use it.
    """
    m, n = len(sample_sorted), batch.n
    statistic = ks_statistic_binned(sample_sorted, batch)
    if max(m, n) <= _KS_EXACT_MAX_N:
        # Small enough for scipy's exact distribution; reuse it rather than copy it.
        return statistic, float(_stats().ks_2samp(sample_sorted, batch.values).pvalue)
    big, small = max(m, n), min(m, n)
    effective_n = np.round(big * small / (big + small))
    return statistic, float(np.clip(_stats().kstwo.sf(statistic, effective_n), 0.0, 1.0))


def ks_pvalue_asymptotic(statistic: float, n1: int, n2: int) -> float:
    """Two-sided KS p-value of `statistic` for samples of `n1` and `n2` values, from Kolmogorov's limit.

    P(K > sqrt(en) D) with en = n1 n2 / (n1 + n2), the limit scipy's "asymp"
    mode approaches; for finite sizes it is slightly larger than scipy's
    finite-n value (conservative). O(1): `scipy.special.kolmogorov`.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    from scipy.special import kolmogorov

    effective = n1 * n2 / (n1 + n2)
    return float(np.clip(kolmogorov(np.sqrt(effective) * max(statistic, 0.0)), 0.0, 1.0))


ANSCOMBE_OFFSET = 3 / 8


def category_shift(reference_counts: Sequence[float], batch_counts: Sequence[float]) -> np.ndarray:
    """Cohen's h of each category between the reference and the batch (same categories, same order).

    h = |2 asin sqrt(a) - 2 asin sqrt(e)|, e and a the reference's and the
    batch's shares with Anscombe's offsets, (count + 3/8) / (total + 3/4). The
    arcsine makes h's sampling noise about sqrt(1/n_batch + 1/n_reference)
    whatever the share, so one threshold fits common and rare categories; the
    offsets keep that true near 0, where a small batch can miss a rare category
    by chance. An empty side (total 0) gives zeros: nothing to compare.
    """
    reference = np.asarray(reference_counts, dtype=np.float64)
    batch = np.asarray(batch_counts, dtype=np.float64)
    if reference.sum() <= 0 or batch.sum() <= 0:
        return np.zeros(len(reference))
    return np.abs(_arcsine(batch) - _arcsine(reference))


def _arcsine(counts: np.ndarray) -> np.ndarray:
    smoothed = (counts + ANSCOMBE_OFFSET) / (counts.sum() + 2 * ANSCOMBE_OFFSET)
    return 2 * np.arcsin(np.sqrt(smoothed))


def wasserstein(sample: np.ndarray, batch: np.ndarray, center: float = 0.0, scale: float = 1.0) -> float:
    """`wasserstein_binned` of a sample and a batch (non-empty, finite), cut at the sample's values."""
    sample_sorted = np.sort(np.asarray(sample, dtype=np.float64))
    binned = bin_batch(Cuts(sample_sorted), np.asarray(batch, dtype=np.float64), center, scale)
    return wasserstein_binned(sample_sorted, binned, center, scale)


def wasserstein_binned(sample_sorted: np.ndarray, batch: BinnedBatch, center: float, scale: float) -> float:
    """1-Wasserstein distance / `scale` between the sample and the batch with each cell's values at their mean.

    Between two cut points the sample's ECDF is flat, and the integral of
    |F_sample - F_batch| over a cell depends on the batch values inside it only
    through their count and sum, unless the two ECDFs cross inside the cell.
    Placing each cell's batch values at their mean makes every cell exact from
    count and sum, so this equals `scipy.stats.wasserstein_distance(sample,
    cell_means, v_weights=cell_counts) / scale`. It differs from the distance to
    the raw batch by at most W(batch, cell means), the mean distance of a batch
    value from its cell's mean (a small fraction of a cell's width; tested).
    """
    cuts = standardize(batch.cuts.values, center, scale)
    n = batch.n
    level = np.searchsorted(sample_sorted, batch.cuts.values, side="right") / len(sample_sorted)
    upto = batch.count_upto(np.arange(len(cuts))) / n
    below_all = batch.counts[0] * cuts[0] - batch.sums[0]
    above_all = batch.sums[-1] - batch.counts[-1] * cuts[-1]
    count, total = batch.counts[2:-1:2], batch.sums[2:-1:2]
    left, right = cuts[:-1], cuts[1:]
    # An empty cell's "mean" at its right end makes its second term vanish.
    mean = np.clip(np.divide(total, count, out=right.copy(), where=count > 0), left, right)
    before = np.abs(level[:-1] - upto[:-1]) * (mean - left)
    after = np.abs(level[:-1] - upto[:-1] - count / n) * (right - mean)
    return float((below_all + above_all) / n + before.sum() + after.sum())


def wasserstein_sorted(sample_sorted: np.ndarray, batch_sorted: np.ndarray) -> float:
    """Exact 1-Wasserstein distance of two sorted, non-empty arrays (O(n) after sorting).

    Uses W1 = integral over p of |Q_sample(p) - Q_batch(p)|: the sample's quantile
    function is constant on each block of mass 1/m, the batch's is sorted inside
    it, so it crosses the sample value once and each side integrates from prefix
    sums of the batch. Used where the sorted reference is at hand (profile build).
    """
    m, n = len(sample_sorted), len(batch_sorted)
    center = float(batch_sorted[n // 2])  # prefix sums of centered values lose less precision
    sample, batch = sample_sorted - center, batch_sorted - center
    prefix = np.concatenate(([0.0], np.cumsum(batch)))
    block = np.arange(m + 1) * n / m  # block edges in units of batch rank
    lower, upper = block[:-1], block[1:]
    split = np.clip(np.searchsorted(batch, sample, side="left"), lower, upper)
    at_lower, at_split, at_upper = (_mass_below(prefix, batch, rank) for rank in (lower, split, upper))
    left = sample * (split - lower) - (at_split - at_lower)
    right = (at_upper - at_split) - sample * (upper - split)
    return float(np.sum(left + right) / n)


def _mass_below(prefix: np.ndarray, batch: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Sum of the batch's lowest `rank` units of mass (rank may be fractional)."""
    whole = np.floor(rank).astype(np.int64)
    partial = batch[np.minimum(whole, len(batch) - 1)] * (rank - whole)
    return prefix[whole] + partial


def chi_square(reference_counts: Sequence[float], batch_counts: Sequence[float]) -> tuple[float, float]:
    """Chi-square homogeneity statistic and p-value of two count vectors.

    Categories that are empty on both sides carry no information and would make
    an expected count zero, so they are dropped. With fewer than two categories
    left there is nothing to compare: statistic 0, p-value 1.
    """
    table = np.vstack([reference_counts, batch_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    from scipy.special import chdtrc  # = scipy.stats.chi2.sf, without the distribution machinery

    return statistic, float(chdtrc(table.shape[1] - 1, statistic))


def adjust_p_values(p_values: Sequence[float], method: Literal["bh", "bonferroni"] = "bh") -> np.ndarray:
    """p-values adjusted for testing len(p_values) features at once.

    "bonferroni" multiplies by the number of tests (controls the chance of any
    false alarm); "bh" is Benjamini-Hochberg (controls the expected share of
    false alarms among flagged features; equals scipy.stats.false_discovery_control).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    if method != "bh":
        raise ValueError(f"unknown p-value correction {method!r}; use 'bh' or 'bonferroni'")
    order = np.argsort(p)
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty_like(p)
    result[order] = np.minimum(adjusted, 1.0)
    return result
