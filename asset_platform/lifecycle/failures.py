"""Failures that the same inputs would repeat: said once, in plain words, and never retried.

Dagster's run-retry policy (`run_retries` in dagster.yaml) re-executes a failed
run; for a history that breaks the data contract that repeats the failure, fills
the run list and hides the cause under retries. A deterministic failure is
logged as an error first (the run's first error line is its cause), tags the run
`dagster/retry_on_asset_or_op_failure: false` (the documented tag the run-retry
daemon reads when the run fails), and is raised as a `dg.Failure` with
`allow_retries=False`, which op retry policies skip too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

NO_RUN_RETRY_TAG = "dagster/retry_on_asset_or_op_failure"


def deterministic_failure(
    context: dg.OpExecutionContext | dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    cause: str,
    metadata: Mapping[str, Any] | None = None,
) -> dg.Failure:
    """The failure to raise for `cause`; logs it and keeps Dagster from retrying the run."""
    mark_not_retryable(context, cause)
    return dg.Failure(description=cause, metadata=dict(metadata or {}), allow_retries=False)


def mark_not_retryable(
    context: dg.OpExecutionContext | dg.AssetExecutionContext | dg.AssetCheckExecutionContext, cause: str
) -> None:
    """Log `cause` as an error and tag the run so the run-retry policy leaves it failed."""
    context.log.error(cause)
    context.instance.add_run_tags(context.run.run_id, {NO_RUN_RETRY_TAG: "false"})
