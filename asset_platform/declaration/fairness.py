"""The fairness and explanation part of a declaration: who to audit by, and how much worse a group may get."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from asset_platform.declaration.base import Spec

if TYPE_CHECKING:
    from asset_platform.declaration.model import ModelDeclaration


# Every metric the fairness rule knows; which of them fit the task is checked with the declaration.
GroupMetric = Literal[
    "auc",
    "average_precision",
    "log_loss",
    "brier",
    "tpr",
    "fpr",
    "selection_rate",
    "calibration",
    "rmse",
    "mae",
    "macro_auc",
    "accuracy",
    "macro_f1",
]


class FairnessSpec(Spec):
    """Per-group evidence for every challenger and the champion, and a rule in the promotion gate."""

    attributes: list[str] = Field(
        default_factory=list, description="Columns to audit by (categorical; need not be model features)."
    )
    min_group_size: int = Field(
        default=50, ge=1, description="Groups with fewer holdout rows are reported as insufficient, never passed."
    )
    tolerance: float | None = Field(
        default=None,
        ge=0,
        description="Block a challenger when the upper bound of the increase in the largest group gap "
        "(challenger minus champion) exceeds this; None: report only.",
    )
    threshold: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Binary classifiers: the decision threshold (a multiclass model predicts its most probable class).",
    )
    metric: GroupMetric | None = Field(
        default=None,
        description="Metric whose largest group gap the rule judges; default the gate's metric. Binary classifiers "
        "also: tpr, fpr, selection_rate, calibration; multiclass: macro_auc, log_loss, accuracy, macro_f1; "
        "regression: rmse, mae.",
    )


class ExplanationSpec(Spec):
    """Feature attributions for every model and production batch."""

    enabled: bool = Field(default=True, description="Compute global, per-group and per-batch attributions.")
    sample_rows: int = Field(default=1000, ge=50, description="Rows explained per model or batch (a sample).")
    top_reasons: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Per-row top reasons (largest signed attributions) in a `reasons` column of predictions (0: none; "
        "empty where only an approximate method on a sample applies).",
    )


# Integer attributes are audited by value, so their declared range (min..max) must hold few values.
MAX_INT_GROUPS = 20


def fairness_metrics(task: str) -> tuple[str, ...]:
    """The metrics the fairness rule can judge for `task`."""
    if task == "regression":
        return ("rmse", "mae")
    if task == "multiclass":
        return ("macro_auc", "log_loss", "accuracy", "macro_f1")
    return ("auc", "average_precision", "log_loss", "brier", "tpr", "fpr", "selection_rate", "calibration")


def rule_metric(declaration: ModelDeclaration) -> str:
    """The metric whose group gap the fairness rule judges."""
    return declaration.fairness.metric or declaration.gate_metric


def check_fairness(declaration: ModelDeclaration) -> None:
    """Raise `DeclarationError` for an inconsistent fairness part, naming the field."""
    from asset_platform.declaration.errors import DeclarationError

    fairness, name = declaration.fairness, declaration.name
    specs = {column.name: column for column in declaration.contract_columns()}
    if len(set(fairness.attributes)) != len(fairness.attributes):
        raise DeclarationError(name, "fairness.attributes", "an attribute is listed twice")
    special = {
        declaration.label_column: "the label",
        declaration.id_column: "the id column",
        declaration.time_column: "the time column",
    }
    for attribute in fairness.attributes:
        if attribute not in specs:
            listed = ", ".join(specs)
            raise DeclarationError(
                name, "fairness.attributes", f"{attribute!r} is not a column of the contract (columns: {listed})"
            )
        if attribute in special:
            raise DeclarationError(
                name, "fairness.attributes", f"{attribute!r} is {special[attribute]}; audit by a group column"
            )
        column = specs[attribute]
        few_ints = (
            column.dtype == "int"
            and column.min is not None
            and column.max is not None
            and column.max - column.min + 1 <= MAX_INT_GROUPS
        )
        if column.dtype not in ("str", "bool") and not few_ints:
            raise DeclarationError(
                name,
                "fairness.attributes",
                f"{attribute!r} has dtype {column.dtype}; audit by a str or bool column, or an int column with at most "
                f"{MAX_INT_GROUPS} values between its declared min and max (bin a continuous column into groups first)",
            )
    allowed = fairness_metrics(declaration.task)
    if fairness.metric is not None and fairness.metric not in allowed:
        raise DeclarationError(
            name, "fairness.metric", f"{fairness.metric!r} is not a {declaration.task} metric; use one of {allowed}"
        )
    if fairness.attributes and rule_metric(declaration) not in allowed:
        # precision_at_recall reads a threshold off all the holdout's positives: a group has too few for it.
        raise DeclarationError(
            name,
            "fairness.metric",
            f"the gate's metric {rule_metric(declaration)!r} has no per-group form; declare fairness.metric "
            f"(one of {', '.join(allowed)})",
        )
    # Compared with the default, not with the fields set: a dumped and reloaded declaration sets every field.
    if declaration.task == "multiclass" and fairness.threshold != FairnessSpec.model_fields["threshold"].default:
        raise DeclarationError(
            name,
            "fairness.threshold",
            f"a multiclass model predicts each row's most probable class, with no threshold ({fairness.threshold} "
            "was declared); leave it out",
        )
    if fairness.tolerance is not None and not fairness.attributes:
        raise DeclarationError(name, "fairness.tolerance", "a tolerance needs `fairness.attributes` to audit by")
