"""The feature pipeline: fitted on the training window only, then applied to any rows.

Fitting learns imputation medians and category vocabularies; applying turns raw
events into a numeric matrix the three model families share. Everything fitted
is plain JSON, so the pipeline is stored, versioned and reloaded like any asset.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from asset_platform.validation.columns import CATEGORICAL_FEATURES, LABEL_COLUMN

# Carried next to the features: identity, time, label and the segments evaluation reports by.
PASSTHROUGH_COLUMNS = ("event_id", "event_time", "device", "channel")
_MAX_CATEGORIES = 20
_IMPUTED = ("session_duration_s", "days_since_last_visit")
_PLAIN = ("discount_pct", "pages_viewed", "past_purchases")


def fit_pipeline(train: pd.DataFrame) -> dict[str, Any]:
    """Learn medians and category vocabularies from training rows only."""
    vocabularies = {
        column: train[column].value_counts().index[:_MAX_CATEGORIES].astype(str).tolist()
        for column in CATEGORICAL_FEATURES
    }
    medians = {column: float(train[column].median()) for column in _IMPUTED}
    spec = {"medians": medians, "vocabularies": vocabularies}
    spec["feature_columns"] = list(
        apply_pipeline(train.head(1), spec, with_label=False).columns.drop(list(PASSTHROUGH_COLUMNS))
    )
    return spec


def apply_pipeline(events: pd.DataFrame, spec: dict[str, Any], with_label: bool = True) -> pd.DataFrame:
    """Raw events → numeric features (float32) plus passthrough columns and the label."""
    features: dict[str, Any] = {
        "log_price": np.log1p(events["price"].to_numpy(dtype=np.float64)),
        **{column: events[column].to_numpy(dtype=np.float64) for column in _PLAIN},
    }
    for column, median in spec["medians"].items():
        values = events[column].to_numpy(dtype=np.float64)
        missing = np.isnan(values)
        features[column] = np.where(missing, median, values)
        features[f"{column}_missing"] = missing.astype(np.float64)
    hour = events["hour_of_day"].to_numpy(dtype=np.float64)
    features["hour_sin"] = np.sin(2 * np.pi * hour / 24)
    features["hour_cos"] = np.cos(2 * np.pi * hour / 24)
    for column, vocabulary in spec["vocabularies"].items():
        values = events[column].astype(str).to_numpy()
        for category in vocabulary:
            features[f"{column}__{category}"] = (values == category).astype(np.float64)
        features[f"{column}__other"] = (~np.isin(values, vocabulary)).astype(np.float64)
    frame = pd.DataFrame(features, index=events.index).astype(np.float32)
    for column in PASSTHROUGH_COLUMNS:
        frame[column] = events[column].to_numpy()
    if with_label:
        if LABEL_COLUMN not in events.columns:
            raise ValueError(f"events have no {LABEL_COLUMN!r} label column: cannot build a training set")
        frame[LABEL_COLUMN] = events[LABEL_COLUMN].to_numpy(dtype=np.int64)
    return frame.reset_index(drop=True)


def time_split(events: pd.DataFrame, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Split at a time cutoff: everything before trains, everything from it on is holdout."""
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be between 0 and 1, got {holdout_fraction}")
    cutoff = events["event_time"].quantile(1 - holdout_fraction)
    before = events["event_time"] < cutoff
    return events[before], events[~before], cutoff


def score_events(model: Any, events: pd.DataFrame) -> np.ndarray:
    """Score raw events with the feature pipeline the model (a TrainedModel) was trained with."""
    return model.predict_proba(apply_pipeline(events, model.extra["feature_pipeline"], with_label=False))


def training_rows(events: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """The rows a pipeline (and the models trained with it) learned from: its window, before the cutoff."""
    times = events["event_time"]
    start = pd.Timestamp(spec.get("window_start", times.min()))
    return events[(times >= start) & (times < pd.Timestamp(spec["cutoff"]))]


def holdout_rows(events: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """The rows held out from the pipeline's training: from the cutoff on."""
    return events[events["event_time"] >= pd.Timestamp(spec["cutoff"])]
