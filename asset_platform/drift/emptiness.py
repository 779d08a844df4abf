"""Batches with nothing to measure: no rows, or no row with any feature value.

A 0-row batch with the right schema (an upstream with nothing to send that day)
or a batch whose every feature is null (a feed whose columns went dark, where the
contract allows nulls) is a legitimate landing, not a broken file. Scoring it
serves what there is; each measuring step (drift, attribution drift, the
label-free estimate, realized performance) then records "no rows: nothing to
measure" rather than a statistic of nothing or an error the sensor would ask for
again on every tick. Such a batch is never judged, so it cannot trigger a retrain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd


class HasFeatures(Protocol):
    """What is read of a declaration here; drift sits below `declaration/`, so it names no declaration type."""

    def feature_columns(self) -> tuple[list[str], list[str]]: ...


NOTHING_TO_MEASURE = "no rows: nothing to measure"


def nothing_to_measure(declaration: HasFeatures, batch: pd.DataFrame) -> str | None:
    """Why `batch` has nothing to measure (the reason to record), or None when it has."""
    if batch.empty:
        return NOTHING_TO_MEASURE
    numeric, categorical = declaration.feature_columns()
    present = [name for name in (*numeric, *categorical) if name in batch.columns]
    if present and bool(batch[present].isna().to_numpy().all()):
        return f"{NOTHING_TO_MEASURE} (every feature is null in all {len(batch)} rows)"
    return None
