"""The label-free regression estimate (direct loss estimation) and the estimator stored with the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asset_platform.ml.estimation import estimate, estimate_all, fit_estimator, holdout_estimate


def _rows(n: int, low: float, high: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A model whose error grows with x: (features, predictions, labels)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=n)
    features = np.column_stack([x, rng.normal(size=n)])
    predictions = 10.0 + 3.0 * x
    labels = predictions + rng.normal(0.0, 0.5 + 2.0 * x, size=n)
    return features, predictions, labels


def _rmse(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.sqrt(np.mean((labels - predictions) ** 2)))


@pytest.fixture(scope="module")
def estimator() -> dict:
    return fit_estimator("regression", *_rows(3000, 0.0, 1.0, seed=1))


def test_regression_estimate_follows_a_shift_towards_rows_the_model_gets_wrong(estimator) -> None:
    features, predictions, labels = _rows(2000, 0.7, 1.0, seed=2)  # only rows where the errors are large
    estimated, realized = estimate("rmse", estimator, predictions, features), _rmse(predictions, labels)
    assert estimated > 1.3 * holdout_estimate(estimator, "rmse")  # the estimate saw the shift
    assert abs(estimated - realized) / realized < 0.1
    mae = estimate("mae", estimator, predictions, features)
    assert abs(mae - np.mean(np.abs(labels - predictions))) / mae < 0.1


def test_regression_holdout_estimate_is_close_to_the_holdout_metric(estimator) -> None:
    features, predictions, labels = _rows(3000, 0.0, 1.0, seed=1)
    assert holdout_estimate(estimator, "rmse") == pytest.approx(_rmse(predictions, labels), rel=0.05)


def test_a_loss_estimator_refuses_another_models_features(estimator) -> None:
    features, predictions, _labels = _rows(100, 0.0, 1.0, seed=3)
    with pytest.raises(ValueError, match="fitted on 2 features, the batch has 3"):
        estimate("rmse", estimator, predictions, np.column_stack([features, features[:, 0]]))
    with pytest.raises(ValueError, match="needs the batch's feature matrix"):
        estimate("rmse", estimator, predictions)


def test_a_holdout_too_small_or_of_one_class_fits_no_estimator() -> None:
    features, predictions, labels = _rows(20, 0.0, 1.0, seed=4)
    assert fit_estimator("regression", features, predictions, labels) == {}
    assert fit_estimator("binary_classification", np.zeros((200, 1)), np.full(200, 0.3), np.zeros(200)) == {}
    assert estimate("rmse", {}, predictions, features) is None


def test_an_empty_batch_has_no_regression_estimate(estimator) -> None:
    assert estimate_all(estimator, np.zeros(0), np.zeros((0, 2))) == {}


def test_the_estimator_is_stored_with_the_model_version_and_rebuilds_byte_identically(tmp_path) -> None:
    from asset_platform.declaration import ModelFamilySpec
    from asset_platform.ml.features import fit_declared_pipeline, time_split
    from asset_platform.ml.scoring import feature_matrix, featurize
    from asset_platform.ml.trained_model import TrainedModel
    from asset_platform.registry.training import train_model
    from asset_platform.synthetic import demo_dataset
    from definitions import project_declarations

    declaration = next(d for d in project_declarations() if d.task == "regression")
    data = demo_dataset(declaration.name)
    rows = pd.concat(
        [data.generate(800, pd.Timestamp("2026-01-01").date() + pd.Timedelta(days=d), 7, None, 1.0) for d in range(4)]
    )
    train, holdout, _cut = time_split(rows, declaration.time_column, 0.25)
    pipeline = fit_declared_pipeline(declaration, train)
    spec = ModelFamilySpec(family="lightgbm", params={"num_leaves": 7, "n_estimators": 30})
    args = (declaration.name, declaration.task, spec, pipeline.transform(train), pipeline.transform(holdout))

    def trained(folder):
        model = train_model(*args, pipeline.to_dict())[0].model
        folder.mkdir()
        model.save(folder)
        return folder

    first, second = trained(tmp_path / "a"), trained(tmp_path / "b")
    assert (first / "model.json").read_bytes() == (second / "model.json").read_bytes()
    model = TrainedModel.load(first)
    stored = model.extra["estimation"]
    assert stored["method"] == "dle" and set(stored["loss_models"]) == {"rmse", "mae"}
    batch = data.generate(2000, pd.Timestamp("2026-01-09").date(), 8, None, 1.0)
    features = featurize(model, batch)
    estimated = estimate("rmse", stored, model.predict(features), feature_matrix(model, features))
    realized = _rmse(model.predict(features), batch[declaration.label_column].to_numpy())
    assert abs(estimated - realized) / realized < 0.15
