"""The reference profile: fixed size, JSON round trip, quantile bins, and the sample's error bounds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from asset_platform.drift import OTHER_CATEGORY, DriftInputError, ReferenceProfile, build_profile, compute_drift


def _frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 0.8, rows),
            "visits": rng.poisson(3, rows),
            "segment": rng.choice(np.array(list("abcdefgh"), dtype=object), rows),
        }
    )


def _json_bytes(profile: ReferenceProfile) -> int:
    return len(json.dumps(profile.to_dict()).encode("utf-8"))


def test_profile_size_does_not_grow_with_rows() -> None:
    small = build_profile(_frame(20_000), ["amount", "visits"], ["segment"])
    large = build_profile(_frame(400_000), ["amount", "visits"], ["segment"])
    assert len(large.numeric["amount"].sample) == len(small.numeric["amount"].sample) == 1_024
    # Only the digits of counts differ.
    assert abs(_json_bytes(large) - _json_bytes(small)) < 0.02 * _json_bytes(small)


def test_profile_round_trips_through_json(demo_profile: ReferenceProfile) -> None:
    text = json.dumps(demo_profile.to_dict())
    restored = ReferenceProfile.from_dict(json.loads(text))
    assert restored == demo_profile
    assert restored.features == demo_profile.features
    with pytest.raises(ValueError, match="build_profile"):
        ReferenceProfile.from_dict({**json.loads(text), "format": "something else"})


def test_numeric_bins_are_reference_deciles_with_open_outer_bins() -> None:
    frame = pd.DataFrame({"x": np.arange(1, 101, dtype=float)})
    profile = build_profile(frame, ["x"], [], bins=10).numeric["x"]
    np.testing.assert_allclose(profile.edges, np.quantile(frame["x"], np.arange(1, 10) / 10))
    assert profile.edges[0] == pytest.approx(10.9)
    assert profile.counts == (10,) * 10
    assert (profile.minimum, profile.maximum, profile.mean) == (1.0, 100.0, 50.5)


def test_psi_through_the_profile_matches_a_hand_computation() -> None:
    profile = build_profile(pd.DataFrame({"x": np.arange(1, 101, dtype=float)}), ["x"], [], bins=10)
    # Half the batch in the first decile bin (< 10.9), half in the open last bin (>= 90.1).
    batch = pd.DataFrame({"x": [5.0] * 50 + [500.0] * 50})
    result = compute_drift(profile, batch).feature("x")
    # Two bins go from .1 to .5; eight go from .1 to empty, which counts as 1e-4.
    expected = 2 * (0.5 - 0.1) * np.log(0.5 / 0.1) + 8 * (1e-4 - 0.1) * np.log(1e-4 / 0.1)
    assert result.psi == pytest.approx(expected, rel=1e-12)
    assert result.psi == pytest.approx(6.808228, abs=1e-6)
    assert result.out_of_range_share == 0.5


def test_discrete_features_get_deduplicated_edges() -> None:
    frame = pd.DataFrame({"x": np.r_[np.zeros(700), np.ones(200), np.full(100, 5.0)]})
    profile = build_profile(frame, ["x"], []).numeric["x"]
    assert list(profile.edges) == sorted(set(profile.edges))
    assert sum(profile.counts) == 1_000


def test_ks_against_the_sample_is_within_one_over_sample_size_of_the_full_reference() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"x": rng.gamma(2.0, 3.0, 200_000), "k": rng.integers(0, 10, 200_000)})
    profile = build_profile(reference, ["x", "k"], [], sample_size=512)
    for shift in (0.0, 0.2, 1.5):
        batch = pd.DataFrame({"x": rng.gamma(2.0, 3.0, 30_000) + shift, "k": rng.integers(0, 11, 30_000)})
        results = compute_drift(profile, batch)
        for name in ("x", "k"):
            full = stats.ks_2samp(reference[name], batch[name]).statistic
            bound = 1 / 512 + 1 / len(reference)
            assert abs(results.feature(name).ks_statistic - full) <= bound + 1e-12


def test_sample_error_bounds_the_wasserstein_approximation() -> None:
    rng = np.random.default_rng(6)
    reference = rng.lognormal(2.0, 0.7, 100_000)
    profile = build_profile(pd.DataFrame({"x": reference}), ["x"], []).numeric["x"]
    sample = np.asarray(profile.sample)
    assert profile.sample_error == pytest.approx(stats.wasserstein_distance(sample, reference), rel=1e-9)
    assert profile.sample_error < 0.01 * profile.std
    batch = rng.lognormal(2.1, 0.7, 20_000)
    gap = abs(stats.wasserstein_distance(sample, batch) - stats.wasserstein_distance(reference, batch))
    assert gap <= profile.sample_error + 1e-9


def test_sample_is_seeded_and_small_references_are_kept_whole() -> None:
    frame = _frame(50_000)
    one = build_profile(frame, ["amount"], [], seed=1).numeric["amount"].sample
    assert build_profile(frame, ["amount"], [], seed=1).numeric["amount"].sample == one
    assert build_profile(frame, ["amount"], [], seed=2).numeric["amount"].sample != one
    tiny = build_profile(frame.head(100), ["amount"], []).numeric["amount"]
    assert tiny.sample == tuple(np.sort(frame["amount"].head(100)))
    assert tiny.sample_error == pytest.approx(0.0, abs=1e-12)


def test_rare_categories_share_an_other_bucket() -> None:
    frame = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5 + [None] * 10})
    profile = build_profile(frame, [], ["c"], max_categories=2).categorical["c"]
    assert (profile.categories, profile.counts, profile.other, profile.missing) == (("a", "b"), (50, 30), 20, 10)


def test_missing_values_are_counted_not_profiled() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, np.inf, None]})
    profile = build_profile(frame, ["x"], []).numeric["x"]
    assert (profile.missing, profile.missing_rate, profile.maximum) == (3, 0.6, 3.0)


@pytest.mark.parametrize(
    ("frame", "numeric", "categorical", "message"),
    [
        (pd.DataFrame({"x": [1.0]}), ["y"], [], "lacks feature columns \\['y'\\]"),
        (pd.DataFrame({"x": [np.nan, np.nan]}), ["x"], [], "'x' has no non-missing values"),
        (pd.DataFrame({"c": [None, None]}), [], ["c"], "'c' has no non-missing values"),
        (pd.DataFrame({"s": ["a", "b"]}), ["s"], [], "'s' is not numeric"),
        (pd.DataFrame({"c": [OTHER_CATEGORY]}), [], ["c"], "reserved category"),
    ],
)
def test_bad_reference_columns_raise_errors_naming_them(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str], message: str
) -> None:
    with pytest.raises(DriftInputError, match=message):
        build_profile(frame, numeric, categorical)


def test_bad_arguments_are_rejected() -> None:
    frame = _frame(100)
    with pytest.raises(ValueError, match="both numeric and categorical"):
        build_profile(frame, ["amount"], ["amount"])
    with pytest.raises(ValueError, match="bins >= 2"):
        build_profile(frame, ["amount"], [], bins=1)
    with pytest.raises(TypeError, match="lists of column names"):
        build_profile(frame, "amount", [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pandas DataFrame"):
        build_profile(frame.to_dict(), ["amount"], [])  # type: ignore[arg-type]
