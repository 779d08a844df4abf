"""The support-ticket routing model (asset_platform/synthetic/tickets.py) declared as a multiclass model,
and its history landed as daily files: what the multiclass tests share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from asset_platform.declaration import ModelDeclaration
from asset_platform.synthetic.tickets import ID_COLUMN, LABEL_COLUMN, TIME_COLUMN, generate_tickets, ticket_columns

START = dt.date(2026, 7, 1)
# Small settings per family: a few rounds or epochs, enough to tell the teams apart on a few thousand rows.
FAMILIES: list[dict[str, Any]] = [
    {
        "family": "lightgbm",
        "params": {"max_rounds": 60, "early_stopping_rounds": 10, "min_child_samples": 20, "learning_rate": 0.1},
    },
    {"family": "sklearn"},
    {"family": "torch", "params": {"max_epochs": 8, "hidden": [16], "batch_size": 128, "learning_rate": 0.01}},
    {"family": "custom", "trainer": "tests.ml.tickets:forest_trainer", "trusted_types": []},
    {"family": "xgboost", "params": {"max_rounds": 60, "early_stopping_rounds": 10, "max_depth": 3}},
]


def forest_trainer(fit_x, fit_y, valid_x, valid_y, params, task):
    """A user's trainer: a small random forest on the platform's feature matrix (codes as numbers)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    forest = RandomForestClassifier(n_estimators=30, min_samples_leaf=20, random_state=0, n_jobs=1)
    return make_pipeline(SimpleImputer(), forest).fit(fit_x, fit_y)


def forest_trusted_types() -> list[str]:
    """The types a stored `forest_trainer` estimator holds, for the declaration's trusted_types."""
    import numpy as np
    import skops.io

    rng = np.random.default_rng(0)
    estimator = forest_trainer(rng.normal(size=(60, 3)), np.arange(60) % 4, None, None, {}, "multiclass")
    return skops.io.get_untrusted_types(data=skops.io.dumps(estimator))


def tickets_declaration(**changes: Any) -> ModelDeclaration:
    """The ticket router, every family unless `models` is given; `changes` override any field."""
    models = [
        {**spec, "trusted_types": forest_trusted_types()} if spec["family"] == "custom" else spec for spec in FAMILIES
    ]
    fields: dict[str, Any] = {
        "name": "tickets",
        "description": "Which team will resolve this support ticket?",
        "task": "multiclass",
        "id_column": ID_COLUMN,
        "label_column": LABEL_COLUMN,
        "time_column": TIME_COLUMN,
        "columns": ticket_columns(),
        "models": models,
        "gate": {"resamples": 100},
        "retraining": {"window_days": None},
        "segments": ["channel"],
    }
    fields.update(changes)
    return ModelDeclaration(**fields)


def write_ticket_history(folder: Path, start: dt.date, days: int, rows: int, seed: int = 0, drift=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(days):
        day = start + dt.timedelta(days=index)
        generate_tickets(rows, day, seed, drift).to_parquet(folder / f"tickets_{day}.parquet")
