"""A request's few rows as the model's float32 matrix without building frames: `FeaturePipeline.transform`'s
result, value for value, at a fraction of its cost.

`transform` builds a pandas frame per call (a Series per feature, `pd.to_numeric`, `astype(str)`, a cast of
the whole frame, a column selection): about 0.7 ms for one row, more than LightGBM's prediction. Here the
pipeline is compiled once per served version into a plan (per feature: its column, what to do, where in
the matrix) and each request fills one float32 array from the columns' NumPy values. Only the column
types the contract check yields are taken (numbers, booleans, text as str objects with None/NaN missing);
any other type, and requests over `FAST_ROWS` rows (compiled_rows.py: where the plan's per-value work
stops paying), go the pandas way, so the scores are the platform's in every case
(tests/serving/test_featurize.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from asset_platform.ml.features import MISSING_SUFFIX, FeaturePipeline
from asset_platform.serving.compiled_rows import FAST_ROWS  # at most this many rows take the plan


@dataclass(frozen=True)
class _Step:
    column: str
    kind: str  # "value": the number, the training median where missing; "missing": 1.0 where missing; "code"
    position: int  # in the model's feature order
    median: float = 0.0
    codes: dict[str, int] | None = None  # "code": the vocabulary's codes; unknown values get len(vocabulary)


class RowFeaturizer:
    """The feature pipeline of one model version, compiled for `matrix(rows)`."""

    def __init__(self, pipeline: FeaturePipeline, feature_names: list[str]):
        where = {name: index for index, name in enumerate(feature_names)}
        steps = [_Step(name, "value", where[name], median=median) for name, median in pipeline.medians.items()]
        steps += [_Step(name, "missing", where[f"{name}{MISSING_SUFFIX}"]) for name in pipeline.missing_flags]
        for name, vocabulary in pipeline.vocabularies.items():
            codes = {category: code for code, category in enumerate(vocabulary)}
            steps.append(_Step(name, "code", where[name], codes=codes))
        if sorted(step.position for step in steps) != list(range(len(feature_names))):
            raise ValueError("the model's features are not the pipeline's: score through the pipeline")
        self.steps, self.width = tuple(steps), len(feature_names)

    @classmethod
    def of(cls, model: Any) -> RowFeaturizer | None:
        """The plan of a TrainedModel, or None where its features are not its pipeline's (pandas then)."""
        try:
            return cls(FeaturePipeline.from_dict(model.extra["feature_pipeline"]), list(model.feature_names))
        except (KeyError, TypeError, ValueError):
            return None

    def matrix(self, rows: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The float32 matrix `transform` would give, or None where a column's type is not one taken here.

        `rows`: a frame, or its columns as NumPy arrays (`RequestRows.features()`: what the compiled contract
        judged, numbers as float64 with NaN where missing, text as objects with None)."""
        count = len(rows) if isinstance(rows, pd.DataFrame) else len(next(iter(rows.values()), ()))
        if count > FAST_ROWS:
            return None
        out = np.empty((count, self.width), dtype=np.float32)
        numbers: dict[str, np.ndarray] = {}
        for step in self.steps:
            if step.kind == "code":
                codes = _codes(rows[step.column], step.codes)
                if codes is None:
                    return None
                out[:, step.position] = codes
                continue
            values = numbers.get(step.column)
            if values is None:
                values = numbers[step.column] = _numbers(rows[step.column])
                if values is None:
                    return None
            finite = np.isfinite(values)
            if step.kind == "value":
                out[:, step.position] = np.where(finite, values, step.median)
            else:
                out[:, step.position] = (~finite).astype(np.float64)
        return out


def _numbers(series: pd.Series | np.ndarray) -> np.ndarray | None:
    """`features._numeric` for the numeric and boolean types (NumPy's or pandas' nullable ones)."""
    kind = getattr(series.dtype, "kind", "O")
    if kind not in "fiub":
        return None  # text, times, objects: pd.to_numeric's coercion decides there
    if isinstance(series, np.ndarray):
        return series.astype(np.float64)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _codes(series: pd.Series | np.ndarray, codes: dict[str, int]) -> np.ndarray | None:
    """`features._codes` for text held as str objects, missing as None or NaN."""
    if series.dtype != object:
        return None
    other, missing = len(codes), len(codes) + 1
    result = np.empty(len(series), dtype=np.float64)
    for index, value in enumerate(series if isinstance(series, np.ndarray) else series.to_numpy()):
        if isinstance(value, str):
            result[index] = codes.get(value, other)
        elif value is None or (type(value) is float and value != value):
            result[index] = missing
        else:
            return None  # a number, a time, pd.NA: astype(str) and isna decide there
    return result
