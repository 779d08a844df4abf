"""Model families: each trains one estimator from the shared feature matrix.

`train_family` is the one entry point the model assets call; each family's
module holds its own training loop and what it records (curve, importance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from asset_platform.declaration import ModelFamilySpec
    from asset_platform.ml.features import FeaturePipeline
    from asset_platform.ml.trained_model import TrainedModel


@dataclass
class TrainingData:
    """The training window split for early stopping, as feature matrices and labels."""

    pipeline: FeaturePipeline
    task: str
    fit: pd.DataFrame
    valid: pd.DataFrame
    # Called with (step, {validation metric: value}) after each boosting round or epoch, so a
    # hyperparameter search can stop a poor trial early (it raises out of training to do so).
    report: Callable[[int, dict[str, float]], None] | None = None

    @property
    def features(self) -> list[str]:
        return self.pipeline.feature_names

    def xy(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        labels = frame[self.pipeline.label_column].to_numpy()
        return frame[self.features].to_numpy(dtype=np.float32), labels

    @property
    def categorical_indices(self) -> list[int]:
        return [self.features.index(name) for name in self.pipeline.categorical]


@dataclass
class Fit:
    """A trained model and what its training recorded."""

    model: TrainedModel
    importance: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)
    curve_axes: tuple[str, str] = ("iteration", "metric")
    counts: dict[str, float] = field(default_factory=dict)


def validation_split(training_set: pd.DataFrame, time_column: str, fraction: float = 0.15):
    """The latest `fraction` of the training window validates early stopping; the holdout stays untouched."""
    ordered = training_set.sort_values(time_column, kind="stable")
    cut = int(len(ordered) * (1 - fraction))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def train_family(spec: ModelFamilySpec, data: TrainingData) -> Fit:
    """Train the family `spec` names on `data`."""
    if spec.family == "lightgbm":
        from asset_platform.ml.families.gbm import train_lightgbm

        return train_lightgbm(spec.params, data)
    if spec.family == "sklearn":
        from asset_platform.ml.families.scikit import train_sklearn

        return train_sklearn(spec.estimator, spec.params, data)
    if spec.family == "torch":
        from asset_platform.ml.families.mlp import train_mlp

        return train_mlp(spec.params, data)
    from asset_platform.ml.families.custom import train_custom

    return train_custom(spec.trainer or "", spec.params, data)


def merged(defaults: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **params}
