"""The label-free estimate made chunk by chunk: the same figures however a batch is cut, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from asset_platform.ml import estimation
from asset_platform.ml.estimation import fit_estimator
from asset_platform.ml.streamed_estimate import StreamedEstimate


def _chunked(estimator: dict, predictions: np.ndarray, features: np.ndarray | None, cuts: list[int]):
    found = StreamedEstimate(estimator, len(predictions))
    bounds = [0, *cuts, len(predictions)]
    for start, stop in zip(bounds, bounds[1:], strict=False):
        found.add(predictions[start:stop], None if features is None else features[start:stop])
    return found


def _binary(rows: int, seed: int) -> tuple[dict, np.ndarray]:
    rng = np.random.default_rng(seed)
    holdout = rng.beta(1.0, 4.0, 3000)
    estimator = fit_estimator("binary_classification", None, holdout, (rng.random(3000) < holdout).astype(int))
    return estimator, rng.beta(1.0, 4.0, rows)


def _multiclass(rows: int, seed: int) -> tuple[dict, np.ndarray]:
    rng = np.random.default_rng(seed)

    def probabilities(n: int) -> np.ndarray:
        raw = rng.gamma(1.0, size=(n, 4)) ** 2
        return raw / raw.sum(axis=1, keepdims=True)

    holdout = probabilities(3000)
    labels = np.array([rng.choice(4, p=row) for row in holdout])
    return fit_estimator("multiclass", None, holdout, labels), probabilities(rows)


def _regression(rows: int, seed: int) -> tuple[dict, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)

    def batch(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(size=(n, 2))
        return x, 3.0 * x[:, 0]

    features, predictions = batch(3000)
    labels = predictions + rng.normal(0.0, 0.2 + features[:, 0])
    estimator = fit_estimator("regression", features, predictions, labels)
    return (estimator, *batch(rows)[::-1])


@pytest.mark.parametrize("cuts", [[1], [7, 8, 9, 2_000], list(range(500, 6_000, 500))])
def test_every_task_gets_the_same_estimates_and_intervals_however_the_batch_is_cut(cuts) -> None:
    binary, scores = _binary(6_000, seed=1)
    multiclass, probabilities = _multiclass(6_000, seed=2)
    regression, predictions, features = _regression(6_000, seed=3)
    for estimator, batch, matrix in (
        (binary, scores, None),
        (multiclass, probabilities, None),
        (regression, predictions, features),
    ):
        whole = StreamedEstimate.of(estimator, batch, matrix)
        pieces = _chunked(estimator, batch, matrix, cuts)
        assert whole.estimates() == pieces.estimates() and whole.estimates()
        for metric in whole.estimates():
            assert whole.interval(metric) == pieces.interval(metric), metric


def test_a_batch_bigger_than_the_simulation_keeps_only_the_sampled_rows_and_the_same_interval(monkeypatch) -> None:
    monkeypatch.setattr(estimation, "MAX_SIMULATED_ROWS", 1_000)
    estimator, scores = _binary(30_000, seed=4)
    pieces = _chunked(estimator, scores, None, list(range(777, 30_000, 777)))
    assert sum(len(kept) for kept in pieces._sampled) == 1_000
    assert pieces.interval("auc") == StreamedEstimate.of(estimator, scores).interval("auc")


def test_the_binary_estimate_is_the_row_by_row_one_on_the_rounded_probabilities() -> None:
    """Rows sorted by probability, highest first: the expected ROC curve's area and the expected precision at
    each row weighted by the row's probability, with many rows sharing each probability."""
    rng = np.random.default_rng(5)
    p = rng.choice(np.arange(1, 40) / 40, 30_000)  # steps of 1/40 are not steps of 2^-20: rounded first
    rounded = np.rint(p * estimation.PROBABILITY_STEPS) / estimation.PROBABILITY_STEPS
    ordered = np.sort(rounded)[::-1]
    positives, negatives = np.cumsum(ordered), np.cumsum(1 - ordered)
    auc = np.trapezoid(np.r_[0, positives / positives[-1]], np.r_[0, negatives / negatives[-1]])
    average_precision = np.sum(ordered * positives / np.arange(1, p.size + 1)) / positives[-1]
    assert estimation.estimated_auc(p) == pytest.approx(auc, abs=1e-12)
    assert estimation.estimated_average_precision(p) == pytest.approx(average_precision, abs=1e-12)


def test_a_nan_score_leaves_the_batch_without_an_estimate_rather_than_a_wrong_one() -> None:
    estimator, scores = _binary(500, seed=6)
    scores[17] = np.nan
    found = StreamedEstimate.of(estimator, scores)
    assert found.estimate("auc") is None and found.interval("auc") is None


def test_more_rows_than_the_batch_has_are_refused() -> None:
    estimator, scores = _binary(100, seed=7)
    found = StreamedEstimate(estimator, 60)
    with pytest.raises(ValueError, match="61 rows added to the estimate of a batch of 60"):
        found.add(scores[:61])


def test_a_regression_estimate_without_the_feature_matrix_or_with_the_wrong_one_is_refused() -> None:
    estimator, predictions, features = _regression(50, seed=8)
    with pytest.raises(ValueError, match="needs the batch's feature matrix"):
        StreamedEstimate.of(estimator, predictions)
    with pytest.raises(ValueError, match="fitted on 2 features, the batch has 3"):
        StreamedEstimate.of(estimator, predictions, np.column_stack([features, features[:, 0]]))


def test_multiclass_scores_with_another_number_of_classes_are_refused() -> None:
    estimator, probabilities = _multiclass(40, seed=9)
    with pytest.raises(ValueError, match=r"fitted on 4 classes, the batch's scores have shape \(40, 3\)"):
        StreamedEstimate.of(estimator, probabilities[:, :3])
