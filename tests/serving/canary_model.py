"""The serving tests' canary: loans with a third model family whose scoring fails or sleeps on demand.

`FlakyClassifier` is a real model version in the store (trained by the platform through the custom family,
stored with skops, loaded by hash); in a process where `$FLAKY_BEHAVIOUR_FILE` names a file, each
`predict_proba` reads it first: `fail` raises, `sleep:S` sleeps S seconds, anything else scores.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

BEHAVIOUR_ENV = "FLAKY_BEHAVIOUR_FILE"
FLAKY_MODEL = "flaky_model"
TRAINER = f"{__name__}:flaky_trainer"
# Judged after 10 requests each: generous on latency (healthy versions differ, and the machine is shared),
# strict on failures, which is what the tests make the canary do.
SERVING = {"canary_fraction": 0.3, "max_error_rate_increase": 0.05, "max_p99_ratio": 20, "min_requests": 10}


class FlakyClassifier(HistGradientBoostingClassifier):
    """Gradient boosting that fails or sleeps when its behaviour file says so."""

    def predict_proba(self, X):  # noqa: N803 - scikit-learn's naming
        path = os.environ.get(BEHAVIOUR_ENV)
        behaviour = Path(path).read_text().strip() if path and Path(path).exists() else ""
        if behaviour == "fail":
            raise RuntimeError("the flaky canary fails as its behaviour file says")
        if behaviour.startswith("sleep:"):
            time.sleep(float(behaviour.removeprefix("sleep:")))
        return super().predict_proba(X)


def flaky_trainer(fit_x, fit_y, valid_x, valid_y, params, task):
    return FlakyClassifier(max_iter=20, random_state=0).fit(fit_x, fit_y)


def _trusted_types() -> list[str]:
    import skops.io

    rows = np.random.default_rng(0).normal(size=(40, 2))
    estimator = flaky_trainer(rows, np.arange(40) % 2, None, None, {}, "binary_classification")
    return skops.io.get_untrusted_types(data=skops.io.dumps(estimator))


def canary_declaration():
    """Loans as tests/declaration/loans_model.py declares it, plus the flaky family and a canary."""
    from asset_platform.declaration import ModelDeclaration
    from tests.declaration.loans import loans_declaration

    data = loans_declaration().model_dump(exclude_unset=True)
    flaky = {"family": "custom", "name": FLAKY_MODEL, "trainer": TRAINER, "trusted_types": _trusted_types()}
    return ModelDeclaration(**{**data, "models": [*data["models"], flaky], "serving": SERVING})
