"""New production batch files of a declared model → a dynamic partition each, scored and checked for drift.

The cursor remembers every file by size, modification time and md5: a file seen
once is never registered twice, a rewritten file is noticed by its content, and
a file whose content duplicates another batch is quarantined, not scored twice.
Files are registered in landing order (modification time), whatever their names.
Unusable files (not regular, links out of the landing folder, unsafe names) are
quarantined by the landing scan and named in the tick's skip reason; files still
settling (`landing.settle_seconds`, or a dataset folder without its `_SUCCESS`
marker) are named and taken on a later tick. A dataset folder (`events.parquet/`
of part files, as Spark writes) is one batch, its md5 a digest of its parts'.

One batch is one run in one process: its steps (landing and contract check, scoring, drift) share the run's
process (the jobs' in-process executor), so the champion is loaded once and the code location once. When the
batch's labels already landed beside it (a backfill, a late batch), its first run is `labeled_job`, which
computes the realized performance in the same run; the labels sensor then finds them taken (its run carries
`LABELS_MD5_TAG`). Labels landing later get a performance run of their own: they come later.

A file counts as done only once its scoring run succeeded: the cursor keeps each
requested run (`pending`) and a failed one is asked for again with an attempt
number while its file is still in production/, up to `MAX_ATTEMPTS` times
(sensors/retries.py); then the skip reason names the file.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import LifecycleNames
from asset_platform.landing import LandingZone, ModelLanding, landed_md5, landed_signature
from asset_platform.registry.trigger import BATCH_MD5_TAG, TRIGGER_TAG
from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S
from asset_platform.sensors.cursor import dump_cursor, load_cursor
from asset_platform.sensors.labels_arrival import LABELS_MD5_TAG
from asset_platform.sensors.retries import MAX_ATTEMPTS, ask_again, attempts_made, requested, review


def build_batch_sensor(
    declaration: ModelDeclaration,
    names: LifecycleNames,
    job: Any,
    partitions: dg.DynamicPartitionsDefinition,
    interval_s: int = DEFAULT_SENSOR_INTERVAL_S,
    labeled_job: Any = None,
) -> dg.SensorDefinition:
    """`job` scores a batch; `labeled_job`, if given, scores one whose labels landed with it and measures them too."""

    @dg.sensor(
        name=names.batch_sensor,
        jobs=[job, labeled_job] if labeled_job is not None else [job],
        minimum_interval_seconds=interval_s,
        description=f"New or rewritten {declaration.name} production batch files → a dynamic partition each, "
        "validated, scored and checked for drift; duplicates and unusable files are quarantined, failed "
        "scoring runs are asked for again.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def batch_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        state = load_cursor(context.cursor)
        files: dict[str, list] = state.setdefault("files", {})
        owners: dict[str, str] = state.setdefault("md5", {})
        pending: dict[str, dict[str, Any]] = state.setdefault("pending", {})
        model_landing = landing.for_model(declaration)
        # What the previous tick saw of each file: one that changed since is still being written.
        scan = model_landing.production_batches(state.get("observed"))
        state["observed"] = scan.observed
        requests, new_keys = [], []
        notes = [*scan.quarantined, *(f"settling: {name}" for name in scan.settling)]
        landed_labels = _LandedLabels(model_landing, notes) if labeled_job is not None else None

        def request(stem: str, entry: dict[str, Any]) -> None:
            tags = {TRIGGER_TAG: f"sensor:{names.batch_sensor}", BATCH_MD5_TAG: entry["md5"]}
            labels = entry.get("labels")
            if labels:  # taken with the batch: the labels sensor leaves them to this run
                tags[LABELS_MD5_TAG] = labels
            requests.append(
                dg.RunRequest(
                    run_key=entry["run_key"],
                    partition_key=stem,
                    job_name=(labeled_job if labels else job).name,
                    tags=tags,
                )
            )

        for path in _landing_order(scan.files):
            try:
                signature = landed_signature(path)
                seen = files.get(path.name)
                if seen and seen[:2] == signature:
                    continue
                md5 = landed_md5(path)
                after = landed_signature(path)
            except OSError as error:  # vanished or unreadable between the scan and now: next tick
                notes.append(f"{path.name}: {error}")
                continue
            if after != signature:
                notes.append(f"settling: {path.name} (changed while it was read)")
                state["observed"].pop(path.name, None)
                continue
            files[path.name] = [*signature, md5]
            if seen and seen[2] == md5:
                continue  # touched, same content
            owner = owners.get(md5)
            if owner and owner != path.name:
                try:
                    moved = model_landing.quarantine_file(
                        path, f"batch {path.stem} duplicates {owner} (same md5 {md5})"
                    )
                    notes.append(f"{path.name} duplicates {owner}: quarantined to {moved}")
                except OSError as error:
                    notes.append(f"{path.name} duplicates {owner}; could not be quarantined: {error}")
                del files[path.name]
                continue
            owners[md5] = path.name
            if not seen:
                new_keys.append(path.stem)
            entry = pending[path.name] = requested(context.instance, f"{declaration.name}:{path.stem}:{md5}", md5)
            labels = landed_labels.md5(path.stem) if landed_labels is not None and attempts_made(entry) == 1 else None
            if labels:
                entry["labels"] = labels
            request(path.stem, entry)

        asked = {request.partition_key for request in requests}
        taken = {path.name for path in scan.files}
        for name, entry in list(pending.items()):
            stem = Path(name).stem
            if stem in asked or (name in scan.observed and name not in taken):
                continue  # asked already, or being written again: judged once it settled
            if not _unchanged(model_landing, files, name, entry):
                # Quarantined or removed before it was scored: forget it, so the same content landed
                # again (fixed, under a new name) is a new batch, not a duplicate.
                del pending[name]
                if not (model_landing.production / name).exists():
                    files.pop(name, None)
                    if owners.get(entry["md5"]) == name:
                        del owners[entry["md5"]]
                continue
            if entry.get("exhausted"):
                notes.append(_given_up(name, entry))
                continue
            verdict = review(context.instance, entry["run_key"])
            if verdict.state == "done":
                del pending[name]
            elif verdict.state == "missing":
                request(stem, entry)  # never created: the same key, and the same job, again
            elif verdict.state == "failed":
                if ask_again(entry) is None:
                    entry["last_run"] = verdict.run_id
                    notes.append(_given_up(name, entry))
                    continue
                # Scored again without the labels: a labels file that failed the run is the labels sensor's
                # to retry (its own performance runs), not a reason to fail the batch's scoring again.
                entry.pop("labels", None)
                context.log.warning(
                    f"scoring run {verdict.run_id} of {name} failed: asking again (attempt "
                    f"{attempts_made(entry)} of {MAX_ATTEMPTS})"
                )
                request(stem, entry)

        skip = None
        if requests:
            for note in notes:
                context.log.warning(note)
        else:
            skip = "; ".join(notes) or f"no new or changed batch files in {model_landing.production}"
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[partitions.build_add_request(new_keys)] if new_keys else [],
            cursor=dump_cursor(state),
            skip_reason=skip,
        )

    return batch_sensor


class _LandedLabels:
    """The labels already settled in the labels folder, looked at once per tick and only when a batch is asked for."""

    def __init__(self, landing: ModelLanding, notes: list[str]) -> None:
        self.landing, self.notes = landing, notes
        self._settled: set[str] | None = None

    def md5(self, stem: str) -> str | None:
        """The md5 of batch `stem`'s labels if they landed and settled, else None (taken by the labels sensor)."""
        if self._settled is None:
            # The labels sensor's own rules (settling, unusable names); a file it would quarantine is moved here
            # already, and named in this tick's notes.
            scan = self.landing.scan(self.landing.labels)
            self.notes.extend(scan.quarantined)
            self._settled = {path.stem for path in scan.files}
        if stem not in self._settled:
            return None
        try:
            return landed_md5(self.landing.labels_path(stem))
        except OSError:  # gone since the scan: the labels sensor takes them whenever they are back
            return None


def _landing_order(files: list[Path]) -> list[Path]:
    """Files by landing time (modification time, then name): files landed between two ticks become
    partitions in the order they landed, which is the order every consumer of "the newest batches" reads."""

    def landed(path: Path) -> tuple[int, str]:
        try:
            return path.stat().st_mtime_ns, path.name
        except OSError:  # vanished since the scan: its turn comes with the error, below
            return 0, path.name

    return sorted(files, key=landed)


def _unchanged(landing: ModelLanding, files: dict[str, list], name: str, entry: dict[str, Any]) -> bool:
    """Is the file (or dataset folder) the run was asked for still in production/, with the same content?"""
    seen = files.get(name)
    return bool(seen) and seen[2] == entry["md5"] and (landing.production / name).exists()


def _given_up(name: str, entry: dict[str, Any]) -> str:
    last = f" (last run {entry['last_run']})" if entry.get("last_run") else ""
    return (
        f"{name}: scoring failed {attempts_made(entry)} times{last}; not asked again until the "
        "file changes: fix it and land it again, or move it to quarantine"
    )
