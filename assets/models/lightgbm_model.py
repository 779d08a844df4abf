"""The LightGBM gradient-boosted trees model."""

import dagster as dg
import pandas as pd
from pydantic import Field

from asset_platform.ml import TrainedModel
from asset_platform.registry.tracking import track_training
from assets.models.common import TRAINING_OP_TAGS, model_result, score_splits, validation_split, xy


class LightGBMConfig(dg.Config):
    num_leaves: int = Field(default=31, ge=2)
    learning_rate: float = Field(default=0.05, gt=0)
    max_rounds: int = Field(default=500, ge=1, description="Upper bound; early stopping picks the best round.")
    early_stopping_rounds: int = Field(default=30, ge=1)
    min_child_samples: int = Field(default=40, ge=1)
    feature_fraction: float = Field(default=0.9, gt=0, le=1)
    seed: int = 7
    num_threads: int = Field(default=2, ge=1, description="Fixed so results are byte-reproducible.")


@dg.asset(group_name="models", kinds={"lightgbm"}, code_version="1", op_tags=TRAINING_OP_TAGS)
def lgbm_model(
    config: LightGBMConfig, training_set: pd.DataFrame, holdout_set: pd.DataFrame, feature_pipeline: dict
) -> dg.MaterializeResult:
    """Conversion model: LightGBM boosted trees with early stopping on the latest training days."""
    import lightgbm as lgb

    features = feature_pipeline["feature_columns"]
    fit, valid = validation_split(training_set)
    params = {
        "objective": "binary",
        "metric": ["auc", "binary_logloss"],
        "num_leaves": config.num_leaves,
        "learning_rate": config.learning_rate,
        "min_child_samples": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "seed": config.seed,
        "num_threads": config.num_threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }
    curve: dict[str, dict[str, list[float]]] = {}
    with track_training() as usage:
        booster = lgb.train(
            params,
            lgb.Dataset(*xy(fit, features), feature_name=features),
            num_boost_round=config.max_rounds,
            valid_sets=[lgb.Dataset(*xy(valid, features), feature_name=features)],
            valid_names=["valid"],
            callbacks=[lgb.record_evaluation(curve), lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
        )
    booster.free_dataset()
    model = TrainedModel(
        "lightgbm",
        booster,
        features,
        params={**params, "max_rounds": config.max_rounds, "early_stopping_rounds": config.early_stopping_rounds},
        extra={"feature_pipeline": feature_pipeline},
    )
    model.metrics = {
        **score_splits(model, {"train": fit, "valid": valid, "holdout": holdout_set}),
        "best_iteration": float(booster.best_iteration),
    }
    valid_curve = {"valid AUC": curve["valid"]["auc"][: booster.best_iteration or None]}
    importance = dict(zip(features, booster.feature_importance("gain").tolist(), strict=True))
    return model_result(model, usage, importance, valid_curve, ("boosting round", "AUC"))
