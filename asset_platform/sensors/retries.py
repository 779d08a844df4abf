"""Work that failed is asked for again: a sensor keeps each requested run in its cursor until it succeeded.

A file is recorded as done only when a run it requested succeeded. On each tick
the sensor reviews what it asked for: a run that failed (and that Dagster's own
run-retry policy will not retry) is requested again under the same run key plus
an attempt number, since the daemon never launches a run key twice, as long as
its file is still there unchanged (a file the run quarantined is not asked for
again). After `MAX_ATTEMPTS` the file is named in the skip reason instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import dagster as dg

MAX_ATTEMPTS = 3
# A failed run the daemon's run-retry policy marked for retry gets its retry within seconds;
# after this long without one (no daemon, or it cannot re-execute the run) the sensor asks again itself.
DAEMON_RETRY_GRACE_S = 600
RUN_KEY_TAG = "dagster/run_key"


def attempt_run_key(base: str, attempt: int) -> str:
    """The run key of attempt `attempt` (the first keeps the plain key, so earlier cursors stay valid)."""
    return base if attempt <= 1 else f"{base}:attempt-{attempt}"


def requested(instance: dg.DagsterInstance, base_key: str, md5: str) -> dict[str, Any]:
    """A cursor entry for a file just asked for.

    The run key is the first attempt's unless that attempt already ran and failed:
    a file landed again with the same content (moved back from quarantine) starts
    after the attempts its earlier landing used, since the daemon never reruns a
    key, while a re-evaluated tick gets the key it got before (launched once).
    """
    attempt = 1
    while review(instance, attempt_run_key(base_key, attempt)).state == "failed":
        attempt += 1
    run_key = attempt_run_key(base_key, attempt)
    return {"base": base_key, "run_key": run_key, "attempt": attempt, "first": attempt, "md5": md5}


def attempts_made(entry: dict[str, Any]) -> int:
    return entry.get("attempt", 1) - entry.get("first", 1) + 1


@dataclass(frozen=True)
class Review:
    """Where a requested run stands: done, waiting (queued, running, or about to be retried by Dagster),
    failed (ask again), or missing (never created: ask again under the same key)."""

    state: str
    run_id: str | None = None


def review(instance: dg.DagsterInstance, run_key: str) -> Review:
    return review_tagged(instance, {RUN_KEY_TAG: run_key})


def review_tagged(instance: dg.DagsterInstance, tags: dict[str, str]) -> Review:
    """Where the runs carrying all of `tags` stand, judged as `review` judges a run key's runs."""
    records = list(instance.get_run_records(dg.RunsFilter(tags=tags)))
    if not records:
        return Review("missing")
    records.sort(key=lambda record: record.create_timestamp)
    if any(record.dagster_run.status == dg.DagsterRunStatus.SUCCESS for record in records):
        return Review("done")
    latest = records[-1]
    run = latest.dagster_run
    if not all(record.dagster_run.is_finished for record in records):
        return Review("waiting", run.run_id)
    # Dagster re-executes the run itself (run_retries) when it can: a run launched from a code
    # location has an origin to re-execute; one executed in-process (the demo) has none.
    if run.is_complete_and_waiting_to_retry and run.remote_job_origin is not None:
        ended = latest.end_time or latest.update_timestamp.timestamp()
        if time.time() - ended < DAEMON_RETRY_GRACE_S:
            return Review("waiting", run.run_id)
    return Review("failed", run.run_id)


def ask_again(entry: dict[str, Any]) -> str | None:
    """The next attempt's run key for a failed entry (updated in place), or None once attempts are spent."""
    if attempts_made(entry) >= MAX_ATTEMPTS:
        entry["exhausted"] = True
        return None
    entry["attempt"] = entry.get("attempt", 1) + 1
    entry["run_key"] = attempt_run_key(entry["base"], entry["attempt"])
    return entry["run_key"]
