"""Every registered model family meets one contract (the platform's check_estimator).

Parametrized over the registry, so a newly registered family is checked without
a test of its own: it trains on a small frame, is stored and loaded back with
skops trust (or its library's safe loader), rebuilds byte-identically from the
same inputs and seed, explains each row with contributions that sum to its
margin, and tunes two trials (reporting steps only where it can be pruned).
A family needs one entry in SETTINGS: small params and a one-parameter search.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from asset_platform.declaration import ModelFamilySpec
from asset_platform.ml import TrainedModel
from asset_platform.ml.explain import explain, raw_margin
from asset_platform.ml.families import TrainingData, train_family, validation_split
from asset_platform.ml.families.registry import FAMILY_NAMES, UnknownFamilyError, family
from asset_platform.ml.features import FeaturePipeline, fit_pipeline
from asset_platform.storage.cache import ObjectCache
from asset_platform.storage.formats import write_staged

TASK = "binary_classification"
_LOG_RANGE = {"low": 0.05, "high": 0.3, "log": True}
# Per family: small params (a few rounds or epochs) and a search space of one parameter.
SETTINGS: dict[str, dict[str, Any]] = {
    "lightgbm": {
        "params": {"max_rounds": 25, "early_stopping_rounds": 5, "min_child_samples": 10},
        "space": {"learning_rate": _LOG_RANGE},
    },
    "sklearn": {"params": {}, "space": {"C": {"low": 0.1, "high": 10, "log": True}}},
    "torch": {"params": {"max_epochs": 2, "hidden": [8], "batch_size": 64}, "space": {"learning_rate": _LOG_RANGE}},
    "custom": {
        "trainer": f"{__name__}:imputed_logistic_trainer",
        "params": {},
        "space": {"C": {"low": 0.1, "high": 10, "log": True}},
    },
    "xgboost": {
        "params": {"max_rounds": 25, "early_stopping_rounds": 5, "max_depth": 3},
        "space": {"learning_rate": _LOG_RANGE},
    },
}


def imputed_logistic_trainer(fit_x, fit_y, valid_x, valid_y, params, task):
    """A user's trainer: missing values imputed, then logistic regression."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(SimpleImputer(), LogisticRegression(C=float(params.get("C", 1.0)))).fit(fit_x, fit_y)


def _custom_trusted_types() -> list[str]:
    import skops.io

    rows = np.random.default_rng(0).normal(size=(20, 2))
    estimator = imputed_logistic_trainer(rows, np.arange(20) % 2, None, None, {}, TASK)
    return skops.io.get_untrusted_types(data=skops.io.dumps(estimator))


def _rows(n: int = 480, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    size, weight = rng.normal(size=n), rng.normal(size=n)
    size[rng.random(n) < 0.1] = np.nan
    signal = np.where(colour == "red", 1.5, -0.5) + np.nan_to_num(size) - 0.5 * weight
    return pd.DataFrame(
        {
            "row": [f"r{i}" for i in range(n)],
            "at": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min"),
            "size": size,
            "weight": weight,
            "colour": colour,
            "label": (signal + rng.normal(scale=0.7, size=n) > 0).astype(np.int64),
        }
    )


@pytest.fixture(scope="module")
def frame() -> tuple[FeaturePipeline, pd.DataFrame]:
    rows = _rows()
    pipeline = fit_pipeline(
        rows,
        numeric=["size", "weight"],
        categorical=["colour"],
        id_column="row",
        time_column="at",
        label_column="label",
        task=TASK,
    )
    return pipeline, pipeline.transform(rows)


def _settings(name: str) -> dict[str, Any]:
    if name not in SETTINGS:
        pytest.fail(f"family {name!r} is registered but has no SETTINGS entry in {__name__}: add small params")
    return SETTINGS[name]


def _spec(name: str, tuning: dict | None = None) -> ModelFamilySpec:
    settings = _settings(name)
    spec = ModelFamilySpec(
        family=name,
        params=settings["params"],
        trainer=settings.get("trainer"),
        trusted_types=_custom_trusted_types() if settings.get("trainer") else [],
        tuning=tuning,
    )
    family(name).declare(spec)  # what building its asset does: declared trust for this process
    return spec


def _train(name: str, frame) -> TrainedModel:
    pipeline, features = frame
    fit, valid = validation_split(features, "at")
    return train_family(_spec(name), TrainingData(pipeline, TASK, fit, valid)).model


@pytest.fixture(scope="module")
def trained(frame) -> dict[str, TrainedModel]:
    """One model per family, trained on first use and shared by the checks below."""
    return {}


def _model(name: str, frame, trained: dict[str, TrainedModel]) -> TrainedModel:
    if name not in trained:
        trained[name] = _train(name, frame)
    return trained[name]


def _stored_md5(model: TrainedModel) -> str:
    """The DVC md5 of the model's folder as the storage would store it (see registry/reproduce.py)."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        staged = write_staged(model, "model", root / "model")
        oid, _files, _added = ObjectCache(root / "cache").insert_tree(staged.path, root)
    return oid


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_family_is_stored_and_loaded_back_with_safe_loaders_predicting_the_same(name, frame, trained, tmp_path):
    model = _model(name, frame, trained)
    _pipeline, features = frame
    assert model.flavor == name
    model.save(tmp_path)
    assert (tmp_path / family(name).estimator_file).is_file()
    loaded = TrainedModel.load(tmp_path)
    assert loaded.flavor == name and loaded.feature_names == model.feature_names
    predictions = loaded.predict(features)
    assert predictions.shape == (len(features),) and np.all((predictions >= 0) & (predictions <= 1))
    np.testing.assert_array_equal(predictions, model.predict(features))


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_family_scores_a_few_rows_as_it_scores_them_in_a_big_batch(name, frame, trained) -> None:
    """An online request of a row or two is scored as the same rows in a batch (a family may score few rows
    another way, e.g. LightGBM on one thread). Matrix products may round differently by batch size (torch's
    float32): within 1e-6."""
    model = _model(name, frame, trained)
    _pipeline, features = frame
    whole = model.predict(features)
    for rows in ([0], [3, 1], list(range(0, len(features), max(1, len(features) // 50)))):
        np.testing.assert_allclose(model.predict(features.iloc[rows]), whole[rows], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_family_rebuilds_byte_identically_from_the_same_inputs_and_seed(name, frame, trained) -> None:
    first = _model(name, frame, trained)
    assert _stored_md5(_train(name, frame)) == _stored_md5(first)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_family_explains_each_row_with_contributions_summing_to_its_margin(name, frame, trained) -> None:
    model = _model(name, frame, trained)
    _pipeline, features = frame
    rows = features.iloc[:60]
    attribution = explain(model, rows, background=features.iloc[100:140])
    matrix = rows[model.feature_names].to_numpy(dtype=np.float32)
    margin = raw_margin(model, matrix)
    # The margin is the output before the link: its sigmoid is the predicted probability.
    np.testing.assert_allclose(1 / (1 + np.exp(-margin)), model.predict(rows), atol=1e-4)
    assert attribution.values.shape == (60, len(model.feature_names)) and attribution.base is not None
    gap = np.abs(attribution.base + attribution.values.sum(axis=1) - margin)
    # Exact methods (and sampling Shapley values, exactly efficient) sum to the margin; integrated
    # gradients up to the path integral's discretisation.
    spread = np.abs(margin - attribution.base).max()
    assert gap.max() <= (1e-5 * (1 + np.abs(margin).max()) if attribution.exact else 0.05 * max(1.0, spread))


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_family_tunes_two_trials_and_reports_steps_only_if_it_can_be_pruned(name, frame) -> None:
    import optuna

    from asset_platform.tuning.objective import TuningProblem, make_objective
    from asset_platform.tuning.study import load_or_create_study, study_identity
    from asset_platform.tuning.worker import run_worker

    pipeline, features = frame
    tuning = {"search_space": _settings(name)["space"], "trials": 2, "pruning": True, "seed": 1}
    spec = _spec(name, tuning)
    problem = TuningProblem.from_training_set("conformance", TASK, "auc", spec, features, pipeline.to_dict())
    identity = study_identity("conformance", spec, TASK, "auc", features, pipeline.to_dict())
    study = load_or_create_study(identity, None, spec)  # in memory
    assert run_worker(study, make_objective(problem), 2) == 2
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert all(0.5 < t.value <= 1 for t in trials), [t.value for t in trials]
    assert all(bool(t.intermediate_values) == family(name).reports_steps for t in trials)
    assert isinstance(study.pruner, optuna.pruners.NopPruner) != family(name).reports_steps


def test_a_stored_model_of_an_unregistered_family_is_refused_naming_the_registered_ones(frame, trained, tmp_path):
    import json

    _model("sklearn", frame, trained).save(tmp_path)
    manifest = json.loads((tmp_path / "model.json").read_text())
    manifest["flavor"] = "catboost"
    (tmp_path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="unknown model flavor 'catboost'"):
        TrainedModel.load(tmp_path)
    with pytest.raises(UnknownFamilyError, match="registered families are " + ", ".join(FAMILY_NAMES)):
        family("catboost")


def test_the_declaration_accepts_exactly_the_registered_families() -> None:
    import json

    from pydantic import ValidationError

    from asset_platform.declaration import ModelDeclaration

    for name in FAMILY_NAMES:
        assert ModelFamilySpec(family=name).family == name
    with pytest.raises(ValidationError, match="catboost"):
        ModelFamilySpec(family="catboost")
    # The YAML schema `dg check yaml` validates with lists the same closed set.
    schema = json.dumps(ModelDeclaration.model().model_json_schema())
    assert json.dumps(list(FAMILY_NAMES)) in schema
