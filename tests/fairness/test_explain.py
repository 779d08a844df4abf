"""Attributions of every model family: exact where the method is, and checked against shap."""

from __future__ import annotations

import numpy as np
import pytest

from asset_platform.ml.explain import explain, rank_correlation, raw_margin, sampling_shapley
from tests.fairness.conftest import Trained, fit


def _matrix(trained: Trained, name: str, rows: int = 300) -> np.ndarray:
    model = trained.models[name]
    return trained.features(name)[model.feature_names].to_numpy(dtype=np.float32)[:rows]


def test_lightgbm_contributions_sum_to_the_raw_margin_and_match_shap(trained: Trained) -> None:
    import shap

    model = trained.models["champion"]
    features = trained.features().iloc[:300]
    attribution = explain(model, features)
    matrix = _matrix(trained, "champion")
    contributions = model.estimator.predict(matrix, pred_contrib=True)
    assert attribution.exact
    assert np.abs(contributions.sum(axis=1) - raw_margin(model, matrix)).max() < 1e-6
    reference = shap.TreeExplainer(model.estimator).shap_values(matrix)
    assert np.abs(attribution.values - np.asarray(reference)).max() < 1e-6


def test_sklearn_linear_attributions_equal_shaps_linear_explainer(trained: Trained) -> None:
    import shap

    model, _ = fit(trained.train, family="sklearn")
    features = trained.pipeline.transform(trained.holdout).iloc[:200]
    attribution = explain(model, features)
    assert attribution.exact and attribution.method.startswith("linear SHAP")
    prepare, final = model.estimator[:-1], model.estimator[-1]
    inputs = prepare.transform(features[model.feature_names].to_numpy(dtype=np.float32))
    background = prepare.transform(features[model.feature_names].to_numpy(dtype=np.float32)[:100])
    values = shap.LinearExplainer(final, shap.maskers.Independent(background, max_samples=100)).shap_values(inputs)
    numeric = len(model.feature_names) - 1  # the region's one-hot block is summed into one feature
    folded = np.hstack([values[:, :numeric], values[:, numeric:].sum(axis=1, keepdims=True)])
    assert np.abs(attribution.values - folded).max() < 1e-6


def test_sklearn_trees_use_shaps_tree_explainer(trained: Trained) -> None:
    model, _ = fit(trained.train, family="sklearn", estimator="sklearn.ensemble.HistGradientBoostingClassifier")
    attribution = explain(model, trained.pipeline.transform(trained.holdout).iloc[:200])
    assert attribution.method == "shap TreeExplainer" and attribution.values.shape == (200, 5)
    assert max(attribution.mean_abs(), key=attribution.mean_abs().get) == "x1"


def test_torch_integrated_gradients_are_complete(trained: Trained) -> None:
    model, _ = fit(trained.train, family="torch", params={"max_epochs": 3, "hidden": [16]})
    features = trained.pipeline.transform(trained.holdout)
    attribution = explain(model, features.iloc[:200], background=features.iloc[:100])
    matrix = features[model.feature_names].to_numpy(dtype=np.float32)
    baseline_margin = _network_margin_at_mean(model, matrix[:100])
    gap = raw_margin(model, matrix[:200]) - baseline_margin
    assert not attribution.exact
    # Completeness holds up to the trapezoid rule's discretisation of the path integral.
    assert np.abs(attribution.values.sum(axis=1) - gap).max() < 0.05 * max(1.0, np.abs(gap).max())


def _network_margin_at_mean(model, background: np.ndarray) -> float:
    import torch

    from asset_platform.ml.families.mlp import network_inputs

    mean = network_inputs(background, model.extra["inputs"]).mean(axis=0, keepdims=True)
    with torch.no_grad():
        return float(model.estimator(torch.from_numpy(mean)).squeeze())


def test_other_estimators_get_the_documented_sampling_approximation(trained: Trained) -> None:
    model, _ = fit(trained.train, family="sklearn", estimator="sklearn.naive_bayes.GaussianNB")
    features = trained.pipeline.transform(trained.holdout)
    attribution = explain(model, features.iloc[:40], background=features.iloc[:20])
    assert not attribution.exact and "sampling Shapley values (approximate" in attribution.method
    assert attribution.values.shape == (40, 5)
    # Efficient by construction: each row's attributions sum to its margin minus the background's mean margin.
    matrix = features[model.feature_names].to_numpy(dtype=np.float32)
    expected = raw_margin(model, matrix[:40]) - raw_margin(model, matrix[:20]).mean()
    assert np.abs(attribution.values.sum(axis=1) - expected).max() < 1e-6


def test_sampling_shapley_is_exact_for_an_additive_function() -> None:
    rng = np.random.default_rng(0)
    rows, background, weights = rng.normal(size=(30, 6)), rng.normal(size=(25, 6)), rng.normal(size=6)
    values = sampling_shapley(lambda x: np.asarray(x, dtype=np.float64) @ weights, rows, background, permutations=2)
    exact = (rows - background.astype(np.float32).mean(axis=0)) * weights
    assert np.abs(values - exact).max() < 1e-5


def test_per_group_attributions_and_rank_correlation(trained: Trained) -> None:
    champion = explain(trained.models["champion"], trained.features().iloc[:500])
    biased = explain(trained.models["biased"], trained.features("biased").iloc[:500])
    by_group = champion.by_group(trained.groups["region"][:500])
    # In "west" the label follows x3, elsewhere x1: the champion learned both.
    assert by_group["west"]["x3"] > by_group["north"]["x3"]
    assert rank_correlation(champion.mean_abs(), champion.mean_abs()) == pytest.approx(1.0)
    assert -1.0 <= rank_correlation(champion.mean_abs(), biased.mean_abs()) <= 1.0
