"""The scikit-learn baseline: standardized logistic regression."""


import dagster as dg
import pandas as pd
from pydantic import Field

from asset_platform.ml import TrainedModel
from assets.models.common import TRAINING_OP_TAGS, model_result, score_splits, validation_split, xy


class SklearnConfig(dg.Config):
    c: float = Field(default=1.0, gt=0, description="Inverse L2 regularization strength.")
    max_iter: int = Field(default=1000, ge=1)


@dg.asset(group_name="models", kinds={"scikitlearn"}, code_version="1", op_tags=TRAINING_OP_TAGS)
def sklearn_model(config: SklearnConfig, training_set: pd.DataFrame, feature_pipeline: dict) -> dg.MaterializeResult:
    """Baseline conversion model: a linear model every other model has to beat."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    features = feature_pipeline["feature_columns"]
    fit, valid = validation_split(training_set)
    estimator = Pipeline(
        [("scale", StandardScaler()), ("logreg", LogisticRegression(C=config.c, max_iter=config.max_iter))]
    )
    estimator.fit(*xy(fit, features))
    params = {"model": "StandardScaler+LogisticRegression", "C": config.c, "max_iter": config.max_iter}
    model = TrainedModel("sklearn", estimator, features, params=params)
    model.metrics = score_splits(model, {"train": fit, "valid": valid})
    return model_result(model, {}, "AUC", "iteration")
