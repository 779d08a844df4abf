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

    def policy_for(self, overrides: dict[str, Any] | None) -> DriftPolicy:
        if not overrides:
            return self.policy
        return DriftPolicy(**{**self.policy.model_dump(), **overrides})
