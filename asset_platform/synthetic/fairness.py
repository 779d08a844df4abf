"""Labeled rows with a group whose outcome follows its own rule, for fairness tests and the benchmark.

Groups "north", "south" and "east" share one relation between the features and
the label; in "west" a different feature drives it. A model sees "west" only as
often as its rows are in the training data, so dropping most of them from a
retrain (`under_represent`) plants a bias: that group's error grows while the
overall metric barely moves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GROUPS = ("north", "south", "east", "west")
SHARES = (0.35, 0.3, 0.2, 0.15)
BIASED_GROUP = "west"
FEATURES = ("x1", "x2", "x3", "x4", "region")


def fairness_rows(
    rows: int, seed: int = 0, start: str = "2026-01-01", days: float = 10, shares: tuple[float, ...] = SHARES
) -> pd.DataFrame:
    """`rows` labeled rows over `days` days: id, time, four numbers, the region, a flag and a 0/1 label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    region = rng.choice(GROUPS, size=rows, p=shares)
    west = region == BIASED_GROUP
    margin = np.where(west, 1.8 * x[:, 2] - 1.0 * x[:, 3], 1.5 * x[:, 0] - 1.0 * x[:, 1]) + 0.3 * x[:, 3]
    label = (rng.random(rows) < 1 / (1 + np.exp(-margin))).astype(np.int64)
    times = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, rows)), unit="s")
    return pd.DataFrame(
        {
            "row_id": [f"r{seed}-{start}-{i}" for i in range(rows)],
            "at": times,
            "x1": x[:, 0],
            "x2": x[:, 1],
            "x3": x[:, 2],
            "x4": x[:, 3],
            "region": region,
            "segment_flag": rng.random(rows) < 0.5,
            "label": label,
        }
    )


def under_represent(rows: pd.DataFrame, keep: float, seed: int = 0, group: str = BIASED_GROUP) -> pd.DataFrame:
    """`rows` with only a `keep` share of `group`'s rows (the rest of the rows untouched)."""
    rng = np.random.default_rng(seed)
    drop = (rows["region"] == group).to_numpy() & (rng.random(len(rows)) >= keep)
    return rows[~drop]


def fairness_columns() -> list[dict]:
    """The data contract of `fairness_rows`, as declaration column specs."""
    return [
        {"name": "row_id", "dtype": "str"},
        {"name": "at", "dtype": "datetime"},
        *({"name": name, "dtype": "float"} for name in ("x1", "x2", "x3", "x4")),
        {"name": "region", "dtype": "str"},
        {"name": "segment_flag", "dtype": "bool"},
        {"name": "label", "dtype": "int"},
    ]


def fit_on_fairness_rows(
    rows: pd.DataFrame, family: str = "lightgbm", params: dict | None = None, estimator: str | None = None
):
    """(model, feature pipeline) of one family trained on `fairness_rows` the way the platform trains."""
    from asset_platform.declaration import ModelFamilySpec
    from asset_platform.ml.families import TrainingData, train_family, validation_split
    from asset_platform.ml.features import fit_pipeline

    task = "binary_classification"
    pipeline = fit_pipeline(
        rows,
        numeric=["x1", "x2", "x3", "x4"],
        categorical=["region"],
        id_column="row_id",
        time_column="at",
        label_column="label",
        task=task,
    )
    fit_rows, valid_rows = validation_split(pipeline.transform(rows), "at")
    spec = ModelFamilySpec(family=family, params=params or {}, estimator=estimator)
    return train_family(spec, TrainingData(pipeline, task, fit_rows, valid_rows)).model, pipeline
