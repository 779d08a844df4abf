"""The drift policy: defaults, per-feature overrides, p-value correction, and launchpad config.

No `from __future__ import annotations` here: Dagster reads the asset's `config`
annotation at definition time and cannot resolve it from a string.
"""

import dagster as dg
import pytest

from asset_platform.drift import (
    DriftPolicy,
    DriftResults,
    FeatureDrift,
    FeatureOverride,
    ReferenceProfile,
    Thresholds,
    assess_batch,
    check_policy,
    compute_drift,
    judge_feature,
)
from tests.drift.demo_data import demo_batch


def _feature(name: str, **stats: float) -> FeatureDrift:
    kind = "categorical" if "chi2_pvalue" in stats or "unseen_share" in stats else "numeric"
    return FeatureDrift(name, kind, 1_000, 1_000, 0.0, 0.0, **stats)


def _results(*features: FeatureDrift, rows: int = 1_000) -> DriftResults:
    return DriftResults("batch-1", rows, features)


def test_defaults_follow_the_documented_conventions() -> None:
    policy = DriftPolicy()
    assert (policy.psi.warn, policy.psi.alert) == (0.1, 0.25)
    assert (policy.js_distance.warn, policy.js_distance.alert) == (0.1, 0.2)
    assert (policy.wasserstein.warn, policy.wasserstein.alert) == (0.1, 0.2)
    assert (policy.drift_share, policy.min_batch_size, policy.consecutive_batches) == (0.15, 500, 2)
    assert policy.p_value_alpha is None
    check_policy(policy)


@pytest.mark.parametrize(
    ("stats", "level"),
    [
        ({"psi": 0.05}, "pass"),
        ({"psi": 0.1}, "warn"),
        ({"psi": 0.25}, "alert"),
        ({"wasserstein": 0.15, "psi": 0.01}, "warn"),
        ({"unseen_share": 0.06, "psi": 0.0}, "alert"),
    ],
)
def test_feature_levels_follow_thresholds(stats: dict[str, float], level: str) -> None:
    assert judge_feature(_feature("x", **stats), DriftPolicy()).level == level


def test_missing_rate_jump_is_a_quality_error() -> None:
    feature = FeatureDrift("x", "numeric", 1_000, 800, 0.2, 0.02, psi=0.0)
    verdict = judge_feature(feature, DriftPolicy())
    assert (verdict.level, verdict.quality) == ("error", True)
    assert "missing rate 20.0% vs 2.0%" in verdict.reasons[0]


def test_drift_share_is_weighted() -> None:
    results = _results(_feature("a", psi=0.5), _feature("b", psi=0.0), _feature("c", psi=0.0), _feature("d", psi=0.0))
    assert assess_batch(results, DriftPolicy()).drift_share == pytest.approx(0.25)
    weighted = DriftPolicy(features={"a": FeatureOverride(weight=0.0)})
    assessment = assess_batch(results, weighted)
    assert (assessment.drift_share, assessment.status, assessment.drifted_features) == (0.0, "warn", ("a",))
    heavy = DriftPolicy(features={"b": FeatureOverride(weight=7.0)}, drift_share=0.5)
    assert assess_batch(results, heavy).drift_share == pytest.approx(0.1)


def test_per_feature_thresholds_override_the_policy() -> None:
    results = _results(_feature("noisy", psi=0.3), _feature("calm", psi=0.3))
    policy = DriftPolicy(features={"noisy": FeatureOverride(psi=Thresholds(warn=0.5, alert=1.0))})
    assessment = assess_batch(results, policy)
    assert assessment.drifted_features == ("calm",)


def test_small_batches_are_not_judged() -> None:
    assessment = assess_batch(_results(_feature("a", psi=5.0), rows=499), DriftPolicy())
    assert (assessment.status, assessment.judged, assessment.drift_detected) == ("warn", False, False)
    assert assessment.reasons == ("too small to judge: 499 rows < min_batch_size 500",)


def test_p_values_are_off_by_default_and_corrected_when_on() -> None:
    # Ten features with p = 0.004 each: significant alone, not after correcting for ten tests.
    features = [_feature(f"f{i}", psi=0.0, ks_statistic=0.01, ks_pvalue=0.004) for i in range(10)]
    assert assess_batch(_results(*features), DriftPolicy()).status == "pass"
    bonferroni = DriftPolicy(p_value_alpha=0.01, p_value_correction="bonferroni")
    assert assess_batch(_results(*features), bonferroni).drifted_features == ()
    # BH keeps all ten: the largest p-value 0.004 <= 0.01 * 10 / 10.
    bh = assess_batch(_results(*features), DriftPolicy(p_value_alpha=0.01))
    assert len(bh.drifted_features) == 10
    assert "(bh-adjusted) < 0.01" in bh.reasons[-1]


def test_inconsistent_policies_are_rejected_with_the_setting_named() -> None:
    bad = DriftPolicy(
        psi=Thresholds(warn=0.3, alert=0.2),
        drift_share=0.0,
        drift_statistics=["psi", "kl"],
        features={"x": FeatureOverride(weight=-1.0)},
    )
    with pytest.raises(ValueError) as caught:
        check_policy(bad)
    for fragment in ("psi: warn 0.3 > alert 0.2", "drift_share", "unknown 'kl'", "features.x.weight"):
        assert fragment in str(caught.value)


def test_assessment_record_is_small_json(demo_profile: ReferenceProfile) -> None:
    assessment = assess_batch(compute_drift(demo_profile, demo_batch(scenario="covariate"), "d1"), DriftPolicy())
    record = assessment.to_record()
    assert set(record) == {
        "batch_key",
        "status",
        "n_rows",
        "judged",
        "drift_share",
        "drift_detected",
        "drifted_features",
        "quality_issues",
    }
    assert record["drift_detected"] is True
    assert "reasons" in assessment.to_dict()


def test_policy_is_launchpad_config() -> None:
    @dg.asset
    def judged(config: DriftPolicy) -> str:
        results = _results(_feature("price", psi=0.3), _feature("device", psi=0.0))
        return assess_batch(results, config).status

    run_config = {
        "ops": {"judged": {"config": {"features": {"price": {"psi": {"warn": 0.5, "alert": 1.0}}}, "drift_share": 0.4}}}
    }
    assert dg.materialize([judged], run_config=run_config).output_for_node("judged") == "pass"
    assert dg.materialize([judged]).output_for_node("judged") == "error"
