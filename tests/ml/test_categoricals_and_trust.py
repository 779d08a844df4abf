"""Categorical features without hand encoding, unseen categories at scoring, and skops trust from the estimator."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from asset_platform.declaration import ModelFamilySpec
from asset_platform.ml import TrainedModel
from asset_platform.ml.families import TrainingData, train_family, validation_split
from asset_platform.ml.features import FeaturePipeline, fit_pipeline
from asset_platform.ml.trust import UntrustedModelError, declare_custom_trust


def _rows(n: int, seed: int, colours=("red", "green", "blue")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(colours, n)
    size = rng.normal(size=n)
    size[rng.random(n) < 0.1] = np.nan
    signal = np.where(colour == "red", 2.0, -1.0) + np.nan_to_num(size)
    return pd.DataFrame(
        {
            "row": [f"r{seed}-{i}" for i in range(n)],
            "at": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min"),
            "size": size,
            "colour": colour,
            "label": (signal + rng.normal(scale=0.5, size=n) > 0).astype(np.int64),
        }
    )


def _pipeline(rows: pd.DataFrame) -> FeaturePipeline:
    return fit_pipeline(
        rows,
        numeric=["size"],
        categorical=["colour"],
        id_column="row",
        time_column="at",
        label_column="label",
        task="binary_classification",
    )


def _train(spec: ModelFamilySpec, rows: pd.DataFrame) -> TrainedModel:
    pipeline = _pipeline(rows)
    fit, valid = validation_split(pipeline.transform(rows), "at")
    return train_family(spec, TrainingData(pipeline, "binary_classification", fit, valid)).model


def test_categories_become_codes_and_unseen_values_are_counted() -> None:
    rows = _rows(400, 1)
    pipeline = _pipeline(rows)
    scoring = _rows(50, 2, colours=("red", "purple"))
    features = pipeline.transform(scoring, with_label=False)
    purple = scoring["colour"].eq("purple").to_numpy()
    assert set(features.loc[purple, "colour"]) == {len(pipeline.vocabularies["colour"])}  # the "other" code
    assert pipeline.unseen_counts(scoring) == {"colour": int(purple.sum())}
    assert features["size__missing"].sum() == scoring["size"].isna().sum()
    assert pipeline.decode("colour", features["colour"].to_numpy())[purple][0] == "other"


@pytest.mark.parametrize("family", ["lightgbm", "sklearn", "torch"])
def test_every_family_learns_from_a_categorical_feature_and_scores_unseen_ones(tmp_path, family) -> None:
    model = _train(ModelFamilySpec(family=family), _rows(1500, 3))
    scoring = _rows(300, 4, colours=("red", "green", "purple"))
    pipeline = FeaturePipeline.from_dict(model.extra["feature_pipeline"])
    scores = model.predict(pipeline.transform(scoring, with_label=False))
    assert np.isfinite(scores).all()
    red = scoring["colour"].eq("red").to_numpy()
    assert scores[red].mean() > scores[~red].mean() + 0.2  # the colour was learned, not ignored
    model.save(tmp_path)
    assert np.allclose(TrainedModel.load(tmp_path).predict(pipeline.transform(scoring, with_label=False)), scores)


def test_lightgbm_uses_the_codes_as_native_categoricals() -> None:
    model = _train(ModelFamilySpec(family="lightgbm"), _rows(1500, 5))
    assert "colour" in model.estimator.dump_model()["feature_infos"]
    assert model.estimator.dump_model()["feature_infos"]["colour"]["values"]  # categorical splits list values


def test_a_histgradientboosting_model_round_trips_with_types_computed_from_its_estimator(tmp_path) -> None:
    spec = ModelFamilySpec(family="sklearn", estimator="sklearn.ensemble.HistGradientBoostingClassifier")
    model = _train(spec, _rows(800, 6))
    model.save(tmp_path)
    loaded = TrainedModel.load(tmp_path)
    assert type(loaded.estimator[-1]).__name__ == "HistGradientBoostingClassifier"


def test_a_forged_archive_with_a_type_its_estimator_does_not_have_is_refused(tmp_path) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    spec = ModelFamilySpec(family="sklearn", estimator="sklearn.ensemble.HistGradientBoostingClassifier")
    model = _train(spec, _rows(800, 7))
    # The manifest still names HistGradientBoosting; the archive smuggles in a call of an arbitrary function.
    model.estimator = Pipeline([("call", FunctionTransformer(func=os.getcwd)), *model.estimator.steps])
    model.save(tmp_path)
    with pytest.raises(UntrustedModelError, match="posix.getcwd"):
        TrainedModel.load(tmp_path)


def test_a_manifest_naming_a_non_sklearn_class_is_refused(tmp_path) -> None:
    model = _train(ModelFamilySpec(family="sklearn"), _rows(400, 8))
    model.save(tmp_path)
    manifest = json.loads((tmp_path / "model.json").read_text())
    manifest["extra"]["estimator"]["path"] = "os.system"
    (tmp_path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(UntrustedModelError, match="neither a scikit-learn estimator"):
        TrainedModel.load(tmp_path)


def test_a_model_saved_before_declarations_still_loads(tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rows = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    estimator = Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression())])
    estimator.fit(rows, (rows[:, 0] > 0).astype(int))
    TrainedModel("sklearn", estimator, ["a", "b", "c"]).save(tmp_path)
    manifest = json.loads((tmp_path / "model.json").read_text())
    del manifest["task"]  # written before regression existed
    (tmp_path / "model.json").write_text(json.dumps(manifest))
    loaded = TrainedModel.load(tmp_path)
    assert loaded.task == "binary_classification"
    assert loaded.predict(pd.DataFrame(rows, columns=["a", "b", "c"])).shape == (100,)


def nearest_centroid_trainer(fit_x, fit_y, valid_x, valid_y, params, task):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.neighbors import NearestCentroid

    return CalibratedClassifierCV(NearestCentroid(), cv=3).fit(np.nan_to_num(fit_x), fit_y)


def test_a_custom_trainer_loads_with_its_declared_types_only(tmp_path) -> None:
    trainer = f"{__name__}:nearest_centroid_trainer"
    model = _train(ModelFamilySpec(family="custom", trainer=trainer), _rows(600, 9))
    model.save(tmp_path)
    declare_custom_trust(trainer, [])
    with pytest.raises(UntrustedModelError, match="trusted_types"):
        TrainedModel.load(tmp_path)
    import skops.io

    types = skops.io.get_untrusted_types(data=(tmp_path / "model.skops").read_bytes())
    declare_custom_trust(trainer, types)
    assert TrainedModel.load(tmp_path).flavor == "custom"
