"""Who or what started a run, read from its tags: the "changed by" of the audit trail."""

from __future__ import annotations

from collections.abc import Mapping

# Tags the platform sets on runs it launches.
TRIGGER_TAG = "asset_platform/trigger"
USER_TAG = "asset_platform/user"
EVIDENCE_TAG = "asset_platform/evidence"


def describe_trigger(tags: Mapping[str, str]) -> str:
    """`sensor:<name>`, `schedule:<name>`, `cli:<user>`, `backfill:<id>` or `manual` (UI, API or dagster CLI)."""
    if TRIGGER_TAG in tags:
        user = tags.get(USER_TAG)
        return f"{tags[TRIGGER_TAG]}:{user}" if user else tags[TRIGGER_TAG]
    for tag, kind in (
        ("dagster/sensor_name", "sensor"),
        ("dagster/schedule_name", "schedule"),
        ("dagster/backfill", "backfill"),
    ):
        if tag in tags:
            return f"{kind}:{tags[tag]}"
    return "manual"


# Set by the drift → retrain sensor on the retraining runs it launches.
DRIFT_REASON_TAG = "asset_platform/drift_reason"
REFERENCE_TAG = "asset_platform/reference_version"
BATCH_MD5_TAG = "asset_platform/batch_md5"
