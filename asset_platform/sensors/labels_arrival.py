"""Delayed labels of a declared model's scored batch → its realized performance is computed.

A labels file is taken only once its batch has predictions; until then it waits
(named in the skip reason) rather than being recorded and forgotten. It counts
as done only once its performance run succeeded: a failed run is asked for again
with an attempt number while the labels and the batch are still in place, up to
`MAX_ATTEMPTS` times (sensors/retries.py); then the skip reason names it.

Labels that landed before their batch was asked for are taken by the batch's own
scoring run (its run carries `LABELS_MD5_TAG`): the sensor waits for that run and
asks for no second one unless it failed. Each labels file is hashed once per
content (size and modification time), so an idle tick costs a listing, not a read
of every labels file ever landed, nor an event-log query per batch.
"""

from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import PREDICTIONS, LifecycleNames
from asset_platform.landing import LandingZone, landed_md5, landed_signature
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S
from asset_platform.sensors.cursor import dump_cursor, load_cursor
from asset_platform.sensors.retries import MAX_ATTEMPTS, ask_again, attempts_made, requested, review, review_tagged

# On a batch's scoring run that computed its performance too: the md5 of the labels it took.
LABELS_MD5_TAG = "asset_platform/labels_md5"
# Dagster's tag of a run's partition.
_PARTITION_TAG = "dagster/partition"


def build_labels_sensor(
    declaration: ModelDeclaration, names: LifecycleNames, job: Any, interval_s: int = DEFAULT_SENSOR_INTERVAL_S
) -> dg.SensorDefinition:
    @dg.sensor(
        name=names.labels_sensor,
        job=job,
        minimum_interval_seconds=interval_s,
        description=f"Delayed labels of a scored {declaration.name} batch → its realized "
        f"{declaration.metric_name} (performance); failed runs are asked for again.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def labels_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        state = _state(load_cursor(context.cursor))
        done: dict[str, str] = state["done"]
        pending: dict[str, dict[str, Any]] = state["pending"]
        model_landing = landing.for_model(declaration)
        requests, waiting, notes = [], [], []

        def request(key: str, run_key: str) -> None:
            requests.append(
                dg.RunRequest(run_key=run_key, partition_key=key, tags={TRIGGER_TAG: f"sensor:{names.labels_sensor}"})
            )

        # What the previous tick saw of each labels file: one that changed since is still being written.
        labels_scan = model_landing.scan(model_landing.labels, state.get("observed"))
        state["observed"] = labels_scan.observed
        notes.extend(f"settling: {name}" for name in labels_scan.settling)
        settled = {path.name for path in labels_scan.files}
        labeled = [path.stem for path in model_landing.production_batches().files if path.name in settled]
        notes.extend(_orphans(context.instance, names, declaration, model_landing, labels_scan.files, labeled))
        current: dict[str, str] = {}
        hashed: dict[str, list] = state["hashed"]
        for key in labeled:
            try:
                md5 = _labels_md5(model_landing.labels_path(key), hashed, key)  # a file, or a folder's digest
            except OSError as error:
                notes.append(f"labels of {key}: {error}")
                continue
            if done.get(key) == md5 and key not in pending:
                current[key] = md5
                continue  # taken before, unchanged
            if not _scored(context.instance, names.key(PREDICTIONS), key):
                waiting.append(key)
                continue
            current[key] = md5
            if done.get(key) == md5 or pending.get(key, {}).get("md5") == md5:
                continue
            joined = review_tagged(context.instance, {_PARTITION_TAG: key, LABELS_MD5_TAG: md5})
            if joined.state == "done":  # the batch's scoring run took them
                done[key] = md5
                continue
            if joined.state == "waiting":
                waiting.append(key)
                continue
            pending[key] = requested(context.instance, f"{declaration.name}:labels:{key}:{md5}", md5)
            request(key, pending[key]["run_key"])

        asked = {request.partition_key for request in requests}
        for key, entry in list(pending.items()):
            if key in asked:
                continue
            if current.get(key) != entry["md5"]:
                if key not in waiting:
                    del pending[key]  # labels or batch gone or changed (a change is a new request)
                continue
            if entry.get("exhausted"):
                notes.append(_given_up(key, entry))
                continue
            verdict = review(context.instance, entry["run_key"])
            if verdict.state == "done":
                done[key] = entry["md5"]
                del pending[key]
            elif verdict.state == "missing":
                request(key, entry["run_key"])
            elif verdict.state == "failed":
                run_key = ask_again(entry)
                if run_key is None:
                    entry["last_run"] = verdict.run_id
                    notes.append(_given_up(key, entry))
                    continue
                context.log.warning(
                    f"performance run {verdict.run_id} of batch {key} failed: asking again (attempt "
                    f"{attempts_made(entry)} of {MAX_ATTEMPTS})"
                )
                request(key, run_key)

        for key in set(hashed) - set(labeled):
            del hashed[key]  # gone from the folders: hashed again if it comes back
        if waiting:
            notes.append(f"labels waiting for their batch to be scored: {', '.join(waiting)}")
        skip = None
        if requests:
            for note in notes:
                context.log.info(note)
        else:
            skip = "; ".join(notes) or "no new labels"
        return dg.SensorResult(run_requests=requests, cursor=dump_cursor(state), skip_reason=skip)

    return labels_sensor


def _orphans(instance, names: LifecycleNames, declaration: ModelDeclaration, landing, files, labeled) -> list[str]:
    """Labels files whose batch never landed: named while young, quarantined once `orphan_labels_hours` old.

    A batch that landed once is a partition even after its file left production/ (quarantined, archived):
    its labels are not orphans. Labels may land before their batch, hence the grace period.
    """
    import time

    known: set[str] | None = None  # read only when a labels file has no batch file beside it
    grace_s = declaration.landing.orphan_labels_hours * 3600
    notes, waiting = [], []
    labeled = set(labeled)
    for path in files:
        if path.stem in labeled or landing.batch_path(path.stem).exists():
            continue
        if known is None:
            known = set(instance.get_dynamic_partitions(names.partitions))
        if path.stem in known:
            continue
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            continue
        if age < grace_s:
            waiting.append(path.name)
            continue
        hours = declaration.landing.orphan_labels_hours
        reason = f"labels {path.name}: no batch {path.stem} ever landed in {landing.production} within {hours:g} h"
        try:
            moved = landing.quarantine_file(path, reason)
            notes.append(f"{reason}: quarantined to {moved}")
        except OSError as error:
            notes.append(f"{reason}; could not be quarantined: {error}")
    if waiting:
        hours = declaration.landing.orphan_labels_hours
        notes.append(f"labels without a batch (quarantined after {hours:g} h): {', '.join(waiting)}")
    return notes


def _state(cursor: dict[str, Any]) -> dict[str, Any]:
    """The cursor as {done, pending, observed, hashed}; an older cursor ({batch: md5} for every requested run)
    counts as done."""
    if "done" in cursor or "pending" in cursor:
        return {
            "done": cursor.get("done", {}),
            "pending": cursor.get("pending", {}),
            "observed": cursor.get("observed", {}),
            "hashed": cursor.get("hashed", {}),
        }
    return {"done": dict(cursor), "pending": {}, "observed": {}, "hashed": {}}


def _labels_md5(path, hashed: dict[str, list], key: str) -> str:
    """The labels' md5, read again only when their size or modification time changed since they were hashed."""
    signature = landed_signature(path)
    seen = hashed.get(key)
    if seen and seen[:2] == signature:
        return seen[2]
    md5 = landed_md5(path)
    if landed_signature(path) == signature:  # not rewritten while it was read
        hashed[key] = [*signature, md5]
    return md5


def _given_up(key: str, entry: dict[str, Any]) -> str:
    last = f" (last run {entry['last_run']})" if entry.get("last_run") else ""
    return (
        f"labels of {key}: performance failed {attempts_made(entry)} times{last}; not asked again until the "
        "labels file changes"
    )


def _scored(instance: dg.DagsterInstance, predictions: dg.AssetKey, batch: str) -> bool:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=predictions, asset_partitions=[batch]), limit=1
    )
    return bool(records.records)
