"""The platform's resources for each environment, built by name.

`local`: embedded defaults, everything under the platform home, no server.
`production`: every path, URL and credential from the environment at run time.
A composition root (a project's definitions module, or the `Platform` component)
chooses the environment and passes it here; nothing else in the library reads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg

    from asset_platform.home import PlatformHome

ENVIRONMENT_VAR = "ASSET_PLATFORM_ENV"
ENVIRONMENTS = ("local", "production")


def environment_from(environ: Mapping[str, str] | None = None) -> str:
    """The environment a composition root selects: $ASSET_PLATFORM_ENV, else `local` (checked)."""
    environ = os.environ if environ is None else environ
    return check_environment(environ.get(ENVIRONMENT_VAR, "local"))


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"${ENVIRONMENT_VAR}={environment!r} is not an environment; use one of {ENVIRONMENTS}")
    return environment


def resources_for(environment: str, home: PlatformHome | None = None) -> dict[str, Any]:
    """The resource dict of `environment`; `home` places the local one (default: the platform home)."""
    if check_environment(environment) == "local":
        from asset_platform.resources.local import local_resources

        return local_resources(home)
    from asset_platform.resources.production import production_resources

    return production_resources()


def executor_for(environment: str) -> dg.ExecutorDefinition:
    """How a run executes its steps in `environment`.

    local: every step in the run's own process. Dagster's default starts one process
    per step, and each imports the code location and its libraries again, seconds per
    step: for batches of a few thousand rows that is most of a run's time. Steps of one
    run then run one after the other, which two cores barely notice.
    production: each step in its own Kubernetes pod (its memory and GPU asked per step).
    """
    import dagster as dg

    if check_environment(environment) == "local":
        return dg.in_process_executor
    from asset_platform.resources.production import production_executor

    return production_executor()
