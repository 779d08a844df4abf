"""The tuning part of a model family's declaration: a search space and a budget (absent: fixed params)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from asset_platform.declaration.base import Spec

if TYPE_CHECKING:
    from asset_platform.declaration.model import ModelDeclaration


class ParamSpec(Spec):
    """One hyperparameter's range: numbers between low and high (optionally log scale), or a list of choices."""

    type: Literal["float", "int", "categorical"] = Field(default="float", description="float, int or categorical.")
    low: float | None = Field(default=None, description="Smallest value (float, int).")
    high: float | None = Field(default=None, description="Largest value (float, int).")
    log: bool = Field(default=False, description="Sample on a log scale (low must be > 0).")
    step: float | None = Field(default=None, description="Grid step (float, int); not with log.")
    choices: list[Any] | None = Field(default=None, description="categorical: the values to choose from.")


class TuningSpec(Spec):
    """Hyperparameter search for one model family, as an Optuna study that resumes and never tunes twice."""

    search_space: dict[str, ParamSpec] = Field(description="Parameter name -> its range; the family's params.")
    trials: int = Field(default=50, ge=1, le=100_000, description="Trials in the study (the budget).")
    timeout_seconds: float | None = Field(default=None, gt=0, description="Stop starting trials after this long.")
    workers: int = Field(default=1, ge=1, le=64, description="Parallel trial workers (steps of one run).")
    pruning: bool = Field(default=True, description="Stop unpromising trials early on intermediate scores.")
    pruner: Literal["median", "hyperband"] = Field(default="median", description="Which pruner.")
    seed: int = Field(default=0, description="Sampler seed.")


def check_tuning(declaration: ModelDeclaration) -> None:
    """Raise `DeclarationError` for an inconsistent tuning part (filled in with the tuning feature)."""
