"""p-values against the full reference, cheap enough to compute always, and no exact KS on a batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from asset_platform.drift import (
    DriftPolicy,
    ReferenceProfile,
    assess_batch,
    build_profile,
    compute_drift,
    ks_pvalue_asymptotic,
)
from tests.drift.demo_data import demo_batch


@pytest.mark.parametrize("effective", [1_000, 3_456])
@pytest.mark.parametrize("target", [0.5, 0.05, 1e-3, 1e-6])
def test_kolmogorov_limit_is_conservative_and_close_to_scipys_asymptotic_p_value(effective: int, target: float) -> None:
    statistic = stats.kstwobign.isf(target) / np.sqrt(effective)
    n1 = n2 = 2 * effective  # n1 n2 / (n1 + n2) = effective
    theirs = stats.kstwo.sf(statistic, effective)
    ours = ks_pvalue_asymptotic(statistic, n1, n2)
    assert theirs <= ours <= 1.1 * theirs


@pytest.fixture(scope="module")
def normal_reference() -> tuple[np.ndarray, ReferenceProfile]:
    values = np.random.default_rng(12).normal(size=50_000)
    return values, build_profile(pd.DataFrame({"x": values}), ["x"], [])


@pytest.mark.parametrize(("shift", "gain"), [(0.06, 10), (0.1, 1e5)])
def test_ks_p_value_is_the_full_reference_test_not_the_samples(
    normal_reference: tuple[np.ndarray, ReferenceProfile], shift: float, gain: float
) -> None:
    values, profile = normal_reference
    batch = np.random.default_rng(13).normal(shift, 1.0, 5_000)
    feature = compute_drift(profile, pd.DataFrame({"x": batch})).feature("x")
    sample_based = stats.ks_2samp(np.asarray(profile.numeric["x"].sample), batch).pvalue  # what it used to be
    full = stats.ks_2samp(values, batch).pvalue
    assert feature.ks_pvalue < sample_based / gain
    # Conservative (the sample statistic less its error margin), within a factor of three of the 50,000-value test.
    assert full <= feature.ks_pvalue <= 3 * full


def test_ks_p_value_stays_conservative_with_ties_and_missing_values() -> None:
    rng = np.random.default_rng(14)
    reference = rng.poisson(4.0, 30_000).astype(float)
    reference[rng.random(reference.size) < 0.1] = np.nan
    profile = build_profile(pd.DataFrame({"k": reference}), ["k"], [])
    for rate in (4.0, 4.15, 4.4):
        batch = rng.poisson(rate, 3_000).astype(float)
        feature = compute_drift(profile, pd.DataFrame({"k": batch})).feature("k")
        full = stats.ks_2samp(reference[~np.isnan(reference)], batch).pvalue
        assert full <= feature.ks_pvalue + 1e-12


def test_a_small_reference_is_its_own_sample_and_needs_no_margin() -> None:
    rng = np.random.default_rng(15)
    reference, batch = rng.normal(size=800), rng.normal(0.15, 1.0, 4_000)
    profile = build_profile(pd.DataFrame({"x": reference}), ["x"], [])
    feature = compute_drift(profile, pd.DataFrame({"x": batch})).feature("x")
    statistic = stats.ks_2samp(reference, batch).statistic
    assert feature.ks_statistic == pytest.approx(statistic, abs=1e-12)
    assert feature.ks_pvalue == pytest.approx(ks_pvalue_asymptotic(statistic, 800, 4_000), rel=1e-9)


def test_with_p_values_on_the_stronger_test_flags_a_shift_the_effect_sizes_let_through(
    normal_reference: tuple[np.ndarray, ReferenceProfile],
) -> None:
    _, profile = normal_reference
    batch = pd.DataFrame({"x": np.random.default_rng(13).normal(0.1, 1.0, 5_000)})
    results = compute_drift(profile, batch, "shifted")
    assert assess_batch(results, DriftPolicy()).drifted_features == ()
    flagged = assess_batch(results, DriftPolicy(p_value_alpha=0.01))
    assert flagged.drifted_features == ("x",)
    assert "KS p" in flagged.reasons[-1]


def test_measuring_a_batch_never_runs_scipys_exact_or_finite_n_ks(
    demo_profile: ReferenceProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("exact KS p-value computed")

    monkeypatch.setattr(stats, "ks_2samp", refuse)
    monkeypatch.setattr(stats.kstwo, "sf", refuse)
    results = compute_drift(demo_profile, demo_batch(scenario="covariate"), "covariate")
    price = results.feature("price")
    assert price.error is None
    assert price.ks_pvalue < 1e-10
