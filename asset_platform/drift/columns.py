"""Reading one feature column out of a frame, with errors that name the column."""

from __future__ import annotations

import numpy as np
import pandas as pd


class DriftInputError(ValueError):
    """A column cannot be profiled or measured; the message names it and says what to do."""


def require_frame(frame: object, what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    return frame


def numeric_values(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, int]:
    """The column's finite values as float64, and how many rows had none.

    NaN, None and +/-inf all count as missing: an infinite price is a broken
    record, and letting it into a distance would turn every statistic into inf.
    """
    series = frame[name]
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype(np.float64)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise DriftInputError(
            f"column {name!r} is not numeric (dtype {series.dtype}); cast it to a number "
            "or profile it as a categorical feature"
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    if finite.all():
        return values, 0
    return values[finite], int(values.size - np.count_nonzero(finite))


def category_counts(frame: pd.DataFrame, name: str) -> tuple[dict[str, int], int]:
    """Counts per category (keyed by `str(value)`, as JSON needs), and the missing count."""
    series = frame[name]
    counts = series.value_counts(dropna=True, sort=False)
    merged: dict[str, int] = {}
    # 1 and "1" become the same JSON key, so their counts are merged rather than lost.
    for value, count in zip(counts.index, counts.to_numpy(), strict=True):
        if count == 0:  # a pandas Categorical lists unused categories with count 0
            continue
        key = str(value)
        merged[key] = merged.get(key, 0) + int(count)
    return merged, int(len(series) - int(counts.sum()))
