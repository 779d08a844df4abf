"""Bad tuning parts of a declaration fail at load, naming the declaration, the family and the parameter."""

from __future__ import annotations

import pytest

from asset_platform.declaration import DeclarationError
from asset_platform.declaration.tuning import tuning_asset_name
from tests.tuning.tiny import SEARCH_SPACE, tuned_declaration


def _with_space(space: dict, family: str = "lightgbm", **model) -> None:
    declaration = tuned_declaration()
    data = declaration.model_dump(exclude_none=True)
    data["models"][0].update(family=family, **model)
    data["models"][0]["tuning"]["search_space"] = space
    type(declaration)(**data)


@pytest.mark.parametrize(
    ("space", "field", "says"),
    [
        ({"num_leafs": {"type": "int", "low": 2, "high": 9}}, "num_leafs", "not a tunable lightgbm parameter"),
        ({"num_leaves": {"type": "int", "low": 9, "high": 9}}, "num_leaves", "must be below high"),
        ({"learning_rate": {"low": 0.0, "high": 0.3, "log": True}}, "learning_rate", "log-scale range needs low > 0"),
        ({"learning_rate": {"low": 0.1}}, "learning_rate", "needs both `low` and `high`"),
        ({"learning_rate": {"low": 0.1, "high": 1, "log": True, "step": 0.1}}, "learning_rate", "not both"),
        ({"learning_rate": {"low": 0.1, "high": 1, "step": -0.1}}, "learning_rate", "step must be positive"),
        ({"num_leaves": {"type": "int", "low": 2.5, "high": 9}}, "num_leaves", "whole low"),
        ({"extra_trees": {"type": "categorical"}}, "extra_trees", "non-empty list of `choices`"),
        ({"extra_trees": {"type": "categorical", "choices": [True, True]}}, "extra_trees", "listed twice"),
        ({"extra_trees": {"type": "categorical", "choices": [[1], [2]]}}, "extra_trees", "strings, numbers"),
        ({"extra_trees": {"type": "categorical", "choices": [1], "low": 0}}, "extra_trees", "`choices` only"),
        ({"learning_rate": {"low": 0.1, "high": 1, "choices": [1]}}, "learning_rate", "`choices` is for categorical"),
    ],
)
def test_a_bad_range_names_the_parameter(space: dict, field: str, says: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        _with_space(space)
    assert raised.value.field == f"models.0.tuning.search_space.{field}"
    assert raised.value.declaration == "loans"
    assert says in str(raised.value)


def test_torch_parameters_are_checked_and_its_layer_list_is_refused() -> None:
    _with_space({"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}}, family="torch")
    with pytest.raises(DeclarationError, match="not a tunable torch parameter; use one of: batch_size"):
        _with_space({"hidden": {"type": "categorical", "choices": ["64", "32"]}}, family="torch")


def test_sklearn_parameters_are_left_to_the_estimator() -> None:
    # Known only by importing the estimator class, which the declaration does not do at load.
    _with_space({"alpha": {"low": 0.1, "high": 10, "log": True}}, family="sklearn")


def test_an_empty_search_space_is_refused() -> None:
    with pytest.raises(DeclarationError, match="is empty") as raised:
        _with_space({})
    assert raised.value.field == "models.0.tuning.search_space"


def test_a_tuning_asset_may_not_clash_with_a_model_name() -> None:
    data = tuned_declaration().model_dump(exclude_none=True)
    data["models"].append({"family": "sklearn", "name": "lightgbm_tuning"})
    with pytest.raises(DeclarationError, match="would clash") as raised:
        type(tuned_declaration())(**data)
    assert raised.value.field == "models.0.name"


def test_the_budget_fields_are_validated_by_type() -> None:
    data = tuned_declaration().model_dump(exclude_none=True)
    data["models"][0]["tuning"]["trials"] = 0
    with pytest.raises(DeclarationError) as raised:
        type(tuned_declaration())(**data)
    assert raised.value.field == "models.0.tuning.trials"


def test_names_and_a_good_space_load() -> None:
    assert tuning_asset_name("lightgbm_model") == "lightgbm_tuning"
    assert tuning_asset_name("gbm_big") == "gbm_big_tuning"
    assert set(tuned_declaration().models[0].tuning.search_space) == set(SEARCH_SPACE)


def test_the_readme_tuning_snippet_is_a_valid_declaration() -> None:
    import re

    import yaml

    from tests import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    found = re.search(r"<!-- tuning:yaml -->\n```yaml\n(.*?)```", text, re.DOTALL)
    assert found, "README.md has no yaml block after <!-- tuning:yaml -->"
    data = tuned_declaration().model_dump(exclude_none=True)
    data["models"] = yaml.safe_load(found.group(1))["models"]
    (family,) = type(tuned_declaration())(**data).models
    assert family.tuning.workers == 2 and family.tuning.search_space["extra_trees"].choices == [True, False]


def test_the_tuning_asset_is_built_upstream_of_its_model_like_every_other_asset(tmp_path) -> None:
    import dagster as dg

    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    declaration = tuned_declaration(workers=3)
    defs = build_definitions([declaration], local_resources(PlatformHome(tmp_path)))
    dg.Definitions.validate_loadable(defs)
    names = lifecycle_names(declaration)
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    tuning = specs[names.key("lightgbm_tuning")]
    assert tuning.description and tuning.owners and tuning.kinds == {"optuna"} and tuning.code_version
    assert tuning.group_name == names.group("models")
    assert {dep.asset_key for dep in specs[names.key("lightgbm_model")].deps} >= {tuning.key}
    job = defs.resolve_job_def(names.training_job)
    ops = {node.name for node in job.graph.node_dict["loans__lightgbm_tuning"].definition.node_dict.values()}
    assert ops == {f"loans__lightgbm_tuning__worker_{i}" for i in range(3)} | {"loans__lightgbm_tuning__summary"}
    untuned = type(declaration)(**{**declaration.model_dump(exclude_none=True), "models": [{"family": "lightgbm"}]})
    keys = build_definitions([untuned], local_resources(PlatformHome(tmp_path))).resolve_all_asset_keys()
    assert not [key for key in keys if key.path[-1].endswith("_tuning")], "a family without tuning got one"
