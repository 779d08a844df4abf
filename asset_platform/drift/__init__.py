"""Drift measurement: reference profiles, statistics, policy, retrain decisions, report helpers.

Typical use (the assets, the asset check and the sensor wire these together):

    profile = build_profile(training_frame, numeric=[...], categorical=[...])   # once
    results = compute_drift(ReferenceProfile.from_dict(stored), batch, batch_key="2026-03-01")
    assessment = assess_batch(results, DriftPolicy())                           # pass / warn / error
    decision = should_retrain([*cursor_records, assessment.to_record()], DriftPolicy())

Only `policy` imports Dagster (the policy is a `dagster.Config`); the profile
and the statistics are plain numpy / scipy.
"""

from asset_platform.drift.columns import DriftInputError
from asset_platform.drift.measure import DriftResults, FeatureDrift, compute_drift
from asset_platform.drift.policy import (
    BatchAssessment,
    DriftPolicy,
    FeatureOverride,
    FeatureVerdict,
    Thresholds,
    assess_batch,
    check_policy,
    judge_feature,
)
from asset_platform.drift.profile import (
    OTHER_CATEGORY,
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from asset_platform.drift.report import (
    drift_histograms_markdown,
    drift_summary,
    drift_table_markdown,
    feature_histogram_markdown,
)
from asset_platform.drift.retrain import Decision, should_retrain
from asset_platform.drift.statistics import (
    PSI_EPSILON,
    adjust_p_values,
    chi_square,
    js_distance,
    ks_binned,
    ks_two_sample,
    psi,
    wasserstein,
    wasserstein_binned,
    wasserstein_sorted,
)

__all__ = [
    "OTHER_CATEGORY",
    "PSI_EPSILON",
    "BatchAssessment",
    "CategoricalProfile",
    "Decision",
    "DriftInputError",
    "DriftPolicy",
    "DriftResults",
    "FeatureDrift",
    "FeatureOverride",
    "FeatureVerdict",
    "NumericProfile",
    "ReferenceProfile",
    "Thresholds",
    "adjust_p_values",
    "assess_batch",
    "build_profile",
    "check_policy",
    "chi_square",
    "compute_drift",
    "drift_histograms_markdown",
    "drift_summary",
    "drift_table_markdown",
    "feature_histogram_markdown",
    "js_distance",
    "judge_feature",
    "ks_binned",
    "ks_two_sample",
    "psi",
    "should_retrain",
    "wasserstein",
    "wasserstein_binned",
    "wasserstein_sorted",
]
