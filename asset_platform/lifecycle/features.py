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
        code_version="3",
    )
    def feature_sets(context: dg.AssetExecutionContext, config: SplitConfig, dataset: Frame):
        """Split by time, fit the pipeline on the earlier part, featurize both parts."""
        from asset_platform.ml.features import fit_declared_pipeline, sample_by_time, time_split

        time = declaration.event_time_column
        label, min_positives = _positives_needed(declaration)
        rows = learning_window(dataset, time, config, label, min_positives)
        fraction = config.holdout_fraction or declaration.retraining.holdout_fraction
        sizes = declaration.training
        train_rows, holdout_rows, cutoff = time_split(
            rows, time, fraction, label, min_positives, max_holdout_rows=sizes.max_holdout_rows
        )
        if train_rows.empty or holdout_rows.empty:
            raise dg.Failure(
                f"{declaration.name}: the time split at {cutoff} leaves an empty side; "
                f"need rows at more than one instant of {time!r}"
            )
        available = len(train_rows)
        # A classifier's sample keeps each class's share (a multiclass label has no positives, but classes).
        classes = declaration.label_column if declaration.task != "regression" else None
        train_rows = sample_by_time(train_rows, time, declaration.id_column, sizes.max_rows, sizes.seed, classes)
        pipeline = fit_declared_pipeline(declaration, train_rows)
        pipeline.cutoff, pipeline.window_start = cutoff.isoformat(), rows[time].min().isoformat()
        pipeline.holdout_end = rows[time].max().isoformat()
        if len(train_rows) < available:
            pipeline.sample_rows, pipeline.sample_seed, pipeline.rows_available = sizes.max_rows, sizes.seed, available
            context.log.info(f"{declaration.name}: training on a sample of {len(train_rows)} of {available} rows")
        split_metadata = {
            "cutoff": pipeline.cutoff,
            "window_start": pipeline.window_start,
            "holdout_fraction": fraction,
            "window_days": "all history" if config.window_days is None else str(config.window_days),
            "since": config.since or "",
            "training/rows_available": available,
            "training/rows_used": len(train_rows),
            **_class_counts(declaration, rows, holdout_rows, log=context.log),
        }
        yield dg.Output(
            pipeline.to_dict(), output_name="feature_pipeline", metadata={"features": len(pipeline.feature_names)}
        )
        yield dg.Output(pipeline.transform(train_rows), output_name="training_set", metadata=split_metadata)
        yield dg.Output(pipeline.transform(holdout_rows), output_name="holdout_set", metadata=split_metadata)

    return [feature_sets]


def learning_window(
    rows: Frame, time: str, config: SplitConfig, label: str | None = None, min_positives: int = 0
) -> Frame:
    """The rows a training run learns from: all, the newest `window_days`, or those since the drift.

    `since` (a drifted batch's start) never reaches further back than `window_days` from the
    newest row: a batch dated years in the past must not make a retrain learn from years of history.
    With `label` and `min_positives` (a classifier's), the window must hold twice `min_positives`
    positives, so that its holdout can hold `min_positives` and training as many: the evidence window
    is used only then, and `window_days` reaches back in time until it does.
    """
    import pandas as pd

    needed = 2 * min_positives if label is not None else 0
    start = rows[time].max() - pd.Timedelta(days=config.window_days) if config.window_days is not None else None
    if config.since:
        since = pd.Timestamp(config.since)
        since = since.tz_localize("UTC") if since.tzinfo is None else since
        since = max(since, start) if start is not None else since
        recent = rows[rows[time] >= since]
        if len(recent) >= config.min_rows and _positives(recent, label) >= needed:
            # After a confirmed drift only the new regime is worth learning from.
            return recent
    if start is not None and needed and _positives(rows[rows[time] >= start], label) < needed:
        positive_times = rows.loc[rows[label] == 1, time]
        start = positive_times.nlargest(needed).min() if len(positive_times) >= needed else None
    return rows[rows[time] >= start] if start is not None else rows


def _positives(rows: Frame, label: str | None) -> int:
    return int((rows[label] == 1).sum()) if label is not None else 0


def _positives_needed(declaration: ModelDeclaration) -> tuple[str | None, int]:
    """(label column, positives the holdout needs) for a classifier; (None, 0) for a regressor."""
    if declaration.task != "binary_classification":
        return None, 0
    return declaration.label_column, declaration.gate.min_positives


def _class_counts(declaration: ModelDeclaration, rows: Frame, holdout: Frame, log) -> dict:
    """A classifier's positives and negatives in the window and its holdout; a warning where the gate will
    find too few of either to decide on."""
    if declaration.task != "binary_classification":
        return {}
    from asset_platform.registry.gate import class_shortage

    label = declaration.label_column
    positives, held = _positives(rows, label), _positives(holdout, label)
    counts = {
        "window_positives": positives,
        "holdout_positives": held,
        "holdout_negatives": len(holdout) - held,
        "holdout_rows": len(holdout),
    }
    shortage = class_shortage(holdout[label].to_numpy(), declaration.gate.min_positives, declaration.gate.min_negatives)
    if shortage:
        log.warning(f"{declaration.name}: {shortage}")
        counts["holdout_warning"] = shortage
    return counts
