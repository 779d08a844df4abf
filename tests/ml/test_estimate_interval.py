"""The label-free estimate's interval: where a batch's realized metric falls if the estimator is right."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from asset_platform.ml.estimation import estimate, estimate_interval, fit_estimator

# No calibration knots: scores are taken as the probabilities they are.
CALIBRATED = {"method": "cbpe", "calibration": {}}


def _calibrated_batch(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    scores = rng.beta(1.0, 3.0, size=rows)
    return scores, (rng.random(rows) < scores).astype(int)


@pytest.mark.parametrize(("metric", "score"), [("auc", roc_auc_score), ("average_precision", average_precision_score)])
def test_a_calibrated_models_realized_metric_falls_in_the_interval_about_as_often_as_it_says(metric, score) -> None:
    rng = np.random.default_rng(3)
    inside = 0
    for _ in range(60):
        scores, labels = _calibrated_batch(400, rng)
        low, high = estimate_interval(metric, CALIBRATED, scores)
        assert low <= estimate(metric, CALIBRATED, scores) <= high
        inside += low <= score(labels, scores) <= high
    assert inside >= 51  # 95 % of 60 is 57; fewer than 52 would happen by chance once in ~100 runs


def test_a_bigger_batch_gets_a_narrower_interval() -> None:
    rng = np.random.default_rng(4)
    widths = []
    for rows in (200, 3200):
        low, high = estimate_interval("auc", CALIBRATED, _calibrated_batch(rows, rng)[0])
        widths.append(high - low)
    assert 2.5 < widths[0] / widths[1] < 6  # about sqrt(16) = 4


def test_the_interval_is_the_same_on_every_call() -> None:
    scores, _labels = _calibrated_batch(500, np.random.default_rng(5))
    assert estimate_interval("auc", CALIBRATED, scores) == estimate_interval("auc", CALIBRATED, scores)


def _regression_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=n)
    predictions = 10.0 + 3.0 * x
    return np.column_stack([x, rng.normal(size=n)]), predictions, predictions + rng.normal(0.0, 0.5 + 2.0 * x)


@pytest.mark.parametrize("metric", ["rmse", "mae"])
def test_a_regression_batchs_realized_error_falls_in_the_interval(metric) -> None:
    estimator = fit_estimator("regression", *_regression_rows(4000, seed=1))
    inside = 0
    for seed in range(10, 40):
        features, predictions, labels = _regression_rows(300, seed)
        low, high = estimate_interval(metric, estimator, predictions, features)
        assert low <= estimate(metric, estimator, predictions, features) <= high
        errors = labels - predictions
        realized = np.sqrt(np.mean(errors**2)) if metric == "rmse" else np.mean(np.abs(errors))
        inside += low <= realized <= high
    assert inside >= 24  # of 30, with a fitted (not exact) loss model


def test_no_interval_where_there_is_no_estimate() -> None:
    assert estimate_interval("auc", {}, np.array([0.2, 0.8])) is None
    assert estimate_interval("rmse", CALIBRATED, np.array([0.2, 0.8])) is None


def test_a_batch_bigger_than_the_simulation_gets_the_interval_of_a_sample_narrowed_to_its_size(monkeypatch) -> None:
    import asset_platform.ml.estimation as estimation

    scores, _labels = _calibrated_batch(40_000, np.random.default_rng(6))
    whole = estimate_interval("auc", CALIBRATED, scores)
    monkeypatch.setattr(estimation, "MAX_SIMULATED_ROWS", 4_000)
    sampled = estimate_interval("auc", CALIBRATED, scores)
    width, sampled_width = whole[1] - whole[0], sampled[1] - sampled[0]
    assert abs(sampled_width - width) < 0.2 * width
    assert abs((sampled[0] + sampled[1]) / 2 - (whole[0] + whole[1]) / 2) < 0.5 * width
