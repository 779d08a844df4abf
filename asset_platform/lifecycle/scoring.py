"""Scoring contract rows with a stored model and the feature pipeline it was trained with."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def score_rows(model: Any, rows: pd.DataFrame) -> np.ndarray:
    """Predictions of `model` (a TrainedModel) for raw contract rows."""
    from asset_platform.ml.features import FeaturePipeline

    pipeline = FeaturePipeline.from_dict(model.extra["feature_pipeline"])
    return model.predict(pipeline.transform(rows, with_label=False))


def unseen_categories(model: Any, rows: pd.DataFrame) -> dict[str, int]:
    """Per categorical feature, rows with a value the model never saw in training."""
    from asset_platform.ml.features import FeaturePipeline

    return FeaturePipeline.from_dict(model.extra["feature_pipeline"]).unseen_counts(rows)
