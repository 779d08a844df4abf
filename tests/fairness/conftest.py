"""One shared set of small trained models on rows with a planted group effect (see synthetic/fairness.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from asset_platform.fairness import group_labels
from asset_platform.ml.features import FeaturePipeline, time_split
from asset_platform.synthetic.fairness import fairness_rows, fit_on_fairness_rows, under_represent

ROWS, SEED = 6000, 1
# Bagging makes the seed matter: a seed-only retrain is a genuinely different model.
SEEDED = {"bagging_fraction": 0.8, "bagging_freq": 1, "max_rounds": 200}


@dataclass
class Trained:
    train: pd.DataFrame
    holdout: pd.DataFrame
    pipeline: FeaturePipeline
    models: dict[str, Any]

    @property
    def labels(self) -> np.ndarray:
        return self.holdout["label"].to_numpy()

    @property
    def groups(self) -> dict[str, np.ndarray]:
        return {"region": group_labels(self.holdout["region"])}

    def features(self, name: str = "champion") -> pd.DataFrame:
        """The holdout featurized by the model's own pipeline (category codes follow its training rows)."""
        return FeaturePipeline.from_dict(self.models[name].extra["feature_pipeline"]).transform(self.holdout)

    def scores(self, *names: str) -> dict[str, np.ndarray]:
        return {name: self.models[name].predict(self.features(name)) for name in names}


def fit(train: pd.DataFrame, family: str = "lightgbm", params: dict | None = None, estimator: str | None = None):
    return fit_on_fairness_rows(train, family, params, estimator)


@pytest.fixture(scope="session")
def trained() -> Trained:
    """Champion, a retrain with 5 % of the "west" rows (planted bias), and two seed-only retrains."""
    rows = fairness_rows(ROWS, SEED)
    train, holdout, _ = time_split(rows, "at", 0.3)
    champion, pipeline = fit(train, params={**SEEDED, "seed": 1})
    biased, _ = fit(under_represent(train, 0.05), params={**SEEDED, "seed": 1})
    models = {"champion": champion, "biased": biased}
    for seed in (2, 3):
        models[f"seed_{seed}"], _ = fit(train, params={**SEEDED, "seed": seed})
    return Trained(train, holdout, pipeline, models)
