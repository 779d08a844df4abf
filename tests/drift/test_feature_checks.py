"""One drift check per feature: its name (valid for Dagster whatever the column is called) and its outcome."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from asset_platform.declaration.names import POLICY_CHECK, feature_check_names
from asset_platform.drift import DriftPolicy, assess_batch, compute_drift
from asset_platform.drift.feature_checks import feature_checks
from tests.drift.demo_data import CATEGORICAL, NUMERIC, demo_batch

FEATURES = [*NUMERIC, *CATEGORICAL]


def test_check_names_are_valid_unique_and_never_the_policy_check():
    features = ["price", "unit-price", "unit_price", "unit price", "within_policy", "价格", "", "a.b"]
    names = feature_check_names(features)
    assert list(names) == features
    assert len(set(names.values())) == len(features)
    assert POLICY_CHECK not in names.values()
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", name) for name in names.values()), names
    assert names["price"] == "drift_price" and names["unit-price"] == "drift_unit_price"
    assert names["unit_price"] == "drift_unit_price_2"  # declared second: numbered, the first keeps its name
    # Dagster accepts every one of them on one asset.
    specs = [dg.AssetCheckSpec(name, asset="drift") for name in [POLICY_CHECK, *names.values()]]

    @dg.asset(key="drift", check_specs=specs)
    def drift():
        return None

    dg.Definitions(assets=[drift]).resolve_asset_graph()


def test_a_drifted_feature_fails_its_check_and_the_others_pass(demo_profile):
    results = compute_drift(demo_profile, demo_batch(scenario="covariate"), batch_key="b1")
    assessment = assess_batch(results, DriftPolicy())
    outcomes = {outcome.feature: outcome for outcome in feature_checks(FEATURES, results, assessment)}
    assert list(outcomes) == FEATURES
    drifted = set(assessment.drifted_features)
    assert "price" in drifted
    for name, outcome in outcomes.items():
        assert outcome.passed == (name not in drifted and name not in assessment.quality_issues), outcome
    price = outcomes["price"]
    assert price.level == "alert" and not price.is_error
    assert price.description.startswith("drifted: price: ") and price.metadata["psi"] > 0.25
    # A passing feature names its headline statistics.
    calm = next(outcome for name, outcome in outcomes.items() if outcome.level == "pass")
    assert "psi" in calm.description and calm.metadata["feature"] == calm.feature


def test_an_unmeasurable_feature_is_a_data_quality_error(demo_profile):
    batch = demo_batch()
    batch["price"] = float("nan")
    results = compute_drift(demo_profile, batch, batch_key="b2")
    outcomes = {o.feature: o for o in feature_checks(FEATURES, results, assess_batch(results, DriftPolicy()))}
    assert not outcomes["price"].passed and outcomes["price"].is_error
    assert "every value of column 'price' is missing" in outcomes["price"].description


def test_a_batch_too_small_to_judge_passes_every_feature_saying_why(demo_profile):
    results = compute_drift(demo_profile, demo_batch(rows=50, scenario="covariate"), batch_key="tiny")
    outcomes = feature_checks(FEATURES, results, assess_batch(results, DriftPolicy()))
    assert all(o.passed and o.level == "not judged" for o in outcomes)
    assert "too small to judge: 50 rows" in outcomes[0].description


@pytest.mark.parametrize("feature", ["loyalty_tier"])
def test_a_declared_feature_the_profile_lacks_fails_naming_it(demo_profile, feature):
    results = compute_drift(demo_profile, demo_batch(), batch_key="b3")
    [outcome] = feature_checks([feature], results, assess_batch(results, DriftPolicy()))
    assert not outcome.passed and outcome.is_error
    assert feature in outcome.description and "reference profile" in outcome.description
