"""Features: the time-based split and the feature pipeline fitted on training rows only."""

import dagster as dg
from pydantic import Field

from asset_platform.declaration import ModelDeclaration
from asset_platform.lifecycle.frames import Frame
from asset_platform.lifecycle.names import DATASET, FEATURE_PIPELINE, HOLDOUT_SET, TRAINING_SET, LifecycleNames


class SplitConfig(dg.Config):
    holdout_fraction: float | None = Field(
        default=None, gt=0, lt=1, description="Share of the newest rows held out for evaluation (default: declared)."
    )
    window_days: float | None = Field(
        default=None,
        gt=0,
        description="Learn only from the newest N days of labeled rows (None: all). A sliding window lets a "
        "retrained model learn a changed concept instead of averaging it away.",
    )
    since: str | None = Field(
        default=None,
        description="Learn only from rows at or after this time (ISO 8601), when at least `min_rows` are there; "
        "the drift sensor sets it to the first drifted batch's start.",
    )
    min_rows: int = Field(default=2000, ge=1, description="Rows needed after `since` to use it.")


def feature_assets(declaration: ModelDeclaration, names: LifecycleNames) -> list:
    group = names.group("features")

    @dg.multi_asset(
        name=names.feature_op,
        group_name=group,
        ins={"dataset": dg.AssetIn(key=names.key(DATASET))},
        outs={
            "feature_pipeline": dg.AssetOut(
                key=names.key(FEATURE_PIPELINE),
                description="Imputation medians and category vocabularies fitted on the training window only.",
                kinds={"json"},
            ),
            "training_set": dg.AssetOut(
                key=names.key(TRAINING_SET),
                description="Model-ready features and labels of rows before the holdout cutoff.",
                kinds={"parquet", "pandas"},
            ),
            "holdout_set": dg.AssetOut(
                key=names.key(HOLDOUT_SET),
                description="The newest rows, featurized with the training-window pipeline; never trained on.",
                kinds={"parquet", "pandas"},
            ),
        },
        code_version="2",
    )
    def feature_sets(config: SplitConfig, dataset: Frame):
        """Split by time, fit the pipeline on the earlier part, featurize both parts."""
        from asset_platform.ml.features import time_split

        time = declaration.event_time_column
        rows = learning_window(dataset, time, config)
        fraction = config.holdout_fraction or declaration.retraining.holdout_fraction
        train_rows, holdout_rows, cutoff = time_split(rows, time, fraction)
        if train_rows.empty or holdout_rows.empty:
            raise dg.Failure(
                f"{declaration.name}: the time split at {cutoff} leaves an empty side; "
                f"need rows at more than one instant of {time!r}"
            )
        pipeline = fit_declared_pipeline(declaration, train_rows)
        pipeline.cutoff, pipeline.window_start = cutoff.isoformat(), rows[time].min().isoformat()
        pipeline.holdout_end = rows[time].max().isoformat()
        split_metadata = {
            "cutoff": pipeline.cutoff,
            "window_start": pipeline.window_start,
            "holdout_fraction": fraction,
            "window_days": "all history" if config.window_days is None else str(config.window_days),
            "since": config.since or "",
        }
        yield dg.Output(
            pipeline.to_dict(), output_name="feature_pipeline", metadata={"features": len(pipeline.feature_names)}
        )
        yield dg.Output(pipeline.transform(train_rows), output_name="training_set", metadata=split_metadata)
        yield dg.Output(pipeline.transform(holdout_rows), output_name="holdout_set", metadata=split_metadata)

    return [feature_sets]


def learning_window(rows: Frame, time: str, config: SplitConfig) -> Frame:
    """The rows a training run learns from: all, the newest `window_days`, or those since the drift.

    `since` (a drifted batch's start) never reaches further back than `window_days` from the
    newest row: a batch dated years in the past must not make a retrain learn from years of history.
    """
    import pandas as pd

    start = rows[time].max() - pd.Timedelta(days=config.window_days) if config.window_days is not None else None
    if config.since:
        since = pd.Timestamp(config.since)
        since = since.tz_localize("UTC") if since.tzinfo is None else since
        since = max(since, start) if start is not None else since
        recent = rows[rows[time] >= since]
        if len(recent) >= config.min_rows:
            # After a confirmed drift only the new regime is worth learning from.
            return recent
    return rows[rows[time] >= start] if start is not None else rows


def fit_declared_pipeline(declaration: ModelDeclaration, rows: Frame):
    """The feature pipeline of `declaration`'s features and columns, fitted on `rows`."""
    from asset_platform.ml.features import fit_pipeline

    numeric, categorical = declaration.feature_columns()
    return fit_pipeline(
        rows,
        numeric=numeric,
        categorical=categorical,
        id_column=declaration.id_column,
        time_column=declaration.event_time_column,
        label_column=declaration.label_column,
        task=declaration.task,
    )
