"""The scikit-learn baseline: standardized logistic regression."""

import dagster as dg
import pandas as pd
from pydantic import Field

from asset_platform.ml import TrainedModel
from asset_platform.registry.tracking import track_training
from assets.models.common import TRAINING_OP_TAGS, model_result, score_splits, validation_split, xy


class SklearnConfig(dg.Config):
    c: float = Field(default=1.0, gt=0, description="Inverse regularization strength.")
    l1_ratio: float = Field(
        default=0.0, ge=0, le=1, description="0 = L2 (lbfgs), 1 = L1, in between elastic net (saga solver)."
    )
    max_iter: int = Field(default=1000, ge=1)
    seed: int = 7


@dg.asset(group_name="models", kinds={"scikitlearn"}, code_version="1", op_tags=TRAINING_OP_TAGS)
def sklearn_model(
    config: SklearnConfig, training_set: pd.DataFrame, holdout_set: pd.DataFrame, feature_pipeline: dict
) -> dg.MaterializeResult:
    """Baseline conversion model: a linear model every other model has to beat."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    features = feature_pipeline["feature_columns"]
    fit, valid = validation_split(training_set)
    solver = "saga" if config.l1_ratio > 0 else "lbfgs"
    logreg = LogisticRegression(
        C=config.c, l1_ratio=config.l1_ratio, solver=solver, max_iter=config.max_iter, random_state=config.seed
    )
    estimator = Pipeline([("scale", StandardScaler()), ("logreg", logreg)])
    with track_training() as usage:
        estimator.fit(*xy(fit, features))
    params = {
        "model": "StandardScaler+LogisticRegression",
        "C": config.c,
        "l1_ratio": config.l1_ratio,
        "solver": solver,
        "max_iter": config.max_iter,
    }
    model = TrainedModel(
        "sklearn",
        estimator,
        features,
        params={**params, "seed": config.seed},
        extra={"feature_pipeline": feature_pipeline},
    )
    model.metrics = {
        **score_splits(model, {"train": fit, "valid": valid, "holdout": holdout_set}),
        "iterations": float(logreg.n_iter_[0]),
    }
    # Coefficients of standardized inputs are comparable across features.
    importance = dict(zip(features, logreg.coef_[0].tolist(), strict=True))
    return model_result(model, usage, importance, {}, ("iteration", "AUC"))
