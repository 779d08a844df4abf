"""What the pages read from the Dagster instance: the drift materializations' metadata, the overview's rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from asset_platform.app.pages.figures import DriftBatch
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import DRIFT, PERFORMANCE, LifecycleNames
from asset_platform.drift.evidence import BatchEvidence
from asset_platform.drift.report import read_drift_table_markdown

# The drift asset's metadata entry with the per-feature table (lifecycle/monitoring.py `_drift`).
FEATURES_ENTRY = "features"
# Newest events read per asset: enough for the last batches of a model, bounded for a long history.
_EVENTS = 400
DATA_VERSION_TAG = "dagster/data_version"
# An interval of the label-free estimate, where a materialization records one: `estimated_<metric>` with
# these suffixes, as the tuning summary names its interval (`best_value_ci_low`, `best_value_ci_high`).
INTERVAL_SUFFIXES = ("_ci_low", "_ci_high")


def drift_batches(instance: dg.DagsterInstance, names: LifecycleNames, last: int = 30) -> list[DriftBatch]:
    """The newest drift materialization of each of the last `last` batches, oldest first, with realized metrics."""
    newest: dict[str, dg.EventLogRecord] = {}
    events = max(_EVENTS, 2 * last)  # each batch once, and room for the batches measured again
    for record in instance.fetch_materializations(names.key(DRIFT), limit=events).records:
        newest.setdefault(record.partition_key or "", record)
    realized: dict[str, float] = {}
    for record in instance.fetch_materializations(names.key(PERFORMANCE), limit=events).records:
        value = BatchEvidence.from_metadata(record.asset_materialization.metadata).realized_metric
        if value is not None:
            realized.setdefault(record.partition_key or "", value)
    ordered = sorted(newest.items(), key=lambda item: item[1].storage_id)[-last:]
    return [_batch(key, record, realized.get(key)) for key, record in ordered]


def _batch(key: str, record: dg.EventLogRecord, realized: float | None) -> DriftBatch:
    metadata = record.asset_materialization.metadata
    evidence = BatchEvidence.from_metadata(metadata, batch_key=key)
    table = metadata.get(FEATURES_ENTRY)
    rows = read_drift_table_markdown(str(table.value)) if table is not None else []
    return DriftBatch(
        batch_key=key,
        verdict=evidence.verdict(),
        features={str(row["feature"]): (row["psi"], str(row["level"])) for row in rows},  # type: ignore[misc]
        estimated_metric=evidence.estimated_metric,
        realized_metric=realized if realized is not None else evidence.realized_metric,
        estimate_interval=estimate_interval(metadata),
        run_id=record.run_id,
        data_version=record.asset_materialization.tags.get(DATA_VERSION_TAG, ""),
    )


def estimate_interval(metadata: Mapping[str, Any]) -> tuple[float, float] | None:
    """(low, high) of the label-free estimate where the metadata records both ends, else None."""
    low_suffix, high_suffix = INTERVAL_SUFFIXES
    for name in metadata:
        if name.startswith("estimated_") and name.endswith(low_suffix):
            low = metadata.get(name)
            high = metadata.get(name.removesuffix(low_suffix) + high_suffix)
            values = [getattr(entry, "value", entry) for entry in (low, high)]
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                return float(values[0]), float(values[1])
    return None


def fleet_rows(
    instance: dg.DagsterInstance, models: list[tuple[ModelDeclaration, LifecycleNames]]
) -> list[dict[str, Any]]:
    """The rows `fleet/overview` materializes, computed now by the same function."""
    from asset_platform.lifecycle.overview import model_state

    return [model_state(instance, declaration, names)[0] for declaration, names in models]
