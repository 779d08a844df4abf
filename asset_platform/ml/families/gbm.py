"""LightGBM gradient-boosted trees with early stopping; categorical codes as native categoricals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from asset_platform.ml.families import Fit, TrainingData, merged
from asset_platform.ml.families.base import ModelFamily

if TYPE_CHECKING:
    import numpy as np

    from asset_platform.ml.explain import Attribution
    from asset_platform.ml.families.base import FamilySpec
    from asset_platform.ml.trained_model import TrainedModel

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
# Up to this many rows a prediction runs on one thread (see LightGBMFamily.predict).
_FEW_ROWS = 256
_OURS = ("max_rounds", "early_stopping_rounds")
# The LightGBM metric reported while boosting, per declared metric (same direction as the declared one).
# The precision-recall metrics are reported as AUC, the ranking metric the booster already computes: adding
# LightGBM's own average_precision to its metrics would change where early stopping stops every model.
_REPORTED = {
    "auc": "auc",
    "average_precision": "auc",
    "precision_at_recall": "auc",
    "log_loss": "binary_logloss",
    "brier": "binary_logloss",
    "rmse": "rmse",
    "mae": "l1",
}
# Objective and metrics per task; early stopping follows the first metric.
_OBJECTIVES = {
    "binary_classification": ("binary", ["auc", "binary_logloss"]),
    "multiclass": ("multiclass", ["multi_logloss", "multi_error"]),
    "regression": ("regression", ["rmse", "l1"]),
}
# The platform's own settings plus LightGBM's documented learning-control parameters.
TUNABLE = frozenset(
    {
        "num_leaves", "learning_rate", "max_rounds", "early_stopping_rounds", "min_child_samples",
        "feature_fraction", "bagging_fraction", "bagging_freq", "lambda_l1", "lambda_l2", "reg_alpha",
        "reg_lambda", "min_split_gain", "max_depth", "min_child_weight", "min_data_in_leaf", "max_bin",
        "cat_smooth", "cat_l2", "max_cat_threshold", "extra_trees", "path_smooth", "colsample_bytree",
        "subsample", "subsample_freq", "min_sum_hessian_in_leaf", "feature_fraction_bynode",
    }
)  # fmt: skip


class LightGBMFamily(ModelFamily):
    """Stored as LightGBM's own model text; explained by its TreeSHAP; pruned on its validation metric."""

    name = "lightgbm"
    kinds = frozenset({"lightgbm"})
    libraries = ("lightgbm",)
    estimator_file = "model.txt"
    tunable_at_load = TUNABLE
    reports_steps = True
    # A report writes to the study storage; every round would cost more than the round itself.
    report_every = 10
    # Reports come every few rounds: warm up over a share of training comparable to torch's epochs.
    pruning_warmup = 30
    step_budget: ClassVar[tuple[str, int] | None] = ("max_rounds", DEFAULTS["max_rounds"])

    def train(self, spec: FamilySpec, data: TrainingData) -> Fit:
        return train_lightgbm(spec.params, data)

    def save_estimator(self, model: TrainedModel, path: Path) -> None:
        model.estimator.save_model(str(path))

    def load_estimator(self, path: Path, extra: dict[str, Any], task: str) -> Any:
        import lightgbm

        return lightgbm.Booster(model_file=str(path))

    def predict(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        import numpy as np

        # A few rows (an online request) on one thread: waking the model's thread pool cost ~10x the
        # prediction of one row (CPU 0.29 -> 0.03 ms, p99 12 -> 0.13 ms measured on a busy 2-core machine).
        # Rows are scored independently, so the scores are the same either way.
        threads = {"num_threads": 1} if len(matrix) <= _FEW_ROWS else {}
        return np.asarray(model.estimator.predict(matrix, **threads), dtype=np.float64)

    def margin(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(model.estimator.predict(matrix, raw_score=True), dtype=np.float64)

    def explain(self, model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
        from asset_platform.ml.explain import tree_attribution

        contributions = model.estimator.predict(matrix, pred_contrib=True)
        return tree_attribution(model, contributions, "lightgbm pred_contrib (TreeSHAP)")

    def reported_metric(self, metric: str) -> str:
        return _REPORTED[metric]

    def higher_is_better(self, reported: str) -> bool:
        return reported == "auc"

    def trial_params(self, params: dict[str, Any], workers: int) -> dict[str, Any]:
        # The fixed thread count assumes the machine is LightGBM's; parallel trials split the cores instead.
        if "num_threads" in params:
            return params
        return {**params, "num_threads": max(1, (os.cpu_count() or 1) // max(1, workers))}


def train_lightgbm(params: dict[str, Any], data: TrainingData) -> Fit:
    import lightgbm as lgb

    from asset_platform.ml.trained_model import TrainedModel

    settings = merged(DEFAULTS, params)
    objective, metrics = _OBJECTIVES[data.task]
    # The class count goes in only where there are classes: a binary booster's params keep their bytes.
    classes = {"num_class": len(data.pipeline.classes)} if data.task == "multiclass" else {}
    booster_params = {
        "objective": objective,
        **classes,
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
    label = {"auc": "valid AUC", "rmse": "valid RMSE", "multi_logloss": "valid log loss"}[shown]
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
