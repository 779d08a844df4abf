"""Drift confirmed by the policy → the retraining job, exactly once per body of evidence.

Reads new `batch_drift` and `batch_performance` materializations (the cursor
keeps event-log positions and a short per-batch history), merges them per batch
(feature drift from `batch_drift`, concept drift from a realized-AUC drop in
`batch_performance`) and asks the policy whether to retrain. The run key is
derived from the evidence and the reference version, so a restarted daemon or
a re-evaluated tick never launches a duplicate.
"""

import hashlib
from typing import Any

import dagster as dg

from asset_platform.drift import should_retrain
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.notify import DriftConfirmed, Notifier, RetrainingStarted
from asset_platform.registry.trigger import EVIDENCE_TAG, TRIGGER_TAG
from sensors.cursor import dump_cursor, load_cursor

RETRAINING_JOB = "retraining"
_HISTORY_LIMIT = 60
_SOURCES = ("batch_drift", "batch_performance")


@dg.sensor(
    job_name=RETRAINING_JOB,
    minimum_interval_seconds=30,
    description="Drift confirmed by the policy (feature drift or a realized-AUC drop) → the retraining job, "
    "once per body of evidence.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def drift_retrain_sensor(context: dg.SensorEvaluationContext, drift_monitor: DriftMonitor, notifier: Notifier):
    """Launch retraining when the drift policy confirms drift; every skipped tick says why."""
    state = load_cursor(context.cursor)
    records: dict[str, dict[str, Any]] = state.setdefault("records", {})
    after: dict[str, int] = state.setdefault("after", {})
    for source in _SOURCES:
        for record in _new_materializations(context.instance, source, after.get(source)):
            after[source] = record.storage_id
            _merge(records, source, record, drift_monitor)
    for stale in sorted(records)[:-_HISTORY_LIMIT]:
        del records[stale]
    history = [records[key] for key in sorted(records)]
    decision = should_retrain(history, drift_monitor.policy, last_retrain_batch=state.get("last_retrain_batch"))
    if not decision.retrain:
        return dg.SensorResult(cursor=dump_cursor(state), skip_reason=decision.reason)
    # The batches that first met the policy are the evidence: a replay from an older
    # cursor, which sees a longer streak, derives the same run key.
    evidence = decision.evidence[: drift_monitor.policy.consecutive_batches]
    reference = records[evidence[-1]].get("reference_version", "")
    state["last_retrain_batch"] = decision.evidence[-1]
    run_key = "drift-retrain-" + hashlib.sha256("\n".join([reference, *evidence]).encode()).hexdigest()[:20]
    tags = {
        TRIGGER_TAG: "sensor:drift_retrain_sensor",
        EVIDENCE_TAG: ",".join(evidence),
        "asset_platform/reference_version": reference,
        "asset_platform/drift_reason": decision.reason[:1000],
    }
    _announce(notifier, context, evidence, decision.reason, [records[key] for key in evidence], run_key)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key, tags=tags)], cursor=dump_cursor(state))


def _new_materializations(instance: dg.DagsterInstance, asset: str, after: int | None) -> list:
    records_filter = dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after)
    return instance.fetch_materializations(records_filter, limit=200, ascending=True).records


def _merge(records: dict[str, dict], source: str, record, monitor: DriftMonitor) -> None:
    key = record.partition_key
    metadata = record.asset_materialization.metadata
    if source == "batch_drift":
        previous = records.get(key, {})
        # The reference is the reference_profile version the batch was measured against.
        inputs = metadata["dvc/inputs"].value if "dvc/inputs" in metadata else {}
        reference = inputs.get("reference_profile", metadata["assessment"].value.get("reference_version", ""))
        records[key] = {
            **metadata["assessment"].value,
            "reference_version": reference,
            "auc_drop": previous.get("auc_drop"),
        }
        drop = previous.get("auc_drop")
    else:
        drop = metadata["performance/auc_drop"].value
        records.setdefault(key, {"batch_key": key, "judged": False, "n_rows": 0})["auc_drop"] = drop
    if drop is not None and drop > monitor.max_auc_drop and records[key].get("judged", False):
        merged = records[key]
        merged["drift_detected"] = True
        merged["status"] = "error"
        merged["drifted_features"] = sorted({*merged.get("drifted_features", []), "performance"})


def _announce(notifier: Notifier, context, keys: tuple[str, ...], reason: str, evidence: list[dict], run_key: str):
    features = tuple(sorted({f for record in evidence for f in record.get("drifted_features", [])}))
    share = max((record.get("drift_share", 0.0) for record in evidence), default=0.0)
    notifier.notify(
        DriftConfirmed(
            asset="batch_drift",
            batch_keys=keys,
            drifted_features=features,
            drift_share=share,
            max_psi=max((record.get("max_psi", 0.0) for record in evidence), default=0.0),
        ),
        log=context.log,
    )
    notifier.notify(
        RetrainingStarted(
            asset=RETRAINING_JOB,
            run_id=run_key,
            trigger="sensor:drift_retrain_sensor",
            evidence={"batches": list(keys), "reason": reason},
        ),
        log=context.log,
    )
