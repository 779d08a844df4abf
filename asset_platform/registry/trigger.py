"""Who or what started a run, read from its tags: the "changed by" of the audit trail."""

from __future__ import annotations

from collections.abc import Mapping

# Tags the platform sets on runs it launches.
TRIGGER_TAG = "asset_platform/trigger"
USER_TAG = "asset_platform/user"
EVIDENCE_TAG = "asset_platform/evidence"
# The trigger's suffix on a retrain that follows a drift-triggered one until the model recovers.
FOLLOW_UP = "follow-up"


def describe_trigger(tags: Mapping[str, str]) -> str:
    """Who or what started the run, the actor of the audit trail.

    `ui:<identity>` for a run a signed-in person launched or re-executed through `serve --auth` (the
    webserver tags it with `launched_by`), `cli:<user>` for `asset-platform` commands (the user is
    $ASSET_PLATFORM_USER or the login name), `sensor:<name>`, `schedule:<name>`, `backfill:<id>`, or
    `unidentified` for a launch nobody signed (a webserver without --auth, the Python API).
    """
    from asset_platform.access.mutations import LAUNCHED_BY_TAG

    launched_by = tags.get(LAUNCHED_BY_TAG, "")
    if launched_by and not launched_by.startswith("cli:"):
        # A person in the UI (or the GraphQL API), also when re-executing a sensor's run: they chose to.
        return f"ui:{launched_by}"
    if TRIGGER_TAG in tags:
        user = tags.get(USER_TAG)
        return f"{tags[TRIGGER_TAG]}:{user}" if user else tags[TRIGGER_TAG]
    if launched_by:
        return launched_by
    for tag, kind in (
        ("dagster/sensor_name", "sensor"),
        ("dagster/schedule_name", "schedule"),
        ("dagster/backfill", "backfill"),
    ):
        if tag in tags:
            return f"{kind}:{tags[tag]}"
    return UNIDENTIFIED


UNIDENTIFIED = "unidentified"


# Set by the drift → retrain sensor on the retraining runs it launches.
DRIFT_REASON_TAG = "asset_platform/drift_reason"
REFERENCE_TAG = "asset_platform/reference_version"
BATCH_MD5_TAG = "asset_platform/batch_md5"
