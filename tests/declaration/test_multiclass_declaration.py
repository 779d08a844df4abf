"""A multiclass model is declared with its classes as the label's categories; a declaration that mixes the
tasks up fails at load, naming the field."""

from __future__ import annotations

import pytest

from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.synthetic.tickets import TEAMS, ticket_columns
from tests.declaration.loans import loans_declaration
from tests.ml.tickets import tickets_declaration


def _label_categories(categories: list[str] | None, dtype: str = "str") -> list[dict]:
    columns = ticket_columns()
    columns[-1] = {**columns[-1], "categories": categories, "dtype": dtype}
    return columns


def _error(**changes) -> str:
    with pytest.raises(DeclarationError) as caught:
        tickets_declaration(models=[{"family": "lightgbm"}], **changes)
    return str(caught.value)


def test_a_multiclass_declaration_loads_with_its_classes_in_declared_order() -> None:
    declaration = tickets_declaration(models=[{"family": "lightgbm"}])
    assert declaration.task == "multiclass"
    assert declaration.label_classes == TEAMS
    assert declaration.metric_name == "macro_auc" and declaration.gate_metric == "macro_auc"
    # Per-class attributions are made on request: explanations default to off, and may be declared on.
    assert not declaration.explanations.enabled
    assert tickets_declaration(models=[{"family": "lightgbm"}], explanations={"enabled": True}).explanations.enabled
    assert loans_declaration().label_classes == [] and loans_declaration().explanations.enabled
    # The label-free estimate (CBPE one-vs-rest) may judge batches before their labels land.
    assert tickets_declaration(models=[{"family": "lightgbm"}], monitoring={"use_estimated_performance": True})
    for metric in ("log_loss", "accuracy", "macro_f1"):
        assert tickets_declaration(models=[{"family": "sklearn"}], metric=metric).metric_name == metric


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (["billing", "sales"], "needs at least 3 classes, 'team' declares 2 ('billing', 'sales')"),
        (None, "declare the classes of the multiclass label 'team' as its categories"),
        (["billing", "sales", "billing"], "a class of 'team' is listed twice"),
    ],
)
def test_a_label_without_three_declared_classes_is_refused_naming_its_categories(categories, expected) -> None:
    message = _error(columns=_label_categories(categories))
    assert "declaration 'tickets', field 'columns.team.categories'" in message and expected in message


def test_a_multiclass_label_must_be_a_str_column() -> None:
    message = _error(columns=_label_categories(["1", "2", "3"], dtype="int"))
    assert "field 'label_column'" in message and "a multiclass label is a str column" in message


@pytest.mark.parametrize(
    ("changes", "field", "metric"),
    [
        ({"metric": "rmse"}, "metric", "rmse"),
        ({"metric": "average_precision"}, "metric", "average_precision"),
        ({"metric": "auc"}, "metric", "auc"),
        ({"gate": {"metric": "brier"}}, "gate.metric", "brier"),
    ],
)
def test_a_metric_of_another_task_on_a_multiclass_model_is_refused(changes, field, metric) -> None:
    message = _error(**changes)
    assert f"field '{field}': '{metric}' is not a multiclass metric" in message
    assert "macro_auc, log_loss, accuracy, macro_f1" in message


@pytest.mark.parametrize("metric", ["macro_auc", "accuracy", "macro_f1"])
def test_a_multiclass_metric_on_a_binary_model_is_refused(metric) -> None:
    fields = {**loans_declaration().model_dump(exclude_none=True), "metric": metric}
    with pytest.raises(DeclarationError, match=f"field 'metric': '{metric}' is not a binary_classification metric"):
        ModelDeclaration(**fields)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {
                "models": [
                    {
                        "family": "lightgbm",
                        "tuning": {"trials": 2, "search_space": {"num_leaves": {"low": 4, "high": 8}}},
                    }
                ]
            },
            "models.0.tuning",
        ),
    ],
)
def test_what_a_multiclass_model_cannot_do_yet_is_refused_naming_the_field(changes, field) -> None:
    fields = {"models": [{"family": "lightgbm"}], **changes}
    with pytest.raises(DeclarationError) as caught:
        tickets_declaration(**fields)
    assert f"field '{field}'" in str(caught.value) and "not made for a multiclass model yet" in str(caught.value)
