"""Sensors: production files arriving, labels arriving, and drift → retraining."""

from __future__ import annotations

import os
from collections.abc import Mapping

# How often each sensor looks (Dagster's minimum_interval_seconds): a new file waits at most this long
# before its run is asked for. A composition root may choose another (`platform_definitions`).
DEFAULT_SENSOR_INTERVAL_S = 30
# The variable a composition root reads for it (this repository's definitions.py, a dg project's components).
SENSOR_INTERVAL_VAR = "ASSET_PLATFORM_SENSOR_INTERVAL_S"


def sensor_interval_from(environ: Mapping[str, str] | None = None) -> int | None:
    """$ASSET_PLATFORM_SENSOR_INTERVAL_S in whole seconds (>= 1), or None for the default; for composition roots."""
    environ = os.environ if environ is None else environ
    raw = environ.get(SENSOR_INTERVAL_VAR, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"${SENSOR_INTERVAL_VAR} must be a whole number of seconds, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"${SENSOR_INTERVAL_VAR} must be at least 1 second, not {value}")
    return value
