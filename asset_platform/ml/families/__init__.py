"""Model families: each trains one estimator from the shared feature matrix.

Each family is one module holding one `ModelFamily` (see `base`): its training
loop, storage, prediction, explanation, trust and tuning behaviour. The
`registry` names them all; every other part of the platform asks the registry
(`family(name)`) and never compares a family's name. `train_family` is the one
entry point the model assets call.

numpy and pandas are imported where used: the declaration reads the registry's
names when it loads, and must not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from asset_platform.ml.families.base import FamilySpec
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
        import numpy as np

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


def train_family(spec: FamilySpec, data: TrainingData) -> Fit:
    """Train the family `spec` names on `data`."""
    from asset_platform.ml.families.registry import family

    return family(spec.family).train(spec, data)


def merged(defaults: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **params}
