"""Features: the time-based split and the feature pipeline fitted on training rows only."""

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.features.pipeline import apply_pipeline, fit_pipeline, time_split


class SplitConfig(dg.Config):
    holdout_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="Share of the most recent sessions held out for evaluation."
    )
    window_days: float | None = Field(
        default=None,
        gt=0,
        description="Learn only from the most recent N days of labeled sessions (None: all). A sliding "
        "window lets a retrained model learn a changed concept instead of averaging it away.",
    )


@dg.multi_asset(
    group_name="features",
    outs={
        "feature_pipeline": dg.AssetOut(
            description="Imputation medians and category vocabularies fitted on the training window only.",
            kinds={"json"},
        ),
        "training_set": dg.AssetOut(
            description="Model-ready features and labels of sessions before the holdout cutoff.",
            kinds={"parquet", "pandas"},
        ),
        "holdout_set": dg.AssetOut(
            description="The most recent sessions, featurized with the training-window pipeline; never trained on.",
            kinds={"parquet", "pandas"},
        ),
    },
    code_version="1",
)
def feature_sets(config: SplitConfig, validated_events: pd.DataFrame):
    """Split by time, fit the pipeline on the earlier part, featurize both parts."""
    events = validated_events
    if config.window_days is not None:
        events = events[events["event_time"] >= events["event_time"].max() - pd.Timedelta(days=config.window_days)]
    train_events, holdout_events, cutoff = time_split(events, config.holdout_fraction)
    if train_events.empty or holdout_events.empty:
        raise dg.Failure(f"time split at {cutoff} leaves an empty side; need events on more than one instant")
    spec = fit_pipeline(train_events)
    spec["cutoff"] = cutoff.isoformat()
    spec["window_start"] = events["event_time"].min().isoformat()
    training, holdout = apply_pipeline(train_events, spec), apply_pipeline(holdout_events, spec)
    split_metadata = {
        "cutoff": cutoff.isoformat(),
        "window_start": spec["window_start"],
        "holdout_fraction": config.holdout_fraction,
        "window_days": "all history" if config.window_days is None else str(config.window_days),
    }
    yield dg.Output(spec, output_name="feature_pipeline", metadata={"features": len(spec["feature_columns"])})
    yield dg.Output(training, output_name="training_set", metadata=split_metadata)
    yield dg.Output(holdout, output_name="holdout_set", metadata=split_metadata)
