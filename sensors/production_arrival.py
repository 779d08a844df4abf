"""New production batch files → a dynamic partition each, scored and checked for drift.

The cursor remembers every file by size, modification time and md5: a file seen
once is never registered twice, a rewritten file is noticed by its content, and
a file whose content duplicates another batch is quarantined, not scored twice.
"""

import dagster as dg

from asset_platform.landing import LandingZone
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.storage.hashing import md5_file
from assets.monitoring.batches import production_partitions
from sensors.cursor import dump_cursor, load_cursor

score_batch_job = dg.define_asset_job(
    "score_batch",
    selection=dg.AssetSelection.assets("production_batches", "batch_predictions", "batch_drift"),
    description="Validate one production batch, score it with the champion and measure its drift.",
)


@dg.sensor(
    job=score_batch_job,
    minimum_interval_seconds=30,
    description="New or rewritten production batch files → a dynamic partition each, validated, scored and "
    "checked for drift; duplicates are quarantined.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def production_batch_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
    """Register each new or rewritten production batch file and request its scoring run."""
    state = load_cursor(context.cursor)
    files: dict[str, list] = state.setdefault("files", {})
    owners: dict[str, str] = state.setdefault("md5", {})
    requests, new_keys, notes = [], [], []
    for path in landing.production_batches():
        stat = path.stat()
        seen = files.get(path.name)
        if seen and seen[:2] == [stat.st_size, stat.st_mtime_ns]:
            continue
        md5 = md5_file(path)
        files[path.name] = [stat.st_size, stat.st_mtime_ns, md5]
        if seen and seen[2] == md5:
            continue  # touched, same content
        owner = owners.get(md5)
        if owner and owner != path.name:
            moved = landing.quarantine_file(path, f"batch {path.stem} duplicates {owner} (same md5 {md5})")
            notes.append(f"{path.name} duplicates {owner}: quarantined to {moved}")
            del files[path.name]
            continue
        owners[md5] = path.name
        if not seen:
            new_keys.append(path.stem)
        requests.append(
            dg.RunRequest(
                run_key=f"{path.stem}:{md5}",
                partition_key=path.stem,
                tags={TRIGGER_TAG: "sensor:production_batch_sensor", "asset_platform/batch_md5": md5},
            )
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[production_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=dump_cursor(state),
        skip_reason=None
        if requests
        else "; ".join(notes) or f"no new or changed batch files in {landing.production_path}",
    )
