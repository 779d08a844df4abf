"""Numbers as people read them in the UI: four significant digits.

Metadata is for reading: `0.8765` says what `0.87654320987` says, and a table of
forty keys with sixteen digits each hides which of them differ. The stored
values (the model's own metrics, the drift results, the evidence the sensors
decide on) keep full precision; only what is shown is rounded.
"""

from __future__ import annotations

import math

SHOWN_DIGITS = 4


def shown(value: float, digits: int = SHOWN_DIGITS) -> float:
    """`value` to `digits` significant digits (0.000123456 → 0.0001235, 12345.6 → 12350.0); inf and NaN as they are."""
    value = float(value)
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")
