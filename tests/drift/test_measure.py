"""Batch drift on the demo's scenarios, and bad batches recorded per column instead of crashing."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from asset_platform.drift import (
    OTHER_CATEGORY,
    DriftPolicy,
    DriftResults,
    ReferenceProfile,
    assess_batch,
    build_profile,
    compute_drift,
)
from tests.drift.demo_data import BATCH_DAY, demo_batch

STATISTICS = ("psi", "js_distance", "ks_statistic", "ks_pvalue", "wasserstein", "out_of_range_share")


@pytest.mark.parametrize("offset", range(6))
def test_clean_batches_of_other_days_pass_the_default_policy(demo_profile: ReferenceProfile, offset: int) -> None:
    day = BATCH_DAY + dt.timedelta(days=offset)
    assessment = assess_batch(compute_drift(demo_profile, demo_batch(day=day), str(day)), DriftPolicy())
    assert assessment.status == "pass", assessment.reasons
    assert assessment.drifted_features == ()
    assert not assessment.drift_detected


def test_covariate_drift_flags_price_duration_pages_and_the_score(demo_profile: ReferenceProfile) -> None:
    assessment = assess_batch(compute_drift(demo_profile, demo_batch(scenario="covariate")), DriftPolicy())
    assert assessment.status == "error"
    assert assessment.drift_detected
    assert {"price", "session_duration_s", "pages_viewed", "prediction"} <= set(assessment.drifted_features)
    assert "device" not in assessment.drifted_features
    assert assessment.quality_issues == ()


def test_category_mix_flags_device_and_channel(demo_profile: ReferenceProfile) -> None:
    results = compute_drift(demo_profile, demo_batch(scenario="category_mix"))
    assessment = assess_batch(results, DriftPolicy())
    assert assessment.status == "error"
    assert {"device", "channel"} <= set(assessment.drifted_features)
    assert "price" not in assessment.drifted_features
    assert results.feature("channel").chi2_pvalue < 1e-6


@pytest.mark.parametrize("scenario", ["concept", "prior"])
def test_label_only_drift_leaves_the_features_alone(demo_profile: ReferenceProfile, scenario: str) -> None:
    assessment = assess_batch(compute_drift(demo_profile, demo_batch(scenario=scenario)), DriftPolicy())
    assert assessment.status == "pass"


def test_null_outage_is_a_quality_issue_not_drift(demo_profile: ReferenceProfile) -> None:
    results = compute_drift(demo_profile, demo_batch(scenario="nulls"))
    assessment = assess_batch(results, DriftPolicy())
    assert assessment.status == "error"
    assert {"price", "device"} <= set(assessment.quality_issues)
    assert not assessment.drift_detected
    assert results.feature("price").missing_rate_increase == pytest.approx(0.3, abs=0.05)


def test_missing_column_is_recorded_by_name(demo_profile: ReferenceProfile) -> None:
    results = compute_drift(demo_profile, demo_batch(scenario="missing_column"))
    device = results.feature("device")
    assert device.error == "column 'device' is missing from the batch"
    assert device.psi is None
    assessment = assess_batch(results, DriftPolicy())
    assert assessment.status == "error"
    assert any("column 'device' is missing" in reason for reason in assessment.reasons)


def test_out_of_range_values_are_measured_not_crashed_on(demo_profile: ReferenceProfile) -> None:
    results = compute_drift(demo_profile, demo_batch(scenario="out_of_range"))
    hour = results.feature("hour_of_day")
    assert hour.out_of_range_share == pytest.approx(0.05, abs=0.02)
    assert all(math.isfinite(getattr(f, s)) for f in results.features for s in STATISTICS if getattr(f, s) is not None)


def test_absurd_values_give_finite_statistics_and_infinities_count_as_missing(demo_profile: ReferenceProfile) -> None:
    batch = demo_batch(rows=1_000)
    batch.loc[:9, "price"] = 1e300
    batch.loc[10:19, "price"] = -1e308
    batch.loc[20:29, "price"] = np.inf
    price = compute_drift(demo_profile, batch).feature("price")
    assert price.error is None
    assert price.missing_rate == pytest.approx(0.01)
    assert price.out_of_range_share == pytest.approx(20 / 990)
    assert all(math.isfinite(getattr(price, s)) for s in STATISTICS)
    assert price.wasserstein > 1e10


def test_a_column_entirely_null_is_recorded_as_an_error(demo_profile: ReferenceProfile) -> None:
    batch = demo_batch(rows=1_000)
    batch["price"] = np.nan
    batch["country"] = None
    results = compute_drift(demo_profile, batch)
    for name in ("price", "country"):
        feature = results.feature(name)
        assert feature.error == f"every value of column {name!r} is missing (1000 rows)"
        assert feature.missing_rate == 1.0
    assert {"price", "country"} <= set(assess_batch(results, DriftPolicy()).quality_issues)


def test_a_non_numeric_column_is_recorded_as_an_error(demo_profile: ReferenceProfile) -> None:
    batch = demo_batch(rows=1_000)
    batch["price"] = batch["price"].map("{:.2f} EUR".format)
    assert "'price' is not numeric" in compute_drift(demo_profile, batch).feature("price").error


def test_empty_batch_is_recorded_and_judged_too_small(demo_profile: ReferenceProfile) -> None:
    batch = demo_batch(rows=10).iloc[:0]
    results = compute_drift(demo_profile, batch, "empty")
    assert results.n_rows == 0
    assert {f.error for f in results.features} == {"the batch has no rows"}
    assessment = assess_batch(results, DriftPolicy())
    assert (assessment.status, assessment.judged, assessment.drift_detected) == ("warn", False, False)
    assert "too small to judge" in assessment.reasons[0]


def test_unseen_categories_are_measured() -> None:
    reference = pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40})
    profile = build_profile(reference, [], ["c"])
    batch = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["new"] * 15 + [None] * 5})
    feature = compute_drift(profile, batch).feature("c")
    assert feature.unseen_share == pytest.approx(15 / 95)
    assert feature.missing_rate == pytest.approx(0.05)
    assert feature.bin_labels == ("a", "b", OTHER_CATEGORY)
    assert feature.batch_shares == pytest.approx((50 / 95, 30 / 95, 15 / 95))


def test_extra_batch_columns_are_ignored_and_results_round_trip_through_json(demo_profile: ReferenceProfile) -> None:
    batch = demo_batch(rows=800).assign(unrelated=1)
    results = compute_drift(demo_profile, batch, "2026-02-01")
    assert [f.name for f in results.features] == demo_profile.features
    restored = DriftResults.from_dict(json.loads(json.dumps(results.to_dict())))
    assert restored == results
    with pytest.raises(KeyError, match="unrelated"):
        results.feature("unrelated")


def test_batch_must_be_a_frame(demo_profile: ReferenceProfile) -> None:
    with pytest.raises(TypeError, match="pandas DataFrame"):
        compute_drift(demo_profile, [1, 2, 3])  # type: ignore[arg-type]


def test_pandas_extension_dtypes_are_read_like_plain_ones() -> None:
    reference = pd.DataFrame({"n": pd.array([1, 2, 3, 4] * 50, dtype="Int64"), "c": pd.Categorical(["a", "b"] * 100)})
    profile = build_profile(reference, ["n"], ["c"])
    batch = pd.DataFrame(
        {
            "n": pd.array([1, 2, None, 4] * 25, dtype="Int64"),
            "c": pd.Categorical(["a"] * 100, categories=["a", "b", "z"]),
        }
    )
    results = compute_drift(profile, batch)
    assert results.feature("n").missing_rate == pytest.approx(0.25)
    assert profile.categorical["c"].categories == ("a", "b")
    assert results.feature("c").batch_shares == pytest.approx((1.0, 0.0, 0.0))
