"""Drift: the training reference profile and each batch measured against it."""

from typing import Any

import dagster as dg
import pandas as pd

from asset_platform.drift import ReferenceProfile, assess_batch, build_profile, compute_drift
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.drift.report import drift_histograms_markdown, drift_summary, drift_table_markdown
from asset_platform.registry.models import ModelRegistry
from asset_platform.validation.columns import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from assets.features.pipeline import score_events, training_rows
from assets.monitoring.batches import production_partitions

PREDICTION = "prediction"
POLICY_CHECK = "drift_within_policy"


@dg.asset(group_name="monitoring", kinds={"json"}, code_version="1")
def reference_profile(
    validated_events: pd.DataFrame, feature_pipeline: dict, champion_model: dict, registry: ModelRegistry
) -> dg.MaterializeResult:
    """What the champion was trained on, in a fixed-size summary: bins, samples, category shares.

    Includes the champion's own scores on its training rows, so prediction drift
    is measured like any feature. Its size does not grow with the training rows.
    """
    training = training_rows(validated_events, feature_pipeline)
    model = registry.load(champion_model["model_asset"], champion_model["version"])
    frame = training.assign(**{PREDICTION: score_events(model, training)})
    profile = build_profile(frame, numeric=[*NUMERIC_FEATURES, PREDICTION], categorical=list(CATEGORICAL_FEATURES))
    payload = {**profile.to_dict(), "champion_version": champion_model["version"]}
    return dg.MaterializeResult(
        value=payload,
        metadata={"training_rows": dg.MetadataValue.int(len(training)), "champion_version": champion_model["version"]},
    )


@dg.asset(
    group_name="monitoring",
    partitions_def=production_partitions,
    kinds={"json"},
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(POLICY_CHECK, asset="batch_drift", description="Drift of the batch is within the policy.")
    ],
)
def batch_drift(
    context: dg.AssetExecutionContext,
    production_batches: pd.DataFrame,
    batch_predictions: pd.DataFrame,
    reference_profile: dict,
    drift_monitor: DriftMonitor,
):
    """How far one production batch has moved from the training reference, feature by feature.

    PSI, KS, Jensen-Shannon and Wasserstein for numeric features, chi-square and
    Jensen-Shannon for categories, null-rate change, unseen categories, and the
    same for the champion's scores; judged by the drift policy.
    """
    key = context.partition_key
    profile = ReferenceProfile.from_dict({k: v for k, v in reference_profile.items() if k != "champion_version"})
    batch = production_batches.assign(**{PREDICTION: batch_predictions[PREDICTION].to_numpy()})
    results = compute_drift(profile, batch, batch_key=key)
    assessment = assess_batch(results, drift_monitor.policy)
    summary = drift_summary(results, assessment, prediction=PREDICTION)
    record = {
        **assessment.to_record(),
        "max_psi": round(summary["max_psi"], 4),
        "reference_champion_version": reference_profile.get("champion_version", ""),
    }
    metadata: dict[str, Any] = {
        "status": assessment.status,
        "features": dg.MetadataValue.md(drift_table_markdown(results, drift_monitor.policy)),
        "histograms": dg.MetadataValue.md(drift_histograms_markdown(results, top=3)),
        "assessment": dg.MetadataValue.json(record),
        "reasons": dg.MetadataValue.md("\n".join(f"- {reason}" for reason in assessment.reasons) or "none"),
        **{f"drift/{name}": dg.MetadataValue.float(value) for name, value in summary.items()},
    }
    check = dg.AssetCheckResult(
        check_name=POLICY_CHECK,
        passed=assessment.status == "pass",
        severity=dg.AssetCheckSeverity.ERROR if assessment.status == "error" else dg.AssetCheckSeverity.WARN,
        description=f"batch {key}: {assessment.status}; " + ("; ".join(assessment.reasons) or "no drift"),
        metadata={"drift_share": dg.MetadataValue.float(assessment.drift_share)},
    )
    return dg.MaterializeResult(value=results.to_dict(), metadata=metadata, check_results=[check])
