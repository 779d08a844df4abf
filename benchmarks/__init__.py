"""Measurements: ours, the limit and the best peer in one run; each prints a JSON last line."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
