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


def featurize(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """Raw contract rows as the feature frame `model` (a TrainedModel) scores."""
    from asset_platform.ml.features import FeaturePipeline

    return FeaturePipeline.from_dict(model.extra["feature_pipeline"]).transform(rows, with_label=False)


def feature_matrix(model: Any, features: pd.DataFrame) -> np.ndarray:
    """The model's own inputs, in its order: what a loss estimator reads beside the predictions."""
    return features[model.feature_names].to_numpy(dtype=np.float32)


def fit_model_estimator(model: Any, featurized: pd.DataFrame, label: str) -> dict[str, Any]:
    """The label-free estimator of `model`, fitted on featurized holdout rows with their `label`."""
    from asset_platform.ml.estimation import fit_estimator

    matrix = feature_matrix(model, featurized)
    return fit_estimator(model.task, matrix, model.predict(featurized), featurized[label].to_numpy())


def unseen_categories(model: Any, rows: pd.DataFrame) -> dict[str, int]:
    """Per categorical feature, rows with a value the model never saw in training."""
    from asset_platform.ml.features import FeaturePipeline

    return FeaturePipeline.from_dict(model.extra["feature_pipeline"]).unseen_counts(rows)
