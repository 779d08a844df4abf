"""The audit export: the chain from a model version back to the raw data it came from.

Dagster records on every materialization the data version and the event-log
pointer of each input it read (`dagster/input_data_version/<key>`,
`dagster/input_event_pointer/<key>` tags). Following those pointers gives the
same lineage the UI draws, version by version, down to the landing files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from asset_platform.registry.trigger import EVIDENCE_TAG, describe_trigger

_POINTER_PREFIX = "dagster/input_event_pointer/"
_DATA_VERSION_TAG = "dagster/data_version"
_SEARCH_LIMIT = 500


@dataclass
class LineageStep:
    asset: str
    data_version: str
    run_id: str
    trigger: str
    materialized_at: str
    evidence: str | None = None
    source_files: dict[str, Any] | None = None
    inputs: list[LineageStep] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_materialization(instance: dg.DagsterInstance, asset: str, version: str | None) -> dg.EventLogRecord:
    """The newest materialization of `asset` (a key path such as `ecommerce/champion`), or the one whose data
    version starts with `version`."""
    key = dg.AssetKey.from_user_string(asset)
    records = instance.fetch_materializations(key, limit=_SEARCH_LIMIT).records
    for record in records:
        data_version = record.asset_materialization.tags.get(_DATA_VERSION_TAG, "")
        if version is None or data_version.startswith(version):
            return record
    what = f"version {version!r} of {asset}" if version else f"a materialization of {asset}"
    raise LookupError(f"the Dagster instance has no {what}; `asset-platform models list` shows model versions")


def trace(instance: dg.DagsterInstance, record: dg.EventLogRecord) -> LineageStep:
    """The lineage tree rooted at one materialization record."""
    materialization = record.asset_materialization
    tags = materialization.tags or {}
    run = instance.get_run_by_id(record.run_id)
    run_tags = run.tags if run else {}
    step = LineageStep(
        asset=materialization.asset_key.to_user_string(),
        data_version=tags.get(_DATA_VERSION_TAG, "unknown"),
        run_id=record.run_id,
        trigger=describe_trigger(run_tags),
        materialized_at=dt.datetime.fromtimestamp(record.timestamp, dt.UTC).isoformat(timespec="seconds"),
        evidence=run_tags.get(EVIDENCE_TAG),
    )
    sources = materialization.metadata.get("source_files")
    if sources is not None:
        step.source_files = sources.value
    for tag, storage_id in sorted(tags.items()):
        if tag.startswith(_POINTER_PREFIX) and storage_id.isdigit():
            parent = _by_storage_id(instance, tag.removeprefix(_POINTER_PREFIX), int(storage_id))
            if parent is not None:
                step.inputs.append(trace(instance, parent))
    return step


def _by_storage_id(instance: dg.DagsterInstance, asset: str, storage_id: int) -> dg.EventLogRecord | None:
    key = dg.AssetKey.from_user_string(asset)
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, storage_ids=[storage_id]), limit=1)
    return records.records[0] if records.records else None


def render(step: LineageStep, depth: int = 0, seen: set[tuple[str, str]] | None = None) -> list[str]:
    """The tree as indented text lines; a version reached twice is expanded only once."""
    seen = set() if seen is None else seen
    indent = "  " * depth + ("└─ " if depth else "")
    line = (
        f"{indent}{step.asset}  {step.data_version[:12]}  run {step.run_id[:8]}  "
        f"{step.materialized_at}  by {step.trigger}"
    )
    if (step.asset, step.data_version) in seen:
        return [line + "  (see above)"]
    seen.add((step.asset, step.data_version))
    lines = [line + (f"  evidence: {step.evidence}" if step.evidence else "")]
    for name, md5 in (step.source_files or {}).items():
        lines.append(f"{'  ' * (depth + 1)}└─ landing file {name}  md5 {md5}")
    for parent in step.inputs:
        lines += render(parent, depth + 1, seen)
    return lines


_INPUT_VERSION_PREFIX = "dagster/input_data_version/"


def trained_from(
    instance: dg.DagsterInstance, model: dg.AssetKey, version: str, training_set: dg.AssetKey, dataset: dg.AssetKey
) -> str | None:
    """The data version of `dataset` that model `version`'s training split was cut from, or None when the
    event log does not know (the model's or the split's materialization is gone).

    Read from Dagster's provenance tags: the model's materialization points at the `training_set`
    materialization it read, whose tags name the `dataset` version the split read. The first
    materialization of the model version counts, so the answer never changes for the same bytes.
    """
    cursor = None
    while True:
        page = instance.fetch_materializations(model, limit=_SEARCH_LIMIT, cursor=cursor, ascending=True)
        for record in page.records:
            tags = record.asset_materialization.tags or {}
            if tags.get(_DATA_VERSION_TAG) != version:
                continue
            pointer = tags.get(_POINTER_PREFIX + training_set.to_user_string(), "")
            split = _by_storage_id(instance, training_set.to_user_string(), int(pointer)) if pointer.isdigit() else None
            if split is None:
                return None
            return (split.asset_materialization.tags or {}).get(_INPUT_VERSION_PREFIX + dataset.to_user_string())
        if not page.has_more:
            return None
        cursor = page.cursor
