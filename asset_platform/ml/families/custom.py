"""A user's own trainer, for anything the built-in families do not cover.

The declaration names a function `trainer(fit_x, fit_y, valid_x, valid_y, params, task)`
taking float32 feature matrices and labels; it returns a fitted estimator with
`predict_proba` (binary classification) or `predict` (regression). The estimator
is stored with skops; the declaration's `trusted_types` lists the types it may
hold, and nothing else is loaded back.
"""

from __future__ import annotations

from typing import Any

from asset_platform.ml.families import Fit, TrainingData


def train_custom(trainer: str, params: dict[str, Any], data: TrainingData) -> Fit:
    from asset_platform.declaration.contract import import_object
    from asset_platform.ml.trained_model import TrainedModel

    function = import_object(trainer)
    fit_x, fit_y = data.xy(data.fit)
    valid_x, valid_y = data.xy(data.valid)
    estimator = function(fit_x, fit_y, valid_x, valid_y, dict(params), data.task)
    needed = "predict" if data.task == "regression" else "predict_proba"
    if not hasattr(estimator, needed):
        raise TypeError(f"trainer {trainer!r} returned a {type(estimator).__name__} without {needed}()")
    model = TrainedModel(
        "custom",
        estimator,
        data.features,
        params={"trainer": trainer, **params},
        extra={"feature_pipeline": data.pipeline.to_dict(), "trainer": trainer},
        task=data.task,
    )
    return Fit(model)
