"""The contract every batch of shopping-session events must meet.

Training history and production batches are validated with this one schema,
so a model never sees data its training data would have failed. Categories are
not closed lists: a new device or country is drift, measured by monitoring,
not invalid data.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from asset_platform.validation.columns import CATEGORICAL_FEATURES, LABEL_COLUMN, NUMERIC_FEATURES  # noqa: F401


class EventSchema(pa.DataFrameModel):
    """One row per shopping session; `converted` is absent until labels arrive."""

    event_id: Series[str] = pa.Field(unique=True, nullable=False)
    event_time: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    price: Series[float] = pa.Field(gt=0, le=100_000)
    discount_pct: Series[float] = pa.Field(ge=0, le=100)
    session_duration_s: Series[float] = pa.Field(ge=0, le=86_400, nullable=True)
    pages_viewed: Series[int] = pa.Field(ge=1, le=10_000)
    past_purchases: Series[int] = pa.Field(ge=0)
    days_since_last_visit: Series[float] = pa.Field(ge=0, nullable=True)
    hour_of_day: Series[int] = pa.Field(ge=0, le=23)
    device: Series[str]
    channel: Series[str]
    country: Series[str]
    product_category: Series[str]
    converted: Series[int] | None = pa.Field(isin=[0, 1])

    class Config:
        coerce = True
        strict = False
