"""The statistics agree with scipy on the same inputs, and PSI with a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from asset_platform.drift import (
    PSI_EPSILON,
    adjust_p_values,
    chi_square,
    js_distance,
    ks_two_sample,
    psi,
    wasserstein,
    wasserstein_sorted,
)
from asset_platform.drift.binning import Cuts

# Tolerances: the statistics are the same arithmetic as scipy's, so only
# floating-point rounding separates them.
EXACT = 1e-12
ROUNDING = 1e-9


def test_psi_matches_hand_computation_with_epsilon_for_empty_bins() -> None:
    reference, batch = [50, 30, 20, 0], [40, 30, 20, 10]
    # e = .5 .3 .2 1e-4 (empty -> epsilon), a = .4 .3 .2 .1
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    assert PSI_EPSILON == 1e-4
    assert psi(reference, batch) == pytest.approx(expected, rel=EXACT)
    assert psi(reference, batch) == pytest.approx(0.7123991, abs=1e-7)


def test_psi_is_zero_for_identical_shares_and_symmetric() -> None:
    assert psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0, abs=EXACT)
    assert psi([10, 20, 30], [30, 20, 10]) == pytest.approx(psi([30, 20, 10], [10, 20, 30]), rel=EXACT)


@pytest.mark.parametrize(
    ("p", "q"),
    [([10, 20, 30, 0], [30, 20, 10, 5]), ([1, 0, 0], [0, 0, 1]), ([5, 5], [5, 5]), ([3, 1, 4, 1, 5], [9, 2, 6, 5, 3])],
)
def test_js_distance_matches_scipy_base_2(p: list[int], q: list[int]) -> None:
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=ROUNDING)
    assert 0.0 <= js_distance(p, q) <= 1.0


def _pairs(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (rng.normal(size=300), rng.normal(0.2, 1.3, size=2_000)),  # continuous, exact p-value
        (rng.integers(0, 6, 400).astype(float), rng.integers(0, 8, 3_000).astype(float)),  # ties
        (rng.pareto(1.0, 500), rng.pareto(1.2, 4_000)),  # heavy tail: binary-search fallback
        (rng.normal(size=1_024), rng.normal(0.01, 1, size=50_000)),  # asymptotic p-value
        (rng.lognormal(size=7), rng.lognormal(size=20_000)),
    ]


def test_ks_matches_scipy_statistic_and_p_value() -> None:
    for sample, batch in _pairs(np.random.default_rng(0)):
        ours = ks_two_sample(sample, batch)
        theirs = stats.ks_2samp(sample, batch)
        assert ours[0] == pytest.approx(theirs.statistic, abs=EXACT)
        assert ours[1] == pytest.approx(theirs.pvalue, abs=ROUNDING)


def _cell_means(sample: np.ndarray, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The batch with each value moved to the mean of its cell between sample values (independent code)."""
    cuts = np.unique(sample)
    cell = 2 * np.searchsorted(cuts, batch, side="right") - np.isin(batch, cuts)
    counts = np.bincount(cell)
    sums = np.bincount(cell, weights=batch)
    used = counts > 0
    return sums[used] / counts[used], counts[used]


def test_wasserstein_equals_scipy_on_the_binned_batch_and_is_within_the_stated_bound_of_the_raw_one() -> None:
    for sample, batch in _pairs(np.random.default_rng(1)):
        scale = float(sample.std()) or 1.0
        ours = wasserstein(sample, batch, center=float(sample.mean()), scale=scale)
        means, counts = _cell_means(sample, batch)
        binned = stats.wasserstein_distance(sample, means, v_weights=counts) / scale
        assert ours == pytest.approx(binned, rel=ROUNDING, abs=ROUNDING)
        # Stated bound: at most W(batch, batch at cell means).
        raw = stats.wasserstein_distance(sample, batch) / scale
        bound = stats.wasserstein_distance(batch, np.repeat(means, counts)) / scale
        assert abs(ours - raw) <= bound + ROUNDING


def test_wasserstein_on_a_profile_sized_sample_is_within_two_percent_of_the_raw_distance() -> None:
    rng = np.random.default_rng(2)
    sample = np.quantile(rng.normal(size=100_000), (np.arange(1_024) + 0.5) / 1_024)
    for shift in (0.0, 0.3, 2.0):
        batch = rng.normal(shift, 1.0, size=100_000)
        raw = stats.wasserstein_distance(sample, batch)
        assert wasserstein(sample, batch) == pytest.approx(raw, rel=0.02, abs=1e-3)


def test_wasserstein_sorted_is_exact() -> None:
    for sample, batch in _pairs(np.random.default_rng(3)):
        exact = stats.wasserstein_distance(sample, batch)
        assert wasserstein_sorted(np.sort(sample), np.sort(batch)) == pytest.approx(exact, rel=ROUNDING, abs=ROUNDING)


@pytest.mark.parametrize(
    ("reference", "batch"),
    [([500, 300, 200], [40, 35, 25]), ([500, 300, 200, 0], [40, 35, 25, 7]), ([90, 10], [60, 40])],
)
def test_chi_square_matches_scipy_without_yates_correction(reference: list[int], batch: list[int]) -> None:
    statistic, pvalue = chi_square(reference, batch)
    expected = stats.chi2_contingency(np.array([reference, batch]), correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=ROUNDING)
    assert pvalue == pytest.approx(expected.pvalue, rel=ROUNDING, abs=EXACT)


def test_chi_square_drops_categories_empty_on_both_sides_and_degenerates_to_no_evidence() -> None:
    with_empty = chi_square([500, 0, 300], [40, 0, 35])
    assert with_empty == pytest.approx(chi_square([500, 300], [40, 35]))
    assert chi_square([10, 0], [5, 0]) == (0.0, 1.0)


def test_p_value_adjustment_matches_scipy_bh_and_bonferroni() -> None:
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.5, 0.0001, 0.049])
    np.testing.assert_allclose(adjust_p_values(p, "bh"), stats.false_discovery_control(p, method="bh"), rtol=EXACT)
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), np.minimum(p * 7, 1.0), rtol=EXACT)
    assert adjust_p_values([], "bh").size == 0
    with pytest.raises(ValueError, match="bonferroni"):
        adjust_p_values(p, "holm")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["normal", "lognormal", "pareto", "integers", "constant"])
def test_cut_ranking_agrees_with_binary_search(kind: str) -> None:
    rng = np.random.default_rng(4)
    draw = {
        "normal": lambda n: rng.normal(size=n),
        "lognormal": lambda n: rng.lognormal(3.7, 0.5, size=n),
        "pareto": lambda n: rng.pareto(1.0, size=n),
        "integers": lambda n: rng.integers(0, 24, size=n).astype(float),
        "constant": lambda n: np.full(n, 7.0),
    }[kind]
    cuts = Cuts(draw(1_000))
    values = np.concatenate([draw(20_000), cuts.values, [-1e308, 1e308, 0.0]])
    np.testing.assert_array_equal(cuts.rank(values), np.searchsorted(cuts.values, values, side="right"))
