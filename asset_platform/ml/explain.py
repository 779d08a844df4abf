"""Feature attributions of every model family, in the model's own output units, per row.

Each family's `explain` picks its method (see ml/families/); the methods are
here. All rows are in the model's *margin* (log-odds for classifiers, the
predicted value for regressors, so families compare), and each attribution
carries its `base`: per row, the margin the contributions start from, so that
base + contributions = the row's margin (up to the method's approximation).

* gradient-boosted trees (LightGBM, XGBoost) - the booster's own TreeSHAP
  (`tree_attribution`): exact; each row's contributions plus the expected value
  sum to its raw margin.
* scikit-learn, linear final estimator (logistic regression, ridge, ...) -
  exact interventional SHAP of a linear model, coefficient x (input - mean of a
  background sample), on the pipeline's scaled / one-hot inputs. This is what
  `shap.LinearExplainer` computes with an independent masker (a test holds them
  equal); written out here because importing shap costs seconds per process.
  The linearity is verified on the rows before it is trusted.
* scikit-learn, tree ensembles - `shap.TreeExplainer` on the final estimator
  (exact for the trees; units are the estimator's own output); forests on at
  most `TREE_ROWS` rows of the sample.
* anything else (other scikit-learn estimators, custom trainers) - an
  approximation: Shapley values by permutation sampling (`sampling_shapley`,
  what shap's PermutationExplainer computes) on at most `PERMUTATION_ROWS` rows
  against a background of `PERMUTATION_BACKGROUND`, with the model's margin as output.
* PyTorch - an approximation: integrated gradients of the network's output
  along the straight path from the background mean to each row (`IG_STEPS`
  trapezoid steps); attributions sum to f(row) - f(mean) up to the path
  integral's discretisation.

One-hot columns of a categorical feature are summed back into that feature, so
every method reports one number per feature of the feature pipeline.

A multiclass model has one margin per class (LightGBM's and XGBoost's raw
scores, the network's logits, a multinomial linear model's decision function,
else the log-odds of each class's probability), and each method explains every
class's margin: `Attribution.per_class` holds rows x features x classes. Its
`values` are each row's predicted class's slice (why the row got the class it
got), so whatever reads one attribution per row and feature (global importance,
top reasons, attribution drift) reads that; `mean_abs_by_class` gives each
class's own global importance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from asset_platform.ml.trained_model import TrainedModel

BACKGROUND_ROWS = 100
PERMUTATION_ROWS = 200
# Each permutation evaluates the model on rows x background x (features + 1) rows.
PERMUTATION_BACKGROUND = 25
PERMUTATIONS = 4
# Tree SHAP on deep forests costs milliseconds per row; boosted trees are cheap, forests are not.
TREE_ROWS = 500
IG_STEPS = 16
# Rows per batched path integral: bounds memory at (IG_STEPS + 1) x rows x inputs floats.
_IG_CHUNK_ROWS = 2000


@dataclass
class Attribution:
    """Per-row attributions (rows x features) of one model, and how they were obtained."""

    features: list[str]
    values: np.ndarray
    method: str
    exact: bool
    # Per row, the margin the contributions start from (expected value, background mean, baseline's margin).
    base: np.ndarray | None = None
    # A multiclass model's attributions of every class's margin (rows x features x classes) and their bases
    # (rows x classes), classes in the model's order; None for one margin. `values` is the predicted class's.
    per_class: np.ndarray | None = None
    class_base: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)

    def mean_abs(self) -> dict[str, float]:
        """Global importance: the mean absolute attribution of each feature."""
        means = np.abs(self.values).mean(axis=0) if len(self.values) else np.zeros(len(self.features))
        return dict(zip(self.features, means.astype(float).tolist(), strict=True))

    def mean_abs_by_class(self) -> dict[str, dict[str, float]]:
        """A multiclass model's global importance per class: each class's mean |attribution| of its own margin,
        over every explained row ({} for a model of one margin)."""
        if self.per_class is None:
            return {}
        means = np.abs(self.per_class).mean(axis=0) if len(self.per_class) else np.zeros(self.per_class.shape[1:])
        return {
            name: dict(zip(self.features, means[:, index].astype(float).tolist(), strict=True))
            for index, name in enumerate(self.classes)
        }

    def by_group(self, groups: np.ndarray) -> dict[str, dict[str, float]]:
        """Mean absolute attribution of each feature within each group of rows."""
        result = {}
        for group in sorted(pd.unique(groups)):
            rows = np.abs(self.values[groups == group]).mean(axis=0)
            result[str(group)] = dict(zip(self.features, rows.astype(float).tolist(), strict=True))
        return result


def sample_rows(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """At most `rows` rows of `frame`, the same ones for the same frame and seed (`sample_positions`)."""
    return frame if len(frame) <= rows else frame.iloc[sample_positions(len(frame), rows, seed)]


def sample_positions(total: int, rows: int, seed: int = 0) -> np.ndarray:
    """The positions, in drawing order, of the `rows` rows (of `total`) that `sample_rows` takes.

    NumPy's Generator draws them with Floyd's algorithm, in memory for `rows` numbers; `DataFrame.sample`
    (the legacy RandomState) permutes all `total` positions first, 400 MB for a 50M-row batch, which a batch
    streamed in chunks (batch_engine.RowSample) would hold just to pick 200 rows.
    """
    if total <= rows:
        return np.arange(total)
    return np.random.default_rng(seed).choice(total, size=rows, replace=False)


def explain(model: TrainedModel, features: pd.DataFrame, background: pd.DataFrame | None = None) -> Attribution:
    """Attributions of `model` for the rows of `features` (the feature pipeline's columns)."""
    matrix = features[model.feature_names].to_numpy(dtype=np.float32)
    reference = matrix if background is None else background[model.feature_names].to_numpy(dtype=np.float32)
    reference = reference[:BACKGROUND_ROWS]
    from asset_platform.ml.families.registry import family

    return family(model.flavor).explain(model, matrix, reference)


def raw_margin(model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
    """The model's output before any link: log-odds for classifiers, the value for regressors."""
    from asset_platform.ml.families.registry import family

    return family(model.flavor).margin(model, matrix)


def tree_attribution(model: TrainedModel, contributions: np.ndarray, method: str) -> Attribution:
    """A booster's own TreeSHAP output (rows x (features + 1), the expected value last) as an attribution.

    A multiclass booster gives that block per class: LightGBM side by side (rows x classes * (features + 1)),
    XGBoost stacked (rows x classes x (features + 1)); both read as rows x classes x (features + 1).
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    if model.task != "multiclass":
        return Attribution(model.feature_names, contributions[:, :-1], method, True, contributions[:, -1])
    blocks = contributions.reshape(len(contributions), len(model.classes), len(model.feature_names) + 1)
    return class_attribution(model, blocks[:, :, :-1].transpose(0, 2, 1), blocks[:, :, -1], method, True)


def class_attribution(
    model: TrainedModel,
    per_class: np.ndarray,
    class_base: np.ndarray,
    method: str,
    exact: bool,
    margins: np.ndarray | None = None,
) -> Attribution:
    """A multiclass model's attributions of every class's margin (rows x features x classes, with bases rows x
    classes or one per class), its `values` and `base` each row's predicted class's: the class of the largest
    of `margins` (the model's margins of the rows), or where not given of the margins the attributions add
    up to (the same for an exact method)."""
    per_class = np.asarray(per_class, dtype=np.float64)
    rows = len(per_class)
    class_base = np.broadcast_to(np.asarray(class_base, dtype=np.float64), (rows, per_class.shape[2])).copy()
    total = class_base + per_class.sum(axis=1) if margins is None else np.asarray(margins)[:rows]
    predicted = np.argmax(total, axis=1) if rows else np.zeros(0, dtype=np.int64)
    at = np.arange(rows)
    return Attribution(
        model.feature_names,
        per_class[at, :, predicted],
        method,
        exact,
        class_base[at, predicted],
        per_class=per_class,
        class_base=class_base,
        classes=list(model.classes),
    )


def _fold(model: TrainedModel, columns: np.ndarray, numeric: int, sizes: list[int]) -> np.ndarray:
    """Input columns (numeric, then one one-hot block per categorical feature) → one column per feature
    (rows x inputs, or rows x inputs x classes for a multiclass model: each class folded alike)."""
    if columns.ndim == 3:
        return np.stack([_fold(model, columns[:, :, k], numeric, sizes) for k in range(columns.shape[2])], axis=2)
    parts = [columns[:, :numeric]]
    offset = numeric
    for size in sizes:
        parts.append(columns[:, offset : offset + size].sum(axis=1, keepdims=True))
        offset += size
    folded = np.hstack(parts)
    if folded.shape[1] != len(model.feature_names):
        raise ValueError(f"{model.flavor} model: {folded.shape[1]} attribution columns for {len(model.feature_names)}")
    return folded


def sklearn_attribution(model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution | None:
    """Exact attributions of our scikit-learn pipeline where its final estimator is linear or trees, else None."""
    spec = model.extra.get("estimator", {})
    if not hasattr(model.estimator, "steps") or "numeric" not in spec:
        return None
    prepare, final = model.estimator[:-1], model.estimator[-1]
    inputs = np.asarray(prepare.transform(matrix), dtype=np.float64)
    numeric, sizes = int(spec["numeric"]), list(spec.get("categorical_sizes", []))
    coef = getattr(final, "coef_", None)
    if model.task == "multiclass":
        return _sklearn_class_attribution(model, final, prepare, inputs, reference, numeric, sizes)
    if coef is not None and np.atleast_2d(coef).shape == (1, inputs.shape[1]):
        weights = np.atleast_2d(coef)[0].astype(np.float64)
        intercept = float(np.ravel(getattr(final, "intercept_", 0.0))[0])
        margin = final.decision_function(inputs) if model.task != "regression" else final.predict(inputs)
        if np.allclose(inputs @ weights + intercept, margin, atol=1e-6):
            center = np.asarray(prepare.transform(reference), dtype=np.float64).mean(axis=0)
            values = (inputs - center) * weights
            base = np.full(len(inputs), float(center @ weights + intercept))
            folded = _fold(model, values, numeric, sizes)
            return Attribution(model.feature_names, folded, "linear SHAP (exact)", True, base)
    if hasattr(final, "tree_") or hasattr(final, "estimators_") or hasattr(final, "_predictors"):
        inputs = inputs[:TREE_ROWS] if not hasattr(final, "_predictors") else inputs
        try:
            import shap

            explainer = shap.TreeExplainer(final)
            values = explainer.shap_values(inputs, check_additivity=False)
        except Exception:  # shap does not know every tree estimator; fall back to the approximation
            return None
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:  # (rows, inputs, classes): the positive class
            values = values[..., -1]
        base = np.full(len(values), float(np.ravel(explainer.expected_value)[-1]))
        folded = _fold(model, values, numeric, sizes)
        return Attribution(model.feature_names, folded, "shap TreeExplainer", True, base)
    return None


def _sklearn_class_attribution(
    model: TrainedModel, final: Any, prepare: Any, inputs: np.ndarray, reference: np.ndarray, numeric: int, sizes
) -> Attribution | None:
    """Exact per-class attributions of a multiclass scikit-learn pipeline: a multinomial linear final estimator
    (one coefficient row per class, margins its decision function) or trees (shap, each class's output)."""
    classes = len(model.classes)
    coef = getattr(final, "coef_", None)
    if coef is not None and np.shape(coef) == (classes, inputs.shape[1]):
        weights = np.asarray(coef, dtype=np.float64)  # classes x inputs
        intercept = np.ravel(getattr(final, "intercept_", np.zeros(classes))).astype(np.float64)
        margins = final.decision_function(inputs)
        if np.allclose(inputs @ weights.T + intercept, margins, atol=1e-6):
            center = np.asarray(prepare.transform(reference), dtype=np.float64).mean(axis=0)
            values = (inputs - center)[:, :, None] * weights.T[None, :, :]
            folded = _fold(model, values, numeric, sizes)
            return class_attribution(model, folded, center @ weights.T + intercept, "linear SHAP (exact)", True)
    if hasattr(final, "tree_") or hasattr(final, "estimators_") or hasattr(final, "_predictors"):
        inputs = inputs[:TREE_ROWS] if not hasattr(final, "_predictors") else inputs
        try:
            import shap

            explainer = shap.TreeExplainer(final)
            values = np.asarray(explainer.shap_values(inputs, check_additivity=False), dtype=np.float64)
        except Exception:  # shap does not know every tree estimator; fall back to the approximation
            return None
        if values.ndim != 3 or values.shape[2] != classes:  # one output only: not per class
            return None
        folded = _fold(model, values, numeric, sizes)
        return class_attribution(model, folded, np.ravel(explainer.expected_value), "shap TreeExplainer", True)
    return None


def sampling_attribution(model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
    """The model-agnostic approximation: sampling Shapley values of the margin (exactly efficient); of each
    class's margin for a multiclass model."""
    rows, background = matrix[:PERMUTATION_ROWS], reference[:PERMUTATION_BACKGROUND]
    values = sampling_shapley(lambda x: raw_margin(model, x), rows, background, PERMUTATIONS)
    method = (
        f"sampling Shapley values (approximate: {PERMUTATIONS} permutations, {len(rows)} rows, "
        f"background {len(background)})"
    )
    if model.task == "multiclass":
        start = raw_margin(model, background).mean(axis=0)
        return class_attribution(model, values, start, method, False, margins=raw_margin(model, rows))
    base = np.full(len(rows), float(raw_margin(model, background).mean()))
    return Attribution(model.feature_names, values, method, False, base)


def sampling_shapley(
    function: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    permutations: int = 4,
    seed: int = 0,
) -> np.ndarray:
    """Shapley values by permutation sampling against a background sample (interventional).

    Each permutation switches the features from background to row values one by
    one, in the permutation's order, and credits each feature with the change in
    the mean output; half the permutations are the reverse of the other half
    (antithetic, lower variance). Every permutation's credits sum to f(row) minus
    the background's mean output, so the result is exactly efficient. This is
    what shap's PermutationExplainer does; written out because shap's version
    compiles numba code for seconds in every new process.
    """
    rng = np.random.default_rng(seed)
    count, width = rows.shape
    orders: list[np.ndarray] = []
    while len(orders) < max(permutations, 1):
        order = rng.permutation(width)
        orders += [order, order[::-1]]
    # A function of several outputs (a multiclass model's margins) is credited per output: rows x width x K.
    outputs = np.shape(function(background[:1].astype(np.float32)))[1:]
    values = np.zeros((count, width, *outputs))

    def mean_output(current: np.ndarray) -> np.ndarray:
        found = function(current.reshape(-1, width))
        return found.reshape(count, -1, *outputs).mean(axis=1) if outputs else found.reshape(count, -1).mean(axis=1)

    for order in orders[: max(permutations, 1)]:
        current = np.repeat(background[None, :, :], count, axis=0).astype(np.float32)
        previous = mean_output(current)
        for feature in order:
            current[:, :, feature] = rows[:, feature][:, None]
            value = mean_output(current)
            values[:, feature] += value - previous
            previous = value
    return values / max(permutations, 1)


def integrated_gradients(model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
    """Integrated gradients of a PyTorch network (see ml/families/mlp.py) from the background mean."""
    import torch

    from asset_platform.ml.families.mlp import network_inputs

    layout = model.extra.get("inputs", {})
    inputs = torch.from_numpy(network_inputs(matrix, layout))
    baseline = torch.from_numpy(network_inputs(reference, layout)).mean(dim=0, keepdim=True)
    network = model.estimator.eval()
    scale = float(model.extra.get("target_scale", (0.0, 1.0))[1]) if model.task == "regression" else 1.0
    # All path points in one batch: (steps + 1) x rows forward and backward passes in a single call.
    alphas = torch.linspace(0.0, 1.0, IG_STEPS + 1).reshape(-1, 1, 1)
    weights = torch.full((IG_STEPS + 1, 1, 1), 1.0 / IG_STEPS)
    weights[0] = weights[-1] = 0.5 / IG_STEPS  # trapezoid rule
    # A multiclass network has one logit per class: each is integrated along the same path, a backward pass each.
    outputs = len(model.classes) if model.task == "multiclass" else 0
    parts = []
    for chunk in torch.split(inputs, _IG_CHUNK_ROWS):
        path = (baseline + alphas * (chunk - baseline)).requires_grad_(True)
        output = network(path)
        gradients = [
            torch.autograd.grad(output[..., k].sum() if outputs else output.sum(), path, retain_graph=k + 1 < outputs)[
                0
            ]
            for k in range(max(outputs, 1))
        ]
        per_output = [(chunk - baseline) * (weights * gradient).sum(dim=0) * scale for gradient in gradients]
        parts.append(torch.stack(per_output, dim=2) if outputs else per_output[0])
    values = torch.cat(parts).detach().numpy().astype(np.float64)
    numeric = int(layout.get("numeric", matrix.shape[1]))
    folded = _fold(model, values, numeric, list(layout.get("categorical_sizes", [])))
    method = f"integrated gradients (approximate, {IG_STEPS} steps from the background mean)"
    with torch.no_grad():
        start_logits = network(baseline).double().numpy()
    if outputs:
        with torch.no_grad():
            margins = network(inputs).double().numpy()
        return class_attribution(model, folded, start_logits[0], method, False, margins=margins)
    start = float(start_logits.squeeze()) * scale
    if model.task == "regression":
        start += float(model.extra.get("target_scale", (0.0, 1.0))[0])
    return Attribution(model.feature_names, folded, method, False, np.full(len(folded), start))


def rank_correlation(first: dict[str, float], second: dict[str, float]) -> float:
    """Spearman correlation of two models' global attributions over their common features."""
    from scipy.stats import spearmanr

    common = [name for name in first if name in second]
    if len(common) < 2:
        return float("nan")
    value = spearmanr([first[n] for n in common], [second[n] for n in common]).statistic
    return float(value)


def explanation_summary(model: TrainedModel, features: pd.DataFrame, groups: dict[str, np.ndarray]) -> dict[str, Any]:
    """Global and per-group mean |attribution| of `model` on `features`, and the method used."""
    attribution = explain(model, features)
    return {
        "method": attribution.method,
        "exact": attribution.exact,
        "rows": len(attribution.values),
        "global": attribution.mean_abs(),
        "groups": {name: attribution.by_group(labels[: len(attribution.values)]) for name, labels in groups.items()},
    }
