"""The drift policy as a resource, so the drift asset, its check and the retrain sensor share one config."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from asset_platform.drift.policy import DriftPolicy


class DriftMonitor(dg.ConfigurableResource):
    """Holds the `DriftPolicy` every part of the monitoring loop judges drift by."""

    policy: DriftPolicy = Field(default_factory=DriftPolicy, description="Thresholds, weights and retrain rules.")
    max_auc_drop: float = Field(
        default=0.05,
        ge=0,
        description="Realized AUC this far below the champion's holdout AUC marks a batch as drifted "
        "(concept drift shows in performance, not in features).",
    )
