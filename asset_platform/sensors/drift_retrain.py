"""Drift confirmed by a declared model's policy → its retraining job, exactly once per body of evidence.

Reads new `<model>/drift` and `<model>/performance` materializations (the cursor
keeps event-log positions and a short per-batch history) and hands them to the
decision module (`asset_platform.drift.retrain`), which merges them per batch,
decides, and derives the run key from the evidence, so a restarted daemon or a
re-evaluated tick never launches a duplicate. Only this model's assets are read:
drift in one model never retrains another. Batches are judged in the order they
arrived (their partitions' creation order), never in name order.
"""

import datetime as dt
from dataclasses import replace
from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import DRIFT, PERFORMANCE, REFERENCE_PROFILE, LifecycleNames
from asset_platform.drift.evidence import BatchEvidence
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.drift.retrain import (
    Recovery,
    merge_drift,
    merge_performance,
    recovery_after,
    retrain_run_key,
    should_follow_up,
    should_retrain,
)
from asset_platform.notify import DriftConfirmed, Notifier, RetrainingStarted
from asset_platform.registry.trigger import DRIFT_REASON_TAG, EVIDENCE_TAG, FOLLOW_UP, REFERENCE_TAG, TRIGGER_TAG
from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S
from asset_platform.sensors.cursor import dump_cursor, load_cursor

_HISTORY_LIMIT = 60
RUN_KEY = "dagster/run_key"


def build_drift_retrain_sensor(
    declaration: ModelDeclaration, names: LifecycleNames, job: Any, interval_s: int = DEFAULT_SENSOR_INTERVAL_S
) -> dg.SensorDefinition:
    sources = {names.key(DRIFT): "drift", names.key(PERFORMANCE): "performance"}
    trigger = f"sensor:{names.drift_retrain_sensor}"

    @dg.sensor(
        name=names.drift_retrain_sensor,
        job=job,
        minimum_interval_seconds=interval_s,
        description=f"Drift of {declaration.name} confirmed by its policy (feature drift, a realized "
        f"{declaration.metric_name} degradation or a label shift) → {names.retraining_job}, once per body of evidence.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def drift_retrain_sensor(context: dg.SensorEvaluationContext, drift_monitor: DriftMonitor, notifier: Notifier):
        policy = drift_monitor.policy_for(declaration.monitoring.drift)
        state = load_cursor(context.cursor)
        # The cursor keeps each batch's evidence as its JSON record; older cursors' records read as well.
        records = {key: BatchEvidence.from_record(record) for key, record in state.get("records", {}).items()}
        after: dict[str, int] = state.setdefault("after", {})
        for key, kind in sources.items():
            for record in _new_materializations(context.instance, key, after.get(kind)):
                after[kind] = record.storage_id
                _merge(records, kind, record, declaration.metric_drop_alarm, declaration.monitoring.max_label_shift)
        arrived = arrival_order(context.instance, names.partitions, records)
        for stale in arrived[:-_HISTORY_LIMIT]:
            del records[stale]
        state["records"] = {key: evidence.to_record() for key, evidence in records.items()}
        history = [records[key] for key in arrived[-_HISTORY_LIMIT:]]
        _settle_pending_retrain(context.instance, state, names.champion)
        last_at = state.get("last_retrain_at")
        decision = should_retrain(
            history,
            policy,
            last_retrain_batch=state.get("last_retrain_batch"),
            last_retrain_at=dt.datetime.fromisoformat(last_at) if last_at else None,
            spent_batch=state.get("spent_batch"),
        )
        if not decision.retrain:
            return _follow_up(context, notifier, state, history, records, decision.reason)
        evidence = decision.confirming(policy)
        reference = records[evidence[-1]].reference_version
        run_key = retrain_run_key(declaration.name, reference, evidence)
        # What this retrain sets out to win back: follow-ups retrain again until it is (drift/retrain.py).
        recovery = recovery_after(history, evidence, declaration.metric_name)
        state.pop("recovery", None)
        if recovery is not None and declaration.retraining.follow_up.max_follow_ups > 0:
            state["recovery"] = recovery.to_dict()
        _count_retrain(state, run_key, decision.evidence[-1])
        tags = {
            TRIGGER_TAG: trigger,
            EVIDENCE_TAG: ",".join(evidence),
            REFERENCE_TAG: reference,
            DRIFT_REASON_TAG: decision.reason[:1000],
        }
        _announce(notifier, context, names, evidence, decision.reason, [records[key] for key in evidence], run_key)
        request = dg.RunRequest(run_key=run_key, tags=tags, run_config=_retraining_config(records, evidence))
        return dg.SensorResult(run_requests=[request], cursor=dump_cursor(state))

    def _follow_up(context, notifier, state, history, records, drift_reason: str) -> dg.SensorResult:
        """No new drift: while a recovery is open, retrain again on the post-drift window if it calls for it."""
        if "recovery" not in state:
            return dg.SensorResult(cursor=dump_cursor(state), skip_reason=drift_reason)
        recovery = Recovery.from_dict(state["recovery"])
        spec = declaration.retraining.follow_up
        decision = should_follow_up(
            history,
            recovery,
            metric=declaration.metric_name,
            max_drop=declaration.metric_drop_alarm,
            max_follow_ups=spec.max_follow_ups,
            min_new_rows=spec.min_new_rows,
            cooldown_batches=spec.cooldown_batches,
            last_retrain_batch=state.get("last_retrain_batch"),
        )
        if decision.finished:
            state.pop("recovery")
        if not decision.retrain:
            return dg.SensorResult(cursor=dump_cursor(state), skip_reason=f"{drift_reason}; {decision.reason}")
        reference = records[decision.evidence[-1]].reference_version
        run_key = retrain_run_key(declaration.name, reference, (FOLLOW_UP, recovery.since, *decision.evidence))
        state["recovery"] = replace(recovery, follow_ups=recovery.follow_ups + 1).to_dict()
        _count_retrain(state, run_key, decision.evidence[-1], follow_up=True)
        tags = {
            TRIGGER_TAG: f"{trigger}:{FOLLOW_UP}",
            EVIDENCE_TAG: ",".join(decision.evidence),
            REFERENCE_TAG: reference,
            DRIFT_REASON_TAG: decision.reason[:1000],
        }
        started = RetrainingStarted(
            asset=names.retraining_job,
            run_id=run_key,
            trigger=tags[TRIGGER_TAG],
            evidence={"model": declaration.name, "batches": list(decision.evidence), "reason": decision.reason},
        )
        notifier.notify(started, log=context.log)
        request = dg.RunRequest(run_key=run_key, tags=tags, run_config=_follow_up_config(recovery.since))
        return dg.SensorResult(run_requests=[request], cursor=dump_cursor(state))

    def _retraining_config(records: dict[str, BatchEvidence], evidence: tuple[str, ...]) -> dict:
        spec = declaration.retraining
        config: dict[str, Any] = {"window_days": spec.window_days, "holdout_fraction": spec.retrain_holdout_fraction}
        starts = [records[key].batch_start for key in evidence if records[key].batch_start]
        if spec.from_evidence and starts:
            config.update(since=min(starts), min_rows=spec.min_rows)
        return {"ops": {names.feature_op: {"config": config}}}

    def _follow_up_config(since: str) -> dict:
        """The whole post-drift window, however long it has grown: `since` the drift began, no window_days cap."""
        spec = declaration.retraining
        config = {
            "window_days": None,
            "holdout_fraction": spec.retrain_holdout_fraction,
            "since": since,
            "min_rows": spec.min_rows,
        }
        return {"ops": {names.feature_op: {"config": config}}}

    def _announce(notifier, context, names, keys, reason, evidence, run_key) -> None:
        features = tuple(sorted({f for record in evidence for f in record.drifted}))
        notifier.notify(
            DriftConfirmed(
                asset=names.key(DRIFT).to_user_string(),
                batch_keys=tuple(keys),
                drifted_features=features,
                drift_share=max((record.drift_share for record in evidence), default=0.0),
                max_psi=max((record.max_psi or 0.0 for record in evidence), default=0.0),
            ),
            log=context.log,
        )
        notifier.notify(
            RetrainingStarted(
                asset=names.retraining_job,
                run_id=run_key,
                trigger=trigger,
                evidence={"model": declaration.name, "batches": list(keys), "reason": reason},
            ),
            log=context.log,
        )

    return drift_retrain_sensor


def _count_retrain(state: dict[str, Any], run_key: str, batch: str, follow_up: bool = False) -> None:
    """Counted as a retrain now (a tick must not ask twice); taken back if the run fails for good."""
    state["pending_retrain"] = {
        "run_key": run_key,
        "batch": batch,
        "previous_batch": state.get("last_retrain_batch"),
        "previous_at": state.get("last_retrain_at"),
        "follow_up": follow_up,
    }
    state["last_retrain_batch"] = batch
    state["last_retrain_at"] = dt.datetime.now(dt.UTC).isoformat()


def _settle_pending_retrain(instance: dg.DagsterInstance, state: dict[str, Any], champion: dg.AssetKey) -> None:
    """A requested retrain that failed for good does not count for the cooldown; its evidence stays spent.
    A follow-up whose challenger the gate rejected ends the recovery: the growing window stopped improving."""
    from asset_platform.sensors.retries import review

    pending = state.get("pending_retrain")
    if pending is None:
        return
    outcome = review(instance, pending["run_key"]).state
    if outcome == "done":
        state.pop("pending_retrain")
        state.pop("spent_batch", None)
        if pending.get("follow_up") and _gate_decision(instance, pending["run_key"], champion) == "rejected":
            state.pop("recovery", None)
    elif outcome == "failed":  # failed, and Dagster's run-retry policy will not run it again
        state.pop("pending_retrain")
        state["last_retrain_batch"], state["last_retrain_at"] = pending["previous_batch"], pending["previous_at"]
        state["spent_batch"] = pending["batch"]


def _gate_decision(instance: dg.DagsterInstance, run_key: str, champion: dg.AssetKey) -> str | None:
    """The promotion gate's decision in the run of `run_key` (promoted, rejected, ...), None if it made none."""
    runs = {record.dagster_run.run_id for record in instance.get_run_records(dg.RunsFilter(tags={RUN_KEY: run_key}))}
    for record in instance.fetch_materializations(champion, limit=20).records:
        if record.run_id in runs:
            decision = record.asset_materialization.metadata.get("decision")
            return None if decision is None else str(getattr(decision, "value", decision))
    return None


def arrival_order(instance: dg.DagsterInstance, partitions_name: str, keys) -> list[str]:
    """`keys` (batch keys), oldest arrival first: the order the batch sensor registered their partitions.

    Batch names are the upstream system's choice and need not sort by time
    (`ref09` sorts after `ana00`), so "the newest batches" are the newest
    registrations, never the last names. Dagster keeps a dynamic partitions set in
    creation order. A key whose partition is gone (deleted by hand) counts as
    oldest, so it is the first to be trimmed; ties keep the cursor's order.
    """
    position = {key: index for index, key in enumerate(instance.get_dynamic_partitions(partitions_name))}
    return sorted(keys, key=lambda key: position.get(key, -1))


def _new_materializations(instance: dg.DagsterInstance, key: dg.AssetKey, after: int | None) -> list:
    records_filter = dg.AssetRecordsFilter(asset_key=key, after_storage_id=after)
    return instance.fetch_materializations(records_filter, limit=200, ascending=True).records


def _merge(
    records: dict[str, BatchEvidence], kind: str, record, max_drop: float, max_label_shift: float | None
) -> None:
    key, metadata = record.partition_key, record.asset_materialization.metadata
    shown = BatchEvidence.from_metadata(metadata, batch_key=key)
    if kind == "drift":
        # The reference is the reference_profile version the batch was measured against.
        inputs = metadata["dvc/inputs"].value if "dvc/inputs" in metadata else {}
        reference = next((v for k, v in inputs.items() if k.endswith(REFERENCE_PROFILE)), "")
        merge_drift(records, key, shown, reference)
    elif shown.degradation is not None:  # a batch with nothing to measure records no degradation
        merge_performance(
            records,
            key,
            shown.degradation,
            max_drop,
            label_shift=shown.label_shift,
            max_label_shift=max_label_shift,
            realized_metric=shown.realized_metric,
        )
