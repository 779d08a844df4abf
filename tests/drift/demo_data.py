"""Demo data for the drift tests: the synthetic shop's sessions with a model score."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from asset_platform.synthetic import conversion_probability, generate_events
from assets.ecommerce import ecommerce

SEED = 3
REFERENCE_DAY = dt.date(2026, 1, 1)
BATCH_DAY = dt.date(2026, 2, 1)
# About the demo's training history (14 days x 800 sessions).
REFERENCE_ROWS = 11_200
BATCH_ROWS = 2_000
# The example declaration's features, in contract order, plus the model's score.
NUMERIC_FEATURES, CATEGORICAL_FEATURES = ecommerce.feature_columns()
NUMERIC = [*NUMERIC_FEATURES, "prediction"]
CATEGORICAL = list(CATEGORICAL_FEATURES)


def demo_batch(
    rows: int = BATCH_ROWS, day: dt.date = BATCH_DAY, scenario: str | None = None, seed: int = SEED
) -> pd.DataFrame:
    """A batch with the model's score as `prediction` (the true conversion probability)."""
    frame = generate_events(rows, day, seed, scenario)
    if {"price", "device"} <= set(frame.columns):
        # Broken scenarios (negative or missing prices) give NaN scores, as a real model would.
        with np.errstate(invalid="ignore"):
            frame["prediction"] = conversion_probability(frame)
    return frame
