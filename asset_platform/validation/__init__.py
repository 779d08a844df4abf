"""Pandera schemas for incoming events, and the Dagster checks built from them.

The schema modules import pandera (slow to import); import them where used, so
loading the code location stays fast. Column names live in `columns`.
"""

from asset_platform.validation.columns import CATEGORICAL_FEATURES, LABEL_COLUMN, NUMERIC_FEATURES

__all__ = ["CATEGORICAL_FEATURES", "LABEL_COLUMN", "NUMERIC_FEATURES"]
