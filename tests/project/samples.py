"""A team's declaration as `dg scaffold defs` writes it, and sample files for it (shared by the project tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration
from asset_platform.synthetic.contract import write_contract_day

START = dt.date(2026, 3, 1)


def loans_declaration(**overrides) -> ModelDeclaration:
    """The scaffolded declaration's fields, with a retrain on the first drifted batch."""
    fields = {
        "name": "loans",
        "task": "binary_classification",
        "metric": "auc",
        "id_column": "id",
        "label_column": "label",
        "time_column": "happened_at",
        "columns": [
            Col(name="id", dtype="str"),
            Col(name="happened_at", dtype="datetime"),
            Col(name="amount", dtype="float", min=0, nullable=True),
            Col(name="category", dtype="str"),
            Col(name="label", dtype="int"),
        ],
        "models": [{"family": "lightgbm", "params": {"num_leaves": 7, "n_estimators": 40}}],
        "monitoring": {"drift": {"consecutive_batches": 1}},
        **overrides,
    }
    return ModelDeclaration(**fields)


def sample_files(declaration: ModelDeclaration, folder: Path, history_days=8, clean=2, drifted=2, rows=600):
    """History files, then production batches with their labels: `clean` ones, then `drifted` ones (1.5 σ)."""
    history = [
        write_contract_day(declaration, folder / "history", START + dt.timedelta(days=i), rows)[0]
        for i in range(history_days)
    ]
    batches = []
    for i in range(clean + drifted):
        day = START + dt.timedelta(days=history_days + i)
        shift = 1.5 if i >= clean else 0.0
        production, labels = write_contract_day(
            declaration, folder / "production", day, rows, shift=shift, production=True, labels_folder=folder / "labels"
        )
        batches.append((production, labels, i >= clean))
    return history, batches
