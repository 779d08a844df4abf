"""A user's own trainer, for anything the built-in families do not cover.

The declaration names a function `trainer(fit_x, fit_y, valid_x, valid_y, params, task)`
taking float32 feature matrices and labels; it returns a fitted estimator with
`predict_proba` (classification) or `predict` (regression). A multiclass model's labels
are class codes 0..K-1 (the declared classes' order); its `predict_proba` gives one
column per class in its `classes_`. The estimator
is stored with skops; the declaration's `trusted_types` lists the types it may
hold, and nothing else is loaded back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asset_platform.ml.families import Fit, TrainingData
from asset_platform.ml.families.base import SkopsFamily

if TYPE_CHECKING:
    from asset_platform.ml.families.base import FamilySpec


class CustomFamily(SkopsFamily):
    """A user's trainer: stored with skops, trusting the types its declaration lists; explained by sampling."""

    name = "custom"
    kinds = frozenset({"python"})
    libraries = ("skops",)
    untrusted_remedy = "List them under the model's trusted_types in the declaration if you trust them."

    def train(self, spec: FamilySpec, data: TrainingData) -> Fit:
        return train_custom(spec.trainer or "", spec.params, data)

    def trusted_types(self, extra: dict[str, Any], task: str) -> list[str]:
        from asset_platform.ml.trust import custom_types

        return custom_types(extra.get("trainer", ""))

    def declare(self, spec: FamilySpec) -> None:
        from asset_platform.ml.trust import declare_custom_trust

        declare_custom_trust(spec.trainer or "", spec.trusted_types)

    def declaration_problems(self, spec: FamilySpec) -> list[tuple[str, str]]:
        return [] if spec.trainer else [("trainer", "a custom model needs a trainer (module:function)")]


def train_custom(trainer: str, params: dict[str, Any], data: TrainingData) -> Fit:
    from asset_platform.imports import import_object
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
