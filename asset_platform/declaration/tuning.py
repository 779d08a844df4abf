"""The tuning part of a model family's declaration: a search space and a budget (absent: fixed params)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from asset_platform.declaration.base import Spec
from asset_platform.declaration.errors import DeclarationError

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


_SCALARS = (str, int, float, bool, type(None))


def tuning_asset_name(model_asset: str) -> str:
    """`lightgbm_model` -> `lightgbm_tuning`; any other model asset name gets `_tuning` appended."""
    return (model_asset.removesuffix("_model") if model_asset.endswith("_model") else model_asset) + "_tuning"


def check_tuning(declaration: ModelDeclaration) -> None:
    """Raise `DeclarationError` for an inconsistent tuning part, naming the family and parameter."""
    from asset_platform.ml.families.registry import family as registered_family

    names = {family.asset_name for family in declaration.models}
    for index, family in enumerate(declaration.models):
        if family.tuning is None:
            continue
        where = f"models.{index}.tuning"
        if tuning_asset_name(family.asset_name) in names:
            raise DeclarationError(
                declaration.name,
                f"models.{index}.name",
                f"the tuning asset {tuning_asset_name(family.asset_name)!r} would clash with a model of that name; "
                "rename one of them",
            )
        if not family.tuning.search_space:
            raise DeclarationError(
                declaration.name, f"{where}.search_space", "is empty: name at least one parameter and its range"
            )
        # Known at load for some families; others (sklearn estimators, custom trainers) are checked when
        # tuning starts, since importing them here would slow every load.
        known = registered_family(family.family).tunable_at_load
        for param, spec in family.tuning.search_space.items():
            field = f"{where}.search_space.{param}"
            if known is not None and param not in known:
                raise DeclarationError(
                    declaration.name,
                    field,
                    f"not a tunable {family.family} parameter; use one of: {', '.join(sorted(known))}",
                )
            problem = _param_problem(spec)
            if problem:
                raise DeclarationError(declaration.name, field, problem)


def _param_problem(spec: ParamSpec) -> str | None:
    """What is wrong with one parameter's range, or None."""
    if spec.type == "categorical":
        if spec.low is not None or spec.high is not None or spec.log or spec.step is not None:
            return "a categorical parameter takes `choices` only (no low, high, log or step)"
        if not spec.choices:
            return "a categorical parameter needs a non-empty list of `choices`"
        if not all(isinstance(choice, _SCALARS) for choice in spec.choices):
            return "choices must be strings, numbers, booleans or null (Optuna stores nothing else)"
        if len({repr(choice) for choice in spec.choices}) != len(spec.choices):
            return "choices are listed twice"
        return None
    if spec.choices is not None:
        return f"`choices` is for categorical parameters; a {spec.type} takes low and high"
    if spec.low is None or spec.high is None:
        return f"a {spec.type} parameter needs both `low` and `high`"
    if not spec.low < spec.high:
        return f"low ({spec.low:g}) must be below high ({spec.high:g})"
    if spec.log and spec.low <= 0:
        return f"a log-scale range needs low > 0 (got {spec.low:g})"
    if spec.log and spec.step is not None:
        return "give either `log` or `step`, not both (Optuna samples a log range continuously)"
    if spec.step is not None and spec.step <= 0:
        return f"step must be positive (got {spec.step:g})"
    if spec.type == "int":
        for label, value in (("low", spec.low), ("high", spec.high), ("step", spec.step)):
            if value is not None and float(value) != int(value):
                return f"an int parameter needs a whole {label} (got {value:g})"
    return None
