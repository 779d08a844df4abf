"""Production batches as they arrive, scored by the champion, and their realized performance."""

from typing import Any

import dagster as dg
import pandas as pd

from asset_platform.landing import BatchFileError, LandingZone
from asset_platform.ml.metrics import classification_metrics
from asset_platform.registry.models import ModelRegistry
from assets.features.pipeline import score_events

# One partition per landed batch file (its stem, e.g. `events_2026-02-01`), added by the arrival sensor.
production_partitions = dg.DynamicPartitionsDefinition(name="production_batches")
SCHEMA_CHECK = "matches_event_schema"


@dg.asset(
    group_name="monitoring",
    partitions_def=production_partitions,
    kinds={"parquet", "pandas", "pandera"},
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            SCHEMA_CHECK,
            asset="production_batches",
            blocking=True,
            description="The batch meets the same event contract as training data.",
        )
    ],
)
def production_batches(context: dg.AssetExecutionContext, landing: LandingZone):
    """One production batch of shopping sessions, as landed (labels arrive later).

    A batch that breaks the contract is stored as it came, fails the blocking
    check so nothing scores or judges drift on it, and its file is quarantined.
    """
    from asset_platform.validation.checks import check_against_schema
    from asset_platform.validation.events import EventSchema

    key = context.partition_key
    try:
        frame = landing.read_batch(key)
    except BatchFileError as error:
        path = landing.batch_path(key)
        moved = landing.quarantine_file(path, str(error)) if path.exists() else None
        raise dg.Failure(description=f"{error}; moved to {moved}" if moved else str(error)) from error
    report = check_against_schema(frame, EventSchema)
    metadata: dict[str, Any] = {"rows": dg.MetadataValue.int(len(frame)), "failures": report.failure_counts}
    if not report.passed:
        moved = landing.quarantine_file(landing.batch_path(key), f"batch {key}: {report.summary()}")
        metadata["failing_sample"] = dg.MetadataValue.md(report.failing_sample.head(5).to_markdown(index=False))
        metadata["quarantined_to"] = dg.MetadataValue.path(str(moved))
        context.log.error(f"batch {key} breaks the event contract: {report.summary()}; file moved to {moved}")
    check = dg.AssetCheckResult(
        check_name=SCHEMA_CHECK,
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"batch {key}: {report.summary()}",
        metadata=metadata,
    )
    value = EventSchema.validate(frame) if report.passed else frame
    return dg.MaterializeResult(value=value, metadata={"rows": len(frame)}, check_results=[check])


@dg.asset(group_name="monitoring", partitions_def=production_partitions, kinds={"pandas"}, code_version="1")
def batch_predictions(
    context: dg.AssetExecutionContext,
    production_batches: pd.DataFrame,
    champion_model: dict,
    registry: ModelRegistry,
) -> dg.MaterializeResult:
    """Conversion scores of each session in a batch, from the champion model in production."""
    model = registry.load(champion_model["model_asset"], champion_model["version"])
    scores = score_events(model, production_batches)
    # The champion's holdout AUC travels with the scores: realized performance is judged against it.
    frame = pd.DataFrame(
        {
            "event_id": production_batches["event_id"].to_numpy(),
            "prediction": scores,
            "champion_version": champion_model["version"],
            "reference_auc": float(champion_model["metrics"].get("holdout_auc", float("nan"))),
        }
    )
    return dg.MaterializeResult(
        value=frame,
        metadata={
            "champion": f"{champion_model['model_asset']} {champion_model['version']}",
            "champion_version": champion_model["version"],
            "mean_prediction": dg.MetadataValue.float(float(scores.mean()) if len(scores) else float("nan")),
            "rows": len(frame),
        },
    )


@dg.asset(group_name="monitoring", partitions_def=production_partitions, kinds={"pandas"}, code_version="1")
def batch_performance(
    context: dg.AssetExecutionContext, batch_predictions: pd.DataFrame, landing: LandingZone
) -> dg.MaterializeResult:
    """Realized AUC and log loss of the champion's scores once the batch's delayed labels arrived."""
    key = context.partition_key
    labels = landing.read_labels(key)
    joined = batch_predictions.merge(labels, on="event_id", how="inner")
    if joined.empty:
        raise dg.Failure(f"labels of batch {key} match none of its {len(batch_predictions)} sessions")
    metrics = classification_metrics(joined["converted"].to_numpy(), joined["prediction"].to_numpy())
    metrics["auc_drop"] = float(joined["reference_auc"].iloc[0]) - metrics["auc"]
    table = pd.DataFrame([{"batch": key, "labeled_rows": len(joined), **metrics}])
    metadata: dict[str, Any] = {f"performance/{name}": dg.MetadataValue.float(v) for name, v in metrics.items()}
    metadata["labeled_rows"] = dg.MetadataValue.int(len(joined))
    metadata["champion_version"] = str(joined["champion_version"].iloc[0])
    return dg.MaterializeResult(value=table, metadata=metadata)
