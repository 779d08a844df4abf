"""LightGBM gradient-boosted trees with early stopping; categorical codes as native categoricals."""

from __future__ import annotations

from typing import Any

from asset_platform.ml.families import Fit, TrainingData, merged

DEFAULTS: dict[str, Any] = {
    "num_leaves": 31,
    "learning_rate": 0.05,
    "max_rounds": 500,
    "early_stopping_rounds": 30,
    "min_child_samples": 40,
    "feature_fraction": 0.9,
    "seed": 7,
    # Fixed so results are byte-reproducible.
    "num_threads": 2,
}
_OURS = ("max_rounds", "early_stopping_rounds")


def train_lightgbm(params: dict[str, Any], data: TrainingData) -> Fit:
    import lightgbm as lgb

    from asset_platform.ml.trained_model import TrainedModel

    settings = merged(DEFAULTS, params)
    regression = data.task == "regression"
    metrics = ["rmse", "l1"] if regression else ["auc", "binary_logloss"]
    booster_params = {
        "objective": "regression" if regression else "binary",
        "metric": metrics,
        **{key: value for key, value in settings.items() if key not in _OURS},
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }
    features, categorical = data.features, data.pipeline.categorical
    curve: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        booster_params,
        lgb.Dataset(*data.xy(data.fit), feature_name=features, categorical_feature=categorical),
        num_boost_round=int(settings["max_rounds"]),
        valid_sets=[lgb.Dataset(*data.xy(data.valid), feature_name=features, categorical_feature=categorical)],
        valid_names=["valid"],
        callbacks=[
            lgb.record_evaluation(curve),
            lgb.early_stopping(int(settings["early_stopping_rounds"]), verbose=False),
            *([_reporter(data.report)] if data.report else []),
        ],
    )
    booster.free_dataset()
    model = TrainedModel(
        "lightgbm",
        booster,
        features,
        params={**booster_params, **{key: settings[key] for key in _OURS}},
        extra={"feature_pipeline": data.pipeline.to_dict()},
        task=data.task,
    )
    shown = metrics[0]
    label = {"auc": "valid AUC", "rmse": "valid RMSE"}[shown]
    return Fit(
        model,
        importance=dict(zip(features, booster.feature_importance("gain").tolist(), strict=True)),
        curve={label: curve["valid"][shown][: booster.best_iteration or None]},
        curve_axes=("boosting round", shown.upper()),
        counts={"best_iteration": float(booster.best_iteration)},
    )


def _reporter(report):
    """A LightGBM callback passing each round's validation metrics to `report` (the round counts from 1)."""

    def callback(env) -> None:
        report(env.iteration + 1, {name: float(value) for _data, name, value, *_ in env.evaluation_result_list})

    return callback
