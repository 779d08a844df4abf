"""New production batch files of a declared model → a dynamic partition each, scored and checked for drift.

The cursor remembers every file by size, modification time and md5: a file seen
once is never registered twice, a rewritten file is noticed by its content, and
a file whose content duplicates another batch is quarantined, not scored twice.
Unusable files (not regular, links out of the landing folder, unsafe names) are
quarantined by the landing scan and named in the tick's skip reason.
"""

from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.landing import LandingZone
from asset_platform.lifecycle.names import LifecycleNames
from asset_platform.registry.trigger import BATCH_MD5_TAG, TRIGGER_TAG
from asset_platform.storage.hashing import md5_file
from sensors.cursor import dump_cursor, load_cursor


def build_batch_sensor(
    declaration: ModelDeclaration,
    names: LifecycleNames,
    job: Any,
    partitions: dg.DynamicPartitionsDefinition,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=names.batch_sensor,
        job=job,
        minimum_interval_seconds=30,
        description=f"New or rewritten {declaration.name} production batch files → a dynamic partition each, "
        "validated, scored and checked for drift; duplicates and unusable files are quarantined.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def batch_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        state = load_cursor(context.cursor)
        files: dict[str, list] = state.setdefault("files", {})
        owners: dict[str, str] = state.setdefault("md5", {})
        model_landing = landing.for_model(declaration)
        scan = model_landing.production_batches()
        requests, new_keys, notes = [], [], list(scan.quarantined)
        for path in scan.files:
            try:
                stat = path.stat()
                seen = files.get(path.name)
                if seen and seen[:2] == [stat.st_size, stat.st_mtime_ns]:
                    continue
                md5 = md5_file(path)
            except OSError as error:  # vanished or unreadable between the scan and now: next tick
                notes.append(f"{path.name}: {error}")
                continue
            files[path.name] = [stat.st_size, stat.st_mtime_ns, md5]
            if seen and seen[2] == md5:
                continue  # touched, same content
            owner = owners.get(md5)
            if owner and owner != path.name:
                moved = model_landing.quarantine_file(path, f"batch {path.stem} duplicates {owner} (same md5 {md5})")
                notes.append(f"{path.name} duplicates {owner}: quarantined to {moved}")
                del files[path.name]
                continue
            owners[md5] = path.name
            if not seen:
                new_keys.append(path.stem)
            requests.append(
                dg.RunRequest(
                    run_key=f"{declaration.name}:{path.stem}:{md5}",
                    partition_key=path.stem,
                    tags={TRIGGER_TAG: f"sensor:{names.batch_sensor}", BATCH_MD5_TAG: md5},
                )
            )
        skip = None
        if not requests:
            skip = "; ".join(notes) or f"no new or changed batch files in {model_landing.production}"
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[partitions.build_add_request(new_keys)] if new_keys else [],
            cursor=dump_cursor(state),
            skip_reason=skip,
        )

    return batch_sensor
