"""Feature attributions of every model family, in the model's own output units, per row.

Which method, by family (all rows in the model's *margin*: log-odds for
classifiers, the predicted value for regressors, so families compare):

* LightGBM - the booster's own TreeSHAP (`pred_contrib=True`): exact; each
  row's contributions plus the expected value sum to its raw margin.
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
# The logit link of the permutation method: a hard 0/1 vote (k-neighbours) would otherwise read as +-16.
_EPS = 1e-4


@dataclass
class Attribution:
    """Per-row attributions (rows x features) of one model, and how they were obtained."""

    features: list[str]
    values: np.ndarray
    method: str
    exact: bool

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
    if model.flavor == "lightgbm":
        contributions = np.asarray(model.estimator.predict(matrix, pred_contrib=True), dtype=np.float64)
        return Attribution(model.feature_names, contributions[:, :-1], "lightgbm pred_contrib (TreeSHAP)", True)
    if model.flavor == "torch":
        return _integrated_gradients(model, matrix, reference)
    if model.flavor == "sklearn":
        explained = _sklearn(model, matrix, reference)
        if explained is not None:
            return explained
    return _permutation(model, matrix, reference)


def raw_margin(model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
    """The model's output before any link: log-odds for classifiers, the value for regressors."""
    frame = pd.DataFrame(matrix, columns=model.feature_names)
    if model.flavor == "lightgbm":
        return np.asarray(model.estimator.predict(matrix, raw_score=True), dtype=np.float64)
    predictions = model.predict(frame)
    if model.task == "regression":
        return predictions
    clipped = np.clip(predictions, _EPS, 1 - _EPS)
    return np.log(clipped / (1 - clipped))


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


def _sklearn(model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution | None:
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
            return Attribution(model.feature_names, _fold(model, values, numeric, sizes), "linear SHAP (exact)", True)
    if hasattr(final, "tree_") or hasattr(final, "estimators_") or hasattr(final, "_predictors"):
        inputs = inputs[:TREE_ROWS] if not hasattr(final, "_predictors") else inputs
        try:
            import shap

            values = shap.TreeExplainer(final).shap_values(inputs, check_additivity=False)
        except Exception:  # shap does not know every tree estimator; fall back to the approximation
            return None
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:  # (rows, inputs, classes): the positive class
            values = values[..., -1]
        return Attribution(model.feature_names, _fold(model, values, numeric, sizes), "shap TreeExplainer", True)
    return None


def _permutation(model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
    rows, background = matrix[:PERMUTATION_ROWS], reference[:PERMUTATION_BACKGROUND]
    values = sampling_shapley(lambda x: raw_margin(model, x), rows, background, PERMUTATIONS)
    method = (
        f"sampling Shapley values (approximate: {PERMUTATIONS} permutations, {len(rows)} rows, "
        f"background {len(background)})"
    )
    return Attribution(model.feature_names, values, method, False)


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


def _integrated_gradients(model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
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
    numeric = int(layout.get("numeric", matrix.shape[1]))
    folded = _fold(model, values, numeric, list(layout.get("categorical_sizes", [])))
    method = f"integrated gradients (approximate, {IG_STEPS} steps from the background mean)"
    return Attribution(model.feature_names, folded, method, False)


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
