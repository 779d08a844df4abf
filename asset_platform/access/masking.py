"""Sensitive (PII) columns: what leaves the data for metadata, reports, notifications and logs is masked.

A column marked `sensitive: true` in the data contract never shows a raw value
outside the data itself (which stays in the DVC remote, readable by its owners
only). Values become `#` + the first 12 hex digits of their sha256: stable, so a
drift report can still say "the same category moved again", and not reversible
without the data. Numeric bin edges of such a column are hashed the same way;
its drift statistics (PSI, shares) are summaries and stay (drift.measure.mask_drift_results).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MASK_PREFIX = "#"
# The drift profile's own bucket name for unlisted categories: not data, kept readable.
_KEPT_LABELS = frozenset({"__other__"})


def mask_value(value: object) -> str:
    """`#` + 12 hex digits of sha256(str(value)); missing values stay visibly missing."""
    if value is None or (isinstance(value, float) and value != value):
        return "<missing>"
    text = str(value)
    if text in _KEPT_LABELS:
        return text
    return MASK_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:12]


def sensitive_columns(declaration) -> frozenset[str]:
    """The contract's columns marked `sensitive: true`."""
    return frozenset(column.name for column in declaration.contract_columns() if column.sensitive)


def mask_frame(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy of `frame` with each sensitive column's values masked (for samples shown in metadata)."""
    present = [name for name in columns if name in frame.columns]
    if not present:
        return frame
    return frame.assign(**{name: frame[name].map(mask_value) for name in present})
