"""What the XGBoost family adds beyond the conformance every family meets (test_family_conformance.py)."""

from __future__ import annotations

import pytest

from asset_platform.declaration import DeclarationError, ModelFamilySpec
from asset_platform.ml.families import TrainingData, train_family, validation_split
from asset_platform.ml.features import fit_pipeline
from tests.ml.test_family_conformance import TASK, _rows
from tests.tuning.tiny import tuned_declaration


@pytest.fixture(scope="module")
def fitted():
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
    fit, valid = validation_split(pipeline.transform(rows), "at")
    spec = ModelFamilySpec(family="xgboost", params={"max_rounds": 300, "early_stopping_rounds": 5})
    return train_family(spec, TrainingData(pipeline, TASK, fit, valid))


def test_xgboost_stores_only_the_rounds_up_to_the_best_one(fitted) -> None:
    rounds = fitted.model.estimator.num_boosted_rounds()
    assert rounds == fitted.counts["best_iteration"] < 300
    assert len(next(iter(fitted.curve.values()))) == rounds
    assert fitted.curve_axes == ("boosting round", "AUC")


def test_xgboost_reads_category_codes_as_native_categoricals(fitted) -> None:
    types = dict(zip(fitted.model.feature_names, fitted.model.estimator.feature_types, strict=True))
    assert types["colour"] == "c" and types["size"] == "q"
    assert fitted.importance["colour"] > 0  # the planted colour effect is learned from the codes


def test_an_xgboost_search_over_a_parameter_it_lacks_is_refused_when_the_declaration_loads() -> None:
    data = tuned_declaration().model_dump(exclude_none=True)
    data["models"][0]["family"] = "xgboost"  # its search space is LightGBM's: num_leaves is not XGBoost's
    with pytest.raises(DeclarationError, match="search_space.num_leaves': not a tunable xgboost parameter.*max_depth"):
        type(tuned_declaration())(**data)
    data["models"][0]["tuning"]["search_space"] = {"max_depth": {"type": "int", "low": 2, "high": 6}}
    assert type(tuned_declaration())(**data).models[0].family == "xgboost"


def test_an_xgboost_model_asset_shows_its_kind_and_its_version_is_recorded(tmp_path) -> None:
    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.registry.tracking import library_versions
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    data = tuned_declaration().model_dump(exclude_none=True)
    data["models"] = [{"family": "xgboost"}]
    declaration = type(tuned_declaration())(**data)
    defs = build_definitions([declaration], local_resources(PlatformHome(tmp_path)))
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    model = specs[lifecycle_names(declaration).key("xgboost_model")]
    assert model.kinds == {"xgboost"} and model.metadata["asset_platform/family"] == "xgboost"
    assert "xgboost-cpu" in library_versions()
