"""Pandera schemas for incoming events, and the Dagster checks built from them."""

from asset_platform.validation.checks import SchemaReport, check_against_schema
from asset_platform.validation.events import EventSchema, LABEL_COLUMN

__all__ = ["LABEL_COLUMN", "EventSchema", "SchemaReport", "check_against_schema"]
