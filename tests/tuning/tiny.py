"""A tiny tuned declaration (the loans test model, one LightGBM family with a search space) and its data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from asset_platform.declaration import ModelDeclaration
from tests.declaration.loans import generate_loans, loans_declaration

START = dt.date(2026, 3, 1)
SEARCH_SPACE = {
    "num_leaves": {"type": "int", "low": 4, "high": 32, "log": True},
    "learning_rate": {"type": "float", "low": 0.03, "high": 0.3, "log": True},
    "min_child_samples": {"type": "int", "low": 10, "high": 60, "step": 10},
}


def tuned_declaration(trials: int = 6, workers: int = 1, pruning: bool = False, **declared: Any) -> ModelDeclaration:
    """The loans model with one small LightGBM family tuned over SEARCH_SPACE."""
    data = loans_declaration().model_dump(exclude_none=True)
    tuning = {"search_space": SEARCH_SPACE, "trials": trials, "workers": workers, "pruning": pruning, "seed": 3}
    data["models"] = [
        {"family": "lightgbm", "params": {"max_rounds": 40, "early_stopping_rounds": 10}, "tuning": tuning}
    ]
    data.update(declared)
    return ModelDeclaration(**data)


def rows(days: int = 4, per_day: int = 300, seed: int = 1) -> pd.DataFrame:
    return pd.concat(
        [generate_loans(per_day, START + dt.timedelta(days=day), seed) for day in range(days)], ignore_index=True
    )


def training_set(declaration: ModelDeclaration, frame: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """(training set, feature pipeline dict) as the feature assets would build them from `frame`."""
    from asset_platform.ml.features import fit_declared_pipeline

    frame = rows() if frame is None else frame
    pipeline = fit_declared_pipeline(declaration, frame)
    return pipeline.transform(frame), pipeline.to_dict()
