"""The ticket router the multiclass CLI, page and shadow tests share: one cheap LightGBM family, trained by
`tests/ml/conftest.py` once on stable tickets and once after billing and account tickets trade places (the
second version passes the gate into shadow), audited per region and explained per team."""

from __future__ import annotations

from typing import Any

from asset_platform.declaration import ModelDeclaration
from tests.ml.tickets import tickets_declaration

LIGHTGBM = {"family": "lightgbm", "params": {"max_rounds": 40, "early_stopping_rounds": 10, "learning_rate": 0.1}}


def router_declaration(**changes: Any) -> ModelDeclaration:
    # A retraining learns from the newest three days: after billing and account swapped, only those. A
    # challenger that passes the gate scores production in shadow until labeled batches decide.
    fields: dict[str, Any] = {
        "models": [LIGHTGBM],
        "gate": {"resamples": 60},
        "retraining": {"window_days": 3},
        "shadow": {"enabled": True, "max_batches": 6},
        # Audited by region (report only: no tolerance), and explained per team.
        "fairness": {"attributes": ["region"]},
        "explanations": {"enabled": True, "sample_rows": 200},
    }
    return tickets_declaration(**{**fields, **changes})
