"""Small plots and tables for Dagster metadata."""

from asset_platform.reports.plots import line_chart_markdown, png_markdown

__all__ = ["line_chart_markdown", "png_markdown"]
