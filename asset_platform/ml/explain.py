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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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

    def mean_abs(self) -> dict[str, float]:
        """Global importance: the mean absolute attribution of each feature."""
        means = np.abs(self.values).mean(axis=0) if len(self.values) else np.zeros(len(self.features))
        return dict(zip(self.features, means.astype(float).tolist(), strict=True))

    def by_group(self, groups: np.ndarray) -> dict[str, dict[str, float]]:
        """Mean absolute attribution of each feature within each group of rows."""
        result = {}
        for group in sorted(pd.unique(groups)):
            rows = np.abs(self.values[groups == group]).mean(axis=0)
            result[str(group)] = dict(zip(self.features, rows.astype(float).tolist(), strict=True))
        return result


def sample_rows(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """At most `rows` rows of `frame`, the same ones for the same frame and seed."""
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


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
    """A booster's own TreeSHAP output (rows x (features + 1), the expected value last) as an attribution."""
    contributions = np.asarray(contributions, dtype=np.float64)
    return Attribution(model.feature_names, contributions[:, :-1], method, True, contributions[:, -1])


def _fold(model: TrainedModel, columns: np.ndarray, numeric: int, sizes: list[int]) -> np.ndarray:
    """Input columns (numeric, then one one-hot block per categorical feature) → one column per feature."""
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


def sampling_attribution(model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
    """The model-agnostic approximation: sampling Shapley values of the margin (exactly efficient)."""
    rows, background = matrix[:PERMUTATION_ROWS], reference[:PERMUTATION_BACKGROUND]
    values = sampling_shapley(lambda x: raw_margin(model, x), rows, background, PERMUTATIONS)
    base = np.full(len(rows), float(raw_margin(model, background).mean()))
    method = (
        f"sampling Shapley values (approximate: {PERMUTATIONS} permutations, {len(rows)} rows, "
        f"background {len(background)})"
    )
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
    values = np.zeros((count, width))
    orders: list[np.ndarray] = []
    while len(orders) < max(permutations, 1):
        order = rng.permutation(width)
        orders += [order, order[::-1]]
    for order in orders[: max(permutations, 1)]:
        current = np.repeat(background[None, :, :], count, axis=0).astype(np.float32)
        previous = function(current.reshape(-1, width)).reshape(count, -1).mean(axis=1)
        for feature in order:
            current[:, :, feature] = rows[:, feature][:, None]
            value = function(current.reshape(-1, width)).reshape(count, -1).mean(axis=1)
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
    parts = []
    for chunk in torch.split(inputs, _IG_CHUNK_ROWS):
        path = (baseline + alphas * (chunk - baseline)).requires_grad_(True)
        (gradient,) = torch.autograd.grad(network(path).sum(), path)
        parts.append((chunk - baseline) * (weights * gradient).sum(dim=0) * scale)
    values = torch.cat(parts).detach().numpy().astype(np.float64)
    with torch.no_grad():
        start = float(network(baseline).squeeze()) * scale
    if model.task == "regression":
        start += float(model.extra.get("target_scale", (0.0, 1.0))[0])
    numeric = int(layout.get("numeric", matrix.shape[1]))
    folded = _fold(model, values, numeric, list(layout.get("categorical_sizes", [])))
    method = f"integrated gradients (approximate, {IG_STEPS} steps from the background mean)"
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
