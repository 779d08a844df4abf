"""This project's resource wiring: the environment comes from $ASSET_PLATFORM_ENV (`local` by default).

The only place the project reads it; the resources themselves are the library's
(`asset_platform.resources`), so a team's own project gets the same ones.
"""

from __future__ import annotations

import os
from typing import Any

from asset_platform.resources import ENVIRONMENT_VAR, ENVIRONMENTS, environment_from, executor_for, resources_for

__all__ = [
    "ENVIRONMENT_VAR",
    "ENVIRONMENTS",
    "SENSOR_INTERVAL_VAR",
    "environment_executor",
    "resources_for_environment",
    "sensor_interval_s",
]
# Seconds between two looks of every sensor (unset: the library's default, 30).
SENSOR_INTERVAL_VAR = "ASSET_PLATFORM_SENSOR_INTERVAL_S"


def resources_for_environment(environment: str | None = None) -> dict[str, Any]:
    """The resource dict of `environment` (default: $ASSET_PLATFORM_ENV, else `local`)."""
    return resources_for(environment or environment_from())


def environment_executor():
    """The executor of the selected environment (None: Dagster's default)."""
    return executor_for(environment_from())


def sensor_interval_s() -> int | None:
    """$ASSET_PLATFORM_SENSOR_INTERVAL_S as whole seconds (at least 1), or None for the library's default."""
    raw = os.environ.get(SENSOR_INTERVAL_VAR, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"${SENSOR_INTERVAL_VAR} must be a whole number of seconds, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"${SENSOR_INTERVAL_VAR} must be at least 1 second, not {value}")
    return value
