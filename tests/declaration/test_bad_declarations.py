"""Bad declarations fail when the code location loads, naming the declaration and the field."""

from __future__ import annotations

import pytest

from asset_platform.declaration import DeclarationError, ModelDeclaration
from definitions import build_definitions
from tests.declaration.loans import loans_declaration


def _broken(**changes) -> dict:
    fields = loans_declaration().model_dump(exclude_none=True)
    fields.update(changes)
    return fields


def _error(**changes) -> str:
    with pytest.raises(DeclarationError) as caught:
        ModelDeclaration(**_broken(**changes))
    return str(caught.value)


def test_a_label_that_is_not_in_the_contract_names_the_field_and_the_columns() -> None:
    message = _error(label_column="repaid")
    assert "declaration 'loans', field 'label_column'" in message
    assert "'repaid' is not a column of the contract" in message and "loan_id" in message


def test_a_feature_missing_from_the_contract_is_named() -> None:
    message = _error(features=["income", "credit_score"])
    assert "field 'features'" in message and "'credit_score' is not a column" in message


def test_the_label_listed_as_a_feature_is_refused() -> None:
    assert "is the id, label or time column" in _error(features=["income", "defaulted"])


def test_an_unknown_model_family_lists_the_known_ones() -> None:
    message = _error(models=[{"family": "catboost"}])
    assert "declaration 'loans', field 'models.0.family'" in message
    assert "'lightgbm'" in message and "catboost" in message


def test_a_regression_with_a_classification_metric_is_refused() -> None:
    fields = _broken(task="regression", metric="auc", label_column="amount")
    with pytest.raises(
        DeclarationError, match="field 'metric': 'auc' is not a regression metric; use one of rmse, mae"
    ):
        ModelDeclaration(**fields)


def test_a_gate_metric_of_the_other_task_is_refused() -> None:
    assert "field 'gate.metric'" in _error(gate={"metric": "rmse"})


def test_a_binary_label_must_be_an_integer_or_boolean() -> None:
    assert "a binary label must be int (0/1) or bool" in _error(label_column="purpose")


def test_a_time_column_must_be_a_datetime() -> None:
    assert "field 'time_column'" in _error(time_column="income")


def test_a_name_that_cannot_prefix_asset_keys_is_refused() -> None:
    assert "field 'name'" in _error(name="Loans-2")


def test_two_models_with_one_asset_name_are_refused() -> None:
    message = _error(models=[{"family": "lightgbm"}, {"family": "lightgbm"}])
    assert "field 'models.1.name'" in message and "lightgbm_model" in message


def test_a_custom_model_needs_a_trainer() -> None:
    assert "field 'models.0.trainer'" in _error(models=[{"family": "custom"}])


def test_an_unknown_field_is_a_typo_not_an_ignored_setting() -> None:
    message = _error(lable_column="defaulted")
    assert "declaration 'loans', field 'lable_column'" in message


def test_a_drift_override_that_is_not_a_policy_field_is_named() -> None:
    assert "field 'monitoring.drift.psi_warn'" in _error(monitoring={"drift": {"psi_warn": 0.2}})


def test_a_segment_must_be_a_categorical_feature() -> None:
    assert "field 'segments'" in _error(segments=["income"])


def test_the_contract_is_given_once() -> None:
    assert "either `columns` or `schema_class`" in _error(schema_class="tests.declaration.loans:LoanSchema")


def test_two_declarations_with_one_name_fail_at_load() -> None:
    with pytest.raises(DeclarationError, match="declaration 'loans', field 'name': two declarations use this name"):
        build_definitions([loans_declaration(), loans_declaration()], resources={})
