"""Resource wiring per environment, chosen by $ASSET_PLATFORM_ENV (`local` by default)."""

from __future__ import annotations

import os
from typing import Any

ENVIRONMENT_VAR = "ASSET_PLATFORM_ENV"
ENVIRONMENTS = ("local", "production")


def resources_for_environment(environment: str | None = None) -> dict[str, Any]:
    """The resource dict of `environment` (default: $ASSET_PLATFORM_ENV, else `local`)."""
    environment = environment or os.environ.get(ENVIRONMENT_VAR, "local")
    if environment == "local":
        from resources.local import local_resources

        return local_resources()
    if environment == "production":
        from resources.production import production_resources

        return production_resources()
    raise ValueError(f"${ENVIRONMENT_VAR}={environment!r} is not an environment; use one of {ENVIRONMENTS}")
