"""The predictions columns a model's scores are written to: named here, below the declaration, so that
scoring (ml/scoring.py) and the declaration (declaration/names.py re-exports them) share one spelling."""

from __future__ import annotations

import hashlib
import re

# The column of `predictions` holding the champion's score.
PREDICTION = "prediction"
# Prefix of a multiclass model's per-class probability columns in `predictions` (`score_column`).
SCORE_PREFIX = "score_"
_SAFE_CLASS = re.compile(r"^[a-z0-9_]{1,40}$")


def score_column(class_name: str) -> str:
    """The predictions column of one class's probability: `score_<class>`, safe for any class string.

    A class that is already a short lowercase identifier names its column as it is (`score_billing`); any
    other (spaces, dots, capitals, non-ASCII, very long) is reduced to such an identifier and suffixed
    with 8 hex digits of its own md5, so classes that differ only in case or punctuation get columns of
    their own (the declaration refuses classes that would still share one). The name depends on the class
    alone, not on its position among the classes, and is a valid column in Parquet, pandas, Spark and SQL,
    a Dagster metadata key, and a drift profile's feature name.
    """
    if _SAFE_CLASS.match(class_name):
        return f"{SCORE_PREFIX}{class_name}"
    readable = re.sub(r"[^a-z0-9]+", "_", class_name.lower()).strip("_")[:32]
    digest = hashlib.md5(class_name.encode("utf-8")).hexdigest()[:8]
    return f"{SCORE_PREFIX}{readable}_{digest}" if readable else f"{SCORE_PREFIX}{digest}"


def score_columns(classes: list[str]) -> list[str]:
    """`score_column` of each class, in class order."""
    return [score_column(name) for name in classes]
