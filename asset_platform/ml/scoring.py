"""Scoring contract rows with a stored model and the feature pipeline it was trained with.

How predictions are stored (`prediction_columns`): one `prediction` column holding the positive class's
probability (binary) or the predicted value (regression), as always. A multiclass model's `prediction` is
the predicted class itself, as declared (a string: what a consumer routes on, readable in any tool), and
beside it one probability column per class, `score_<class>` (see `declaration.names.score_column`): drift, label-free
estimates and later comparisons need every class's probability, not only the winner's, and one plain
float column per class stores, streams and profiles like any other numeric column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from asset_platform.ml.columns import PREDICTION, score_columns


def label_values(declaration: Any, rows: pd.DataFrame) -> np.ndarray:
    """The declared label of raw contract rows as metrics read it: a multiclass label's class codes (the
    index of each value among the declared classes), any other label as stored."""
    values = rows[declaration.label_column]
    if declaration.task != "multiclass":
        return values.to_numpy()
    from asset_platform.ml.features import class_codes

    return class_codes(values, declaration.label_classes, declaration.label_column)


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


def prediction_columns(model: Any, scores: np.ndarray) -> dict[str, np.ndarray]:
    """The predictions columns of `scores` (what `model.predict` returned), by name: `prediction` alone,
    or for a multiclass model the predicted class and each class's probability."""
    classes = model.classes
    if not classes:
        return {PREDICTION: scores}
    from asset_platform.ml.metrics import predicted_classes

    columns: dict[str, np.ndarray] = {PREDICTION: np.asarray(classes, dtype=object)[predicted_classes(scores)]}
    for index, name in enumerate(score_columns(classes)):
        columns[name] = scores[:, index]
    return columns


def profiled_predictions(model: Any) -> tuple[list[str], list[str]]:
    """(numeric, categorical) predictions columns a reference profile and the drift step measure: the score,
    or a multiclass model's per-class probabilities (drift on each class's score) and its predicted class
    (drift on the predicted classes' shares)."""
    if not model.classes:
        return [PREDICTION], []
    return score_columns(model.classes), [PREDICTION]


def label_reference(declaration: Any, training: pd.DataFrame) -> dict[str, Any]:
    """What a batch's labels are compared with for label (prior) shift, from the champion's training rows: the
    positive rate or mean label and its spread, or a multiclass label's share of each declared class."""
    label = training[declaration.label_column]
    if declaration.task == "multiclass":
        shares = label.value_counts(normalize=True)
        return {"label_shares": {name: float(shares.get(name, 0.0)) for name in declaration.label_classes}}
    return {"label_reference": float(label.mean()), "label_reference_std": float(label.std())}


def stored_scores(model: Any, predictions: pd.DataFrame) -> np.ndarray:
    """The scores `prediction_columns` stored, back as `model.predict` returned them (a matrix for a
    multiclass model)."""
    if not model.classes:
        return predictions[PREDICTION].to_numpy(dtype=np.float64)
    return predictions[score_columns(model.classes)].to_numpy(dtype=np.float64)
