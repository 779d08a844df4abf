"""The tuning asset's job for a multiprocess run: a module-level function Dagster can rebuild in each step process.

The platform home comes from $ASSET_PLATFORM_HOME, as in a code location.
"""

from __future__ import annotations

import dagster as dg

PARALLEL_TRIALS = 8


def tuning_definitions(trials: int = PARALLEL_TRIALS, workers: int = 2) -> dg.Definitions:
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions
    from tests.tuning.tiny import tuned_declaration

    return build_definitions([tuned_declaration(trials=trials, workers=workers)], local_resources())


def tuning_job() -> dg.JobDefinition:
    """The training job of the tiny tuned declaration (run with an asset selection)."""
    from asset_platform.lifecycle import lifecycle_names
    from tests.tuning.tiny import tuned_declaration

    return tuning_definitions().resolve_job_def(lifecycle_names(tuned_declaration()).training_job)
