"""Drift measurement: reference profiles, statistics, policy, retrain decisions, report helpers.

Typical use (the assets, the asset check and the sensor wire these together):

    profile = build_profile(training_frame, numeric=[...], categorical=[...])   # once
    results = compute_drift(ReferenceProfile.from_dict(stored), batch, batch_key="2026-03-01")
    # the same, from a batch too large for memory or summarized in parts (merge in any order):
    results = drift_from_summary(profile, summarize_parquet(profile, "batch.parquet/"), batch_key="2026-03-01")
    assessment = assess_batch(results, DriftPolicy())                           # per-feature verdicts
    evidence = assessment.evidence()                 # what the batch showed; evidence.verdict(): pass / warn / error
    decision = should_retrain([*cursor_records, evidence.to_record()], DriftPolicy())

Only `policy` and `evidence` import Dagster (the policy is a `dagster.Config`); the profile
and the statistics are plain numpy / scipy.
"""

import importlib
from typing import Any

# Names resolve to their submodule on first use (PEP 562), so importing the policy
# with the code location does not pull in numpy, pandas and the statistics.
_HOMES = {
    "BatchAssessment": "asset_platform.drift.policy",
    "BatchEvidence": "asset_platform.drift.evidence",
    "BatchSummary": "asset_platform.drift.summary",
    "CategoricalProfile": "asset_platform.drift.profile",
    "CategoricalSummary": "asset_platform.drift.summary",
    "Decision": "asset_platform.drift.retrain",
    "DriftInputError": "asset_platform.drift.columns",
    "DriftPolicy": "asset_platform.drift.policy",
    "DriftResults": "asset_platform.drift.measure",
    "FeatureDrift": "asset_platform.drift.measure",
    "FeatureOverride": "asset_platform.drift.policy",
    "FeatureVerdict": "asset_platform.drift.policy",
    "NumericProfile": "asset_platform.drift.profile",
    "NumericSummary": "asset_platform.drift.summary",
    "OTHER_CATEGORY": "asset_platform.drift.profile",
    "PSI_EPSILON": "asset_platform.drift.statistics",
    "ReferenceProfile": "asset_platform.drift.profile",
    "SummaryMismatchError": "asset_platform.drift.summary",
    "Thresholds": "asset_platform.drift.policy",
    "adjust_p_values": "asset_platform.drift.statistics",
    "assess_batch": "asset_platform.drift.policy",
    "build_profile": "asset_platform.drift.profile",
    "category_shift": "asset_platform.drift.statistics",
    "check_policy": "asset_platform.drift.policy",
    "chi_square": "asset_platform.drift.statistics",
    "compute_drift": "asset_platform.drift.measure",
    "drift_from_summary": "asset_platform.drift.measure",
    "drift_histograms_markdown": "asset_platform.drift.report",
    "drift_summary": "asset_platform.drift.report",
    "drift_table_markdown": "asset_platform.drift.report",
    "feature_histogram_markdown": "asset_platform.drift.report",
    "js_distance": "asset_platform.drift.statistics",
    "judge_feature": "asset_platform.drift.policy",
    "ks_binned": "asset_platform.drift.statistics",
    "ks_pvalue_asymptotic": "asset_platform.drift.statistics",
    "ks_statistic_binned": "asset_platform.drift.statistics",
    "ks_two_sample": "asset_platform.drift.statistics",
    "psi": "asset_platform.drift.statistics",
    "should_retrain": "asset_platform.drift.retrain",
    "summarize": "asset_platform.drift.summary",
    "summarize_parquet": "asset_platform.drift.summary",
    "wasserstein": "asset_platform.drift.statistics",
    "wasserstein_binned": "asset_platform.drift.statistics",
    "wasserstein_sorted": "asset_platform.drift.statistics",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'asset_platform.drift' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


__all__ = [
    "OTHER_CATEGORY",
    "PSI_EPSILON",
    "BatchAssessment",
    "BatchEvidence",
    "BatchSummary",
    "CategoricalProfile",
    "CategoricalSummary",
    "Decision",
    "DriftInputError",
    "DriftPolicy",
    "DriftResults",
    "FeatureDrift",
    "FeatureOverride",
    "FeatureVerdict",
    "NumericProfile",
    "NumericSummary",
    "ReferenceProfile",
    "SummaryMismatchError",
    "Thresholds",
    "adjust_p_values",
    "assess_batch",
    "build_profile",
    "category_shift",
    "check_policy",
    "chi_square",
    "compute_drift",
    "drift_from_summary",
    "drift_histograms_markdown",
    "drift_summary",
    "drift_table_markdown",
    "feature_histogram_markdown",
    "js_distance",
    "judge_feature",
    "ks_binned",
    "ks_pvalue_asymptotic",
    "ks_statistic_binned",
    "ks_two_sample",
    "psi",
    "should_retrain",
    "summarize",
    "summarize_parquet",
    "wasserstein",
    "wasserstein_binned",
    "wasserstein_sorted",
]
