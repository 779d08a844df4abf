"""The per-category criterion: one category collapsing alerts, small moves and clean days do not.

Also checks the numbers the policy docstring quotes for it and for the JS scale.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from asset_platform.drift import (
    DriftPolicy,
    ReferenceProfile,
    assess_batch,
    build_profile,
    category_shift,
    compute_drift,
    js_distance,
    judge_feature,
    psi,
)
from asset_platform.synthetic import deliveries as deliveries_data
from asset_platform.synthetic import generate_events
from tests.drift.demo_data import BATCH_DAY, CATEGORICAL_FEATURES, NUMERIC_FEATURES, demo_batch

OTHER_DEVICES = (("mobile", 0.55), ("desktop", 0.35))  # the generator's shares; tablet is the other 10%


def _with_tablet_share(share: float, rows: int = 5_000) -> pd.DataFrame:
    """A clean demo batch whose tablets are cut to `share`; the removed rows go to the other devices pro rata."""
    batch = demo_batch(rows, BATCH_DAY)
    rng = np.random.default_rng(0)
    device = batch["device"].to_numpy().copy()
    tablets = np.flatnonzero(device == "tablet")
    moved = rng.choice(tablets, size=len(tablets) - round(share * rows), replace=False)
    names, weights = zip(*OTHER_DEVICES, strict=True)
    device[moved] = rng.choice(names, size=len(moved), p=np.array(weights) / sum(weights))
    batch["device"] = device
    return batch


def test_a_tenfold_drop_of_one_category_alerts_though_psi_and_js_only_warn(demo_profile: ReferenceProfile) -> None:
    reference = demo_profile.categorical["device"]
    assert reference.counts[reference.categories.index("tablet")] / reference.n_rows == pytest.approx(0.10, abs=0.005)
    results = compute_drift(demo_profile, _with_tablet_share(0.01), "tablets-gone")
    device = results.feature("device")
    assert device.batch_shares[device.bin_labels.index("tablet")] == pytest.approx(0.01)
    # The whole-feature statistics stay under their alerts: alone, they only warn.
    assert 0.1 <= device.psi < 0.25
    assert 0.1 <= device.js_distance < 0.2
    assert judge_feature(device, DriftPolicy(drift_statistics=["psi", "js_distance", "unseen_share"])).level == "warn"
    assert device.shifted_category == "tablet"
    assert device.category_shift == pytest.approx(0.44, abs=0.01)
    verdict = judge_feature(device, DriftPolicy())
    assert verdict.level == "alert"
    assert any("category_shift 0.44" in reason and "(tablet 10." in reason for reason in verdict.reasons)
    assert assess_batch(results, DriftPolicy()).drifted_features == ("device",)


def test_a_drop_from_ten_to_eight_percent_does_not_alert(demo_profile: ReferenceProfile) -> None:
    results = compute_drift(demo_profile, _with_tablet_share(0.08), "fewer-tablets")
    device = results.feature("device")
    assert device.shifted_category == "tablet"
    assert device.category_shift < 0.1
    assert judge_feature(device, DriftPolicy()).level == "pass"
    assessment = assess_batch(results, DriftPolicy())
    assert (assessment.status, assessment.drifted_features) == ("pass", ())


def _h(reference_share: float, batch_share: float, rows: int) -> float:
    """category_shift of one category, from shares, for a huge reference and a batch of `rows`."""
    reference = np.array([reference_share, 1 - reference_share]) * 10_000_000
    batch = np.round(np.array([batch_share, 1 - batch_share]) * rows)
    return float(category_shift(reference, batch)[0])


@pytest.mark.parametrize(
    ("before", "after", "rows", "expected", "level"),
    [
        (0.10, 0.01, 5_000, 0.44, "alert"),
        (0.10, 0.05, 5_000, 0.19, "warn"),
        (0.10, 0.08, 5_000, 0.07, "pass"),
        (0.50, 0.40, 5_000, 0.20, "alert"),
        (0.01, 0.04, 5_000, 0.20, "alert"),
        (0.01, 0.00, 500, 0.146, "pass"),  # a rare category a small batch misses by chance
        (0.02, 0.00, 500, 0.23, "alert"),
    ],
)
def test_the_documented_cohens_h_values(before: float, after: float, rows: int, expected: float, level: str) -> None:
    value = _h(before, after, rows)
    assert value == pytest.approx(expected, abs=0.006)
    limits = DriftPolicy().category_shift
    assert level == ("alert" if value >= limits.alert else "warn" if value >= limits.warn else "pass")


def test_category_shift_is_symmetric_and_ignores_empty_sides() -> None:
    assert category_shift([30, 70], [70, 30]) == pytest.approx(category_shift([70, 30], [30, 70]))
    assert category_shift([5, 5], [5, 5]) == pytest.approx([0.0, 0.0])
    assert list(category_shift([5, 5], [0, 0])) == [0.0, 0.0]


def test_the_js_scale_and_its_relation_to_psi_are_as_documented() -> None:
    # Evidently's 0.1 is on scipy's default natural-log scale: 0.120 on ours.
    reference, batch = [55, 35, 10], [55, 35, 1]
    assert js_distance(reference, batch) / jensenshannon(reference, batch) == pytest.approx(1 / np.sqrt(np.log(2)))
    assert 0.1 / np.sqrt(np.log(2)) == pytest.approx(0.120, abs=5e-4)
    # For small shifts the base-2 distance is about sqrt(PSI / (8 ln 2)).
    shares = np.full(10, 0.1) * (1 + 0.2 * np.tile([1, -1], 5))
    ratio = js_distance(np.full(10, 0.1), shares) / np.sqrt(psi(np.full(10, 0.1), shares) / (8 * np.log(2)))
    assert ratio == pytest.approx(1.0, abs=0.01)
    assert np.sqrt(0.25 / (8 * np.log(2))) == pytest.approx(0.212, abs=5e-4)


def _ecommerce(rows: int, day: dt.date) -> pd.DataFrame:
    return generate_events(rows, day, 7)


def _deliveries(rows: int, day: dt.date) -> pd.DataFrame:
    return deliveries_data.generate_deliveries(rows, day, 7)


DATASETS = {
    "ecommerce": (_ecommerce, list(NUMERIC_FEATURES), list(CATEGORICAL_FEATURES)),
    "deliveries": (_deliveries, list(deliveries_data.NUMERIC_FEATURES), list(deliveries_data.CATEGORICAL_FEATURES)),
}
START = dt.date(2026, 3, 1)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_clean_days_raise_no_alarm_against_a_reference_of_other_clean_days(dataset: str) -> None:
    generate, numeric, categorical = DATASETS[dataset]
    reference = pd.concat([generate(2_000, START + dt.timedelta(days=i)) for i in range(7)], ignore_index=True)
    profile = build_profile(reference, numeric, categorical)
    for offset in range(10, 14):
        for rows in (500, 2_000):
            results = compute_drift(profile, generate(rows, START + dt.timedelta(days=offset)), f"{offset}-{rows}")
            assessment = assess_batch(results, DriftPolicy())
            assert [v.reasons for v in assessment.verdicts if v.level == "alert"] == [], (offset, rows)
            assert not assessment.drift_detected
            if rows >= 2_000:  # the demo's batch size: not even a warning
                assert assessment.status == "pass", assessment.reasons
            shifts = [results.feature(name).category_shift for name in categorical]
            assert max(shifts) < DriftPolicy().category_shift.alert
