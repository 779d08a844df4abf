"""Any scikit-learn estimator inside our pipeline: categorical codes one-hot encoded, numbers scaled.

The declaration names the estimator class (default: logistic regression for
classification, ridge for regression) and its params; the pipeline around it
is ours, so categorical features work without hand encoding and unseen
categories (the "other" code) are handled by the encoder.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from asset_platform.ml.families import Fit, TrainingData
from asset_platform.ml.families.base import SkopsFamily

if TYPE_CHECKING:
    from asset_platform.ml.explain import Attribution
    from asset_platform.ml.families.base import FamilySpec
    from asset_platform.ml.trained_model import TrainedModel

DEFAULT_ESTIMATORS = {
    "binary_classification": "sklearn.linear_model.LogisticRegression",
    # Multinomial: one softmax over the classes, so the probabilities are fitted jointly and sum to 1.
    "multiclass": "sklearn.linear_model.LogisticRegression",
    "regression": "sklearn.linear_model.Ridge",
}
_DEFAULT_PARAMS = {"sklearn.linear_model.LogisticRegression": {"max_iter": 1000}}


class SklearnFamily(SkopsFamily):
    """Stored with skops, trusting exactly the types the named estimator consists of (see ml/trust.py).

    Trains in one call, so it reports no steps and is never pruned; its tunable
    parameters are the estimator's own, known once the estimator is imported.
    """

    name = "sklearn"
    kinds = frozenset({"scikitlearn"})
    libraries = ("scikit-learn", "skops")

    def train(self, spec: FamilySpec, data: TrainingData) -> Fit:
        return train_sklearn(spec.estimator, spec.params, data)

    def trusted_types(self, extra: dict[str, Any], task: str) -> list[str]:
        from asset_platform.ml.trust import LEGACY_SKLEARN_TYPES, sklearn_types

        if "estimator" not in extra:
            return LEGACY_SKLEARN_TYPES
        return list(sklearn_types(json.dumps(extra["estimator"], sort_keys=True), task or "binary_classification"))

    def margin(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        """A multiclass estimator's decision function where it has one (a multinomial model's per-class logits,
        which its exact attributions add up to), else the log-odds of each probability (the default)."""
        # A class absent from training has no decision column: then the probabilities' log-odds (its is 0).
        learned = len(getattr(model.estimator, "classes_", ()))
        if (
            model.task == "multiclass"
            and hasattr(model.estimator, "decision_function")
            and learned == len(model.classes)
        ):
            return np.asarray(model.estimator.decision_function(matrix), dtype=np.float64)
        return super().margin(model, matrix)

    def explain(self, model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
        from asset_platform.ml.explain import sampling_attribution, sklearn_attribution

        explained = sklearn_attribution(model, matrix, reference)
        return explained if explained is not None else sampling_attribution(model, matrix, reference)

    def declare(self, spec: FamilySpec) -> None:
        from asset_platform.ml.trust import declare_estimator

        if spec.estimator:
            declare_estimator(spec.estimator.replace(":", "."))

    def tunable_params(self, spec: FamilySpec, task: str) -> frozenset[str] | None:
        path = (spec.estimator or DEFAULT_ESTIMATORS[task]).replace(":", ".")
        return frozenset(estimator_class(path)().get_params())


def estimator_class(path: str) -> type:
    from sklearn.base import BaseEstimator

    from asset_platform.imports import import_object

    cls = import_object(path)
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise TypeError(f"{path!r} is not a scikit-learn estimator class (a subclass of sklearn.base.BaseEstimator)")
    return cls


def build_pipeline(path: str, params: dict[str, Any], numeric: int, categorical_sizes: list[int]) -> Any:
    """Scaler for the first `numeric` columns, one-hot for the categorical codes after them, then the estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, list[int]]] = [("numeric", StandardScaler(), list(range(numeric)))]
    if categorical_sizes:
        encoder = OneHotEncoder(
            categories=[np.arange(size, dtype=np.float64) for size in categorical_sizes],
            handle_unknown="ignore",
            sparse_output=False,
        )
        parts.append(("categorical", encoder, list(range(numeric, numeric + len(categorical_sizes)))))
    prepare = ColumnTransformer(parts, remainder="drop")
    return Pipeline([("prepare", prepare), ("estimator", estimator_class(path)(**params))])


def train_sklearn(path: str | None, params: dict[str, Any], data: TrainingData) -> Fit:
    from asset_platform.ml.trained_model import TrainedModel

    path = (path or DEFAULT_ESTIMATORS[data.task]).replace(":", ".")
    settings = {**_DEFAULT_PARAMS.get(path, {}), **params}
    if "random_state" in estimator_class(path)().get_params() and "random_state" not in settings:
        settings["random_state"] = 7  # reproducible by default
    pipeline = data.pipeline
    # Numeric columns (with their missing flags) first, categorical codes last, as the feature names are.
    numeric = len(pipeline.feature_names) - len(pipeline.categorical)
    sizes = list(pipeline.category_sizes().values())
    estimator = build_pipeline(path, settings, numeric, sizes)
    estimator.fit(*data.xy(data.fit))
    spec = {"path": path, "params": settings, "numeric": numeric, "categorical_sizes": sizes}
    model = TrainedModel(
        "sklearn",
        estimator,
        pipeline.feature_names,
        params={"estimator": path, **settings},
        extra={"feature_pipeline": pipeline.to_dict(), "estimator": spec},
        task=data.task,
    )
    counts = {}
    n_iter = getattr(estimator[-1], "n_iter_", None)
    if n_iter is not None:
        counts["iterations"] = float(np.max(n_iter))
    return Fit(model, importance=_importance(estimator, data), counts=counts)


def _importance(estimator: Any, data: TrainingData) -> dict[str, float]:
    """Permutation-free importance where the estimator exposes one; coefficients summed per input column."""
    final = estimator[-1]
    names = data.pipeline.feature_names
    numeric = len(names) - len(data.pipeline.categorical)
    if hasattr(final, "feature_importances_"):
        values = np.asarray(final.feature_importances_, dtype=np.float64)
    elif hasattr(final, "coef_"):
        values = np.abs(np.atleast_2d(final.coef_)).sum(axis=0)
    else:
        return {}
    importance = dict(zip(names[:numeric], values[:numeric].tolist(), strict=False))
    offset = numeric
    for name, size in data.pipeline.category_sizes().items():
        importance[name] = float(values[offset : offset + size].sum())
        offset += size
    return importance
