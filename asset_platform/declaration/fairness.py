"""The fairness and explanation part of a declaration: who to audit by, and how much worse a group may get."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from asset_platform.declaration.base import Spec

if TYPE_CHECKING:
    from asset_platform.declaration.model import ModelDeclaration


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
    threshold: float = Field(default=0.5, gt=0, lt=1, description="Classifiers: the decision threshold.")


class ExplanationSpec(Spec):
    """Feature attributions for every model and production batch."""

    enabled: bool = Field(default=True, description="Compute global, per-group and per-batch attributions.")
    sample_rows: int = Field(default=2000, ge=50, description="Rows explained per model or batch (a sample).")
    top_reasons: int = Field(default=0, ge=0, le=10, description="Per-row top reasons on predictions (0: none).")


def check_fairness(declaration: ModelDeclaration) -> None:
    """Raise `DeclarationError` for an inconsistent fairness part (filled in with the fairness feature)."""
