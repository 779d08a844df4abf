"""This project's resource wiring: the environment comes from $ASSET_PLATFORM_ENV (`local` by default).

The only place the project reads it; the resources themselves are the library's
(`asset_platform.resources`), so a team's own project gets the same ones.
"""

from __future__ import annotations

from typing import Any

from asset_platform.resources import ENVIRONMENT_VAR, ENVIRONMENTS, environment_from, executor_for, resources_for
from asset_platform.sensors import SENSOR_INTERVAL_VAR, sensor_interval_from

__all__ = [
    "ENVIRONMENT_VAR",
    "ENVIRONMENTS",
    "SENSOR_INTERVAL_VAR",
    "environment_executor",
    "resources_for_environment",
    "sensor_interval_s",
]


def resources_for_environment(environment: str | None = None) -> dict[str, Any]:
    """The resource dict of `environment` (default: $ASSET_PLATFORM_ENV, else `local`)."""
    return resources_for(environment or environment_from())


def environment_executor():
    """The executor of the selected environment (None: Dagster's default)."""
    return executor_for(environment_from())


def sensor_interval_s() -> int | None:
    """$ASSET_PLATFORM_SENSOR_INTERVAL_S as whole seconds, or None for the library's default (30)."""
    return sensor_interval_from()
