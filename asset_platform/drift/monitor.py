"""The drift policy as a resource, so the drift assets, their checks and the retrain sensors share one config.

Each declaration may override fields of the platform-wide policy for its own model.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from asset_platform.drift.policy import DriftPolicy


class DriftMonitor(dg.ConfigurableResource):
    """Holds the platform-wide `DriftPolicy`; `policy_for` applies a declaration's overrides."""

    policy: DriftPolicy = Field(default_factory=DriftPolicy, description="Thresholds, weights and retrain rules.")
    # profile.DEFAULT_SKETCH_ROWS, not imported: profile.py imports pandas, which the code location never loads.
    reference_sketch_rows: int = Field(
        default=2_000_000,
        gt=0,
        description="A reference profile of more rows places its cut points from quantile sketches and counts "
        "its values exactly into them, in chunks (asset_platform/drift/sketches.py), instead of sorting every "
        "column in memory; up to this many rows it is built exactly as before.",
    )

    def policy_for(self, overrides: dict[str, Any] | None) -> DriftPolicy:
        if not overrides:
            return self.policy
        return DriftPolicy(**{**self.policy.model_dump(), **overrides})
