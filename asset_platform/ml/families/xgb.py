"""XGBoost gradient-boosted trees (histogram method) with early stopping; categorical codes as native categoricals.

Stored as XGBoost's own JSON model (no code runs when it loads), explained by
XGBoost's TreeSHAP (`pred_contribs`, exact), pruned on its validation metric
every few rounds. The stored booster keeps only the rounds up to the best one,
so every prediction, contribution and margin is the early-stopped model's.
Installed as the CPU-only `xgboost-cpu` distribution (the `xgboost` module).
"""

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
    "max_depth": 6,
    "learning_rate": 0.05,
    "max_rounds": 500,
    "early_stopping_rounds": 30,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 0.9,
    "seed": 7,
    # Fixed so results are byte-reproducible.
    "nthread": 2,
}
_OURS = ("max_rounds", "early_stopping_rounds")
# Early stopping follows the last metric listed: AUC for classifiers, RMSE for regressors.
_METRICS = {
    "binary_classification": ["logloss", "auc"],
    "multiclass": ["merror", "mlogloss"],
    "regression": ["mae", "rmse"],
}
_OBJECTIVES = {
    "binary_classification": "binary:logistic",
    "multiclass": "multi:softprob",
    "regression": "reg:squarederror",
}
# The XGBoost metric reported while boosting, per declared metric (same direction as the declared one).
# The precision-recall metrics are reported as AUC, the ranking metric the booster already computes: adding
# XGBoost's aucpr would change which metric early stopping follows (the last listed).
_REPORTED = {
    "auc": "auc",
    "average_precision": "auc",
    "precision_at_recall": "auc",
    "log_loss": "logloss",
    "brier": "logloss",
    "rmse": "rmse",
    "mae": "mae",
}
TUNABLE = frozenset(
    {
        "max_rounds", "early_stopping_rounds", "max_depth", "max_leaves", "learning_rate", "eta",
        "min_child_weight", "subsample", "colsample_bytree", "colsample_bylevel", "colsample_bynode",
        "lambda", "reg_lambda", "alpha", "reg_alpha", "gamma", "min_split_loss", "max_bin",
        "max_delta_step", "grow_policy", "max_cat_to_onehot",
    }
)  # fmt: skip


class XGBoostFamily(ModelFamily):
    """Stored as XGBoost JSON; explained by its TreeSHAP; pruned on its validation metric."""

    name = "xgboost"
    kinds = frozenset({"xgboost"})
    libraries = ("xgboost-cpu", "xgboost")
    estimator_file = "booster.json"
    tunable_at_load = TUNABLE
    reports_steps = True
    # A report writes to the study storage; every round would cost more than the round itself.
    report_every = 10
    pruning_warmup = 30
    step_budget: ClassVar[tuple[str, int] | None] = ("max_rounds", DEFAULTS["max_rounds"])

    def train(self, spec: FamilySpec, data: TrainingData) -> Fit:
        return train_xgboost(spec.params, data)

    def save_estimator(self, model: TrainedModel, path: Path) -> None:
        model.estimator.save_model(str(path))

    def load_estimator(self, path: Path, extra: dict[str, Any], task: str) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(path))
        return booster

    def predict(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(model.estimator.predict(_matrix(model.estimator, matrix)), dtype=np.float64)

    def margin(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        import numpy as np

        margin = model.estimator.predict(_matrix(model.estimator, matrix), output_margin=True)
        return np.asarray(margin, dtype=np.float64)

    def explain(self, model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
        from asset_platform.ml.explain import tree_attribution

        contributions = model.estimator.predict(_matrix(model.estimator, matrix), pred_contribs=True)
        return tree_attribution(model, contributions, "xgboost pred_contribs (TreeSHAP)")

    def reported_metric(self, metric: str) -> str:
        return _REPORTED[metric]

    def higher_is_better(self, reported: str) -> bool:
        return reported == "auc"

    def trial_params(self, params: dict[str, Any], workers: int) -> dict[str, Any]:
        # The fixed thread count assumes the machine is XGBoost's; parallel trials split the cores instead.
        if "nthread" in params:
            return params
        return {**params, "nthread": max(1, (os.cpu_count() or 1) // max(1, workers))}


def _matrix(booster: Any, matrix: np.ndarray) -> Any:
    """A DMatrix of `matrix` typed as the booster was trained (categorical codes as categoricals)."""
    import xgboost

    return xgboost.DMatrix(
        matrix, feature_names=booster.feature_names, feature_types=booster.feature_types, enable_categorical=True
    )


def train_xgboost(params: dict[str, Any], data: TrainingData) -> Fit:
    import xgboost

    from asset_platform.ml.trained_model import TrainedModel

    settings = merged(DEFAULTS, params)
    metrics = _METRICS[data.task]
    # The class count goes in only where there are classes: a binary booster's params keep their bytes.
    classes = {"num_class": len(data.pipeline.classes)} if data.task == "multiclass" else {}
    booster_params = {
        "objective": _OBJECTIVES[data.task],
        **classes,
        "eval_metric": metrics,
        "tree_method": "hist",
        **{key: value for key, value in settings.items() if key not in _OURS},
        "verbosity": 0,
    }
    features, categorical = data.features, set(data.pipeline.categorical)
    types = ["c" if name in categorical else "q" for name in features]

    def dmatrix(frame):
        x, y = data.xy(frame)
        return xgboost.DMatrix(x, label=y, feature_names=features, feature_types=types, enable_categorical=True)

    curve: dict[str, dict[str, list[float]]] = {}
    booster = xgboost.train(
        booster_params,
        dmatrix(data.fit),
        num_boost_round=int(settings["max_rounds"]),
        evals=[(dmatrix(data.valid), "valid")],
        early_stopping_rounds=int(settings["early_stopping_rounds"]),
        evals_result=curve,
        verbose_eval=False,
        callbacks=[_reporter(data.report)] if data.report else None,
    )
    best = int(booster.best_iteration)
    # Training ran past the best round until early stopping: keep the best round's trees only.
    booster = booster[: best + 1]
    model = TrainedModel(
        "xgboost",
        booster,
        features,
        params={**booster_params, **{key: settings[key] for key in _OURS}},
        extra={"feature_pipeline": data.pipeline.to_dict()},
        task=data.task,
    )
    shown = metrics[-1]
    gain = booster.get_score(importance_type="gain")
    return Fit(
        model,
        importance={name: float(gain.get(name, 0.0)) for name in features},
        curve={f"valid {shown.upper()}": curve["valid"][shown][: best + 1]},
        curve_axes=("boosting round", shown.upper()),
        counts={"best_iteration": float(best + 1)},
    )


def _reporter(report) -> Any:
    """An XGBoost callback passing each round's validation metrics to `report` (the round counts from 1)."""
    import xgboost

    class Reporter(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch: int, evals_log) -> bool:
            report(epoch + 1, {name: float(values[-1]) for name, values in evals_log.get("valid", {}).items()})
            return False  # never stops training itself; a pruned trial raises out of it

    return Reporter()
