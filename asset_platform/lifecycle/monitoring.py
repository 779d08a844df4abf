"""Monitoring: production batches as they arrive, scored by the champion, judged for drift, and their
realized performance once labels land; plus the reference profile drift is measured against.
"""

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dagster as dg

from asset_platform.batch_engine import BatchEngine
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import (
    BATCH_CONTRACT_CHECK,
    BATCHES,
    CHALLENGER_VERSION,
    CHAMPION,
    DATASET,
    DRIFT,
    FEATURE_PIPELINE,
    PERFORMANCE,
    POLICY_CHECK,
    PREDICTION,
    PREDICTIONS,
    REFERENCE_PROFILE,
    LifecycleNames,
    feature_check_names,
)
from asset_platform.drift.emptiness import NOTHING_TO_MEASURE
from asset_platform.drift.evidence import ESTIMATE_SIGNAL, BatchEvidence
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.landing import BatchFileError, BatchTooLargeError, LandingZone
from asset_platform.lifecycle.champion import champion_training_data
from asset_platform.lifecycle.frames import Frame
from asset_platform.registry.models import ModelRegistry, lineup_for
from asset_platform.registry.pointer import ChampionPointer
from asset_platform.reports.numbers import shown


def monitoring_assets(
    declaration: ModelDeclaration, names: LifecycleNames, partitions: dg.DynamicPartitionsDefinition
) -> list[dg.AssetsDefinition]:
    return [
        _batches(declaration, names, partitions),
        _predictions(declaration, names, partitions),
        _performance(declaration, names, partitions),
        _reference_profile(declaration, names),
        _drift(declaration, names, partitions),
    ]


def _batches(declaration, names: LifecycleNames, partitions) -> dg.AssetsDefinition:
    key = names.key(BATCHES)

    @dg.asset(
        key=key,
        group_name=names.group("monitoring"),
        partitions_def=partitions,
        kinds={"parquet", "pandas", "pandera"},
        code_version="2",
        check_specs=[
            dg.AssetCheckSpec(
                BATCH_CONTRACT_CHECK,
                asset=key,
                blocking=True,
                description="The batch meets the same data contract as the training data.",
            )
        ],
        description=f"{declaration.name}: one production batch as landed (labels arrive later). A batch that "
        "breaks the contract fails the blocking check, so nothing scores or judges drift on it, and is quarantined.",
    )
    def batches(
        context: dg.AssetExecutionContext, landing: LandingZone, registry: ModelRegistry, batch_engine: BatchEngine
    ):
        from asset_platform.declaration.contract import contract_schema, normalize_times
        from asset_platform.lifecycle.past_bound import champion_learned_until, past_bound_note
        from asset_platform.validation.checks import check_against_schema

        model_landing, batch = landing.for_model(declaration), context.partition_key
        # A batch bigger than the engine's chunk is checked and stored chunk by chunk, never held whole.
        learned_until = champion_learned_until(registry, names)
        streamed = _streamed_batch(context, model_landing, registry, batch_engine, learned_until)
        if streamed is not None:
            return _landed_result(context, model_landing, learned_until, *streamed)
        try:
            frame = model_landing.read_batch(batch)
        except BatchTooLargeError as error:  # the file is fine: left in place for a bigger step
            raise dg.Failure(description=str(error)) from error
        except BatchFileError as error:
            path = model_landing.batch_path(batch)
            if _changed_since_taken(context, path):  # a writer is still at it: never quarantine its file
                raise dg.Failure(
                    description=f"{error}; the file changed since the sensor took it, so it is still being "
                    "written: it is taken again once settled (see landing.settle_seconds)"
                ) from error
            moved = model_landing.quarantine_file(path, str(error)) if path.exists() else None
            raise dg.Failure(description=f"{error}; moved to {moved}" if moved else str(error)) from error
        metadata: dict[str, Any] = {"rows": dg.MetadataValue.int(len(frame))}
        if declaration.label_column in frame.columns:
            # Labels arrive through the labels folder, judged against predictions made without them;
            # a label inside a batch would be merged twice into retraining data.
            frame = frame.drop(columns=[declaration.label_column])
            metadata["dropped_label_column"] = declaration.label_column
            context.log.warning(f"batch {batch} carries the label {declaration.label_column!r}: dropped")
        # As it arrives, the batch's times are bounded in the past too: `max_past_skew_days` before the newest
        # data the champion learned from (none before a first champion), never before the wall clock.
        schema = contract_schema(declaration, with_label=False, learned_until=learned_until)
        frame = normalize_times(frame, declaration)
        report = check_against_schema(frame, schema, inplace=True)  # the frame is this step's own
        note = "" if report.passed else past_bound_note(declaration, frame, learned_until)
        value = report.validated if report.passed else frame
        return _landed_result(context, model_landing, learned_until, report, value, metadata, note)

    return batches


def _landed_result(context, model_landing, learned_until, report, value, metadata: dict, note: str):
    """The batch's materialization and its blocking contract check; a batch that breaks it is quarantined."""
    declaration, batch = model_landing.declaration, context.partition_key
    metadata["failures"] = dg.MetadataValue.json(report.failure_counts)
    if learned_until is not None:
        metadata["champion_data_until"] = learned_until.isoformat()
    if not report.passed:
        problems = f"{report.summary()}{note}"
        moved = model_landing.quarantine_file(model_landing.batch_path(batch), f"batch {batch}: {problems}")
        from asset_platform.access.masking import mask_frame, sensitive_columns

        sample = mask_frame(report.failing_sample.head(5), sensitive_columns(declaration))  # no raw PII
        metadata["failing_sample"] = dg.MetadataValue.md(sample.to_markdown(index=False))
        metadata["quarantined_to"] = dg.MetadataValue.path(str(moved))
        context.log.error(f"batch {batch} breaks the data contract: {problems}; file moved to {moved}")
    check = dg.AssetCheckResult(
        check_name=BATCH_CONTRACT_CHECK,
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"batch {batch}: {report.summary()}",
        metadata=metadata,
    )
    return dg.MaterializeResult(value=value, metadata={"rows": report.rows}, check_results=[check])


def _streamed_batch(context, model_landing, registry, batch_engine: BatchEngine, learned_until):
    """(report, stored value, metadata, quarantine note) of a Parquet batch bigger than a chunk, checked
    chunk by chunk (declaration/streamed_check.py); None where the batch is read whole."""
    import uuid

    from asset_platform.batch_engine import ParquetParts
    from asset_platform.declaration.contract import normalize_times
    from asset_platform.declaration.contract_check import ContractCheck
    from asset_platform.declaration.streamed_check import (
        NotStreamable,
        check_in_chunks,
        duplicated_values,
        streamable,
        unique_columns,
    )
    from asset_platform.drift.chunks import frames_as_read, row_count, row_schema, stream_frames
    from asset_platform.landing import is_dataset_folder
    from asset_platform.lifecycle.past_bound import past_bound_note
    from asset_platform.storage.formats import WrittenParquet

    declaration, batch = model_landing.declaration, context.partition_key
    path = model_landing.batch_path(batch)
    try:
        parquet = (path.is_file() and path.suffix != ".csv") or is_dataset_folder(path)
        if not parquet or row_count(path) <= batch_engine.chunk_rows:
            return None
        columns = row_schema(path).names
    except Exception:  # an unreadable file: the whole read names it and quarantines it
        return None
    check = ContractCheck(declaration, with_label=False, learned_until=learned_until, unique=False)
    if streamable(declaration, check) is not None:
        return None
    label, time = declaration.label_column, declaration.event_time_column
    oldest: list = []

    def prepare(chunk):  # what the whole path does to the frame it read
        return normalize_times(
            model_landing.with_landing_time(chunk.drop(columns=[label], errors="ignore"), path), declaration
        )

    def prepared() -> Iterator:  # chunk by chunk
        for chunk in frames_as_read(path, batch_engine.chunk_rows):
            chunk = prepare(chunk)
            if time in chunk and len(chunk):
                oldest.append(chunk[time].min())
            yield chunk

    def column(name: str):
        return lambda: (chunk[name] for chunk in stream_frames(path, batch_engine.chunk_rows, [name]))

    report, where = None, {}
    if batch_engine.engine == "spark":  # checked where the batch lies (batch_engine/spark_contract.py)
        from asset_platform.batch_engine.spark_contract import check_on_spark

        on_spark = check_on_spark(batch_engine, declaration, check, path, prepare)
        report, where = on_spark.report, on_spark.metadata()
        if report is None:
            context.log.info(f"batch {batch}: the contract is checked on the driver: {on_spark.why_driver}")
    if report is None:
        try:
            duplicated = {name: duplicated_values(column(name)) for name in unique_columns(declaration, columns)}
        except NotStreamable as reason:
            context.log.info(f"batch {batch} is read whole: {reason}")
            return None
        where["checked_in_chunks_of"] = batch_engine.chunk_rows
    registry.store.staging.mkdir(parents=True, exist_ok=True)
    stored = registry.store.staging / f"{uuid.uuid4().hex}-batch.parquet"
    null_types = _null_types(declaration, path)
    with ParquetParts(stored, null_types=null_types) as out:
        if report is None:
            report = check_in_chunks(check, prepared(), duplicated, out.write)
        elif report.passed:  # checked on Spark: the rows stored as the contract coerces them
            for chunk in prepared():
                out.write(check.schema.coerce_dtype(chunk))
    metadata: dict[str, Any] = {"rows": dg.MetadataValue.int(report.rows), **where}
    if label in columns:
        metadata["dropped_label_column"] = label
        context.log.warning(f"batch {batch} carries the label {label!r}: dropped")
    note = ""
    if not report.passed:  # stored as landed (times read as UTC), for the record; nothing downstream reads it
        stored.unlink(missing_ok=True)
        with ParquetParts(stored, null_types=null_types) as out:
            for chunk in prepared():
                out.write(chunk)
        import pandas as pd

        times = [value for value in oldest if not pd.isna(value)]
        note = past_bound_note(declaration, pd.DataFrame({time: [min(times)]} if times else {}), learned_until)
    return report, WrittenParquet(stored), metadata, note


def _null_types(declaration, path) -> dict:
    """The type of each column, for one that a chunk holds only missing values of (Arrow's null type): text for
    the contract's text columns, else the landed file's own."""
    import pyarrow as pa

    from asset_platform.drift.chunks import row_schema

    types = {field.name: field.type for field in row_schema(path)}
    return types | {column.name: pa.string() for column in declaration.contract_columns() if column.dtype == "str"}


def _changed_since_taken(context: dg.AssetExecutionContext, path) -> bool:
    """Does the batch file differ from the content the sensor hashed when it asked for this run?"""
    from asset_platform.landing import landed_md5
    from asset_platform.registry.trigger import BATCH_MD5_TAG

    taken = context.run.tags.get(BATCH_MD5_TAG)
    try:  # a dataset folder's md5 is its parts' digest, as the sensor computed it
        return bool(taken) and path.exists() and landed_md5(path) != taken
    except OSError:
        return False


def _predictions(declaration, names: LifecycleNames, partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(PREDICTIONS),
        group_name=names.group("monitoring"),
        partitions_def=partitions,
        kinds={"pandas"},
        code_version="2",
        ins={
            # Read chunk by chunk from its stored version by the batch engine, not loaded whole.
            "batch": dg.AssetIn(key=names.key(BATCHES), dagster_type=dg.Nothing),
            "champion": dg.AssetIn(key=names.champion),
            "reference_profile": dg.AssetIn(key=names.key(REFERENCE_PROFILE)),
        },
        description=f"{declaration.name}: the champion's prediction for each row of a batch, and the "
        f"{declaration.metric_name} they let us expect before any label arrives (the champion's own estimator).",
    )
    def predictions(
        context: dg.AssetExecutionContext,
        champion: dict,
        reference_profile: dict,
        registry: ModelRegistry,
        batch_engine: BatchEngine,
    ) -> dg.MaterializeResult:
        import uuid

        from asset_platform.batch_engine import ParquetParts, stored_parquet
        from asset_platform.lifecycle.estimates import estimate_batch, estimator_of
        from asset_platform.storage.formats import WrittenParquet

        pointer = ChampionPointer.from_dict(champion)
        model = lineup_for(registry, names).load_champion(pointer)
        # The batch is read from its stored version chunk by chunk, never whole (see batch_engine.py); the
        # predictions are written the same way, under the store's staging folder, then stored as they are.
        batch = stored_parquet(registry.store, names.path(BATCHES), context.partition_key)
        registry.store.staging.mkdir(parents=True, exist_ok=True)
        scored_path, stored_path = (registry.store.staging / f"{uuid.uuid4().hex}-{part}.parquet" for part in "ab")
        challenger, extra = _shadow_challenger(context, registry, pointer)
        # The champion's own estimator (stored with its version), never one left from a previous champion.
        estimator, estimator_version, note = estimator_of(model, pointer.version, reference_profile)
        with ParquetParts(scored_path) as out:
            scored = batch_engine.score(declaration, model, batch, out, challenger, estimator)
        empty = scored.nothing_to_measure
        found = estimate_batch(declaration.metric_name, scored.estimate, estimator_version, note)
        estimated = None if empty else found.value
        # One figure per batch, on every row: the champion's holdout metric, which realized performance is
        # judged against, and the estimate made before any label arrives.
        figures = {
            "champion_version": pointer.version,
            "reference_metric": pointer.holdout(declaration.metric_name),
            "estimated_metric": float("nan") if estimated is None else estimated,
            # Where the realized metric should fall (95 %) if the estimator is right (ml/estimation.py).
            "estimate_low": float("nan") if estimated is None or found.interval is None else found.interval[0],
            "estimate_high": float("nan") if estimated is None or found.interval is None else found.interval[1],
            "estimate_reference": float("nan") if found.reference is None else found.reference,
            "estimator_version": found.estimator_version,
            "reference_label": float(reference_profile.get("label_reference", float("nan"))),
            "reference_label_std": float(reference_profile.get("label_reference_std", float("nan"))),
            # A multiclass champion's training class shares, what label shift compares a batch's with.
            **_label_shares_figure(reference_profile),
        }
        with ParquetParts(stored_path) as out:
            batch_engine.with_figures(scored_path, figures, out)
        extra.update(_explanations(model, scored.attribution_sample, pointer.version))
        extra.update(_served_latency(batch_engine, batch))
        if estimated is not None:
            extra[f"estimated_{declaration.metric_name}"] = dg.MetadataValue.float(shown(estimated))
            extra.update(_interval_metadata(declaration.metric_name, found.interval))
            extra["estimator_version"] = found.estimator_version
        elif empty:
            extra["estimate"] = empty
        elif found.note:
            extra["estimate"] = found.note
        if scored.tally.predicted is not None:  # a multiclass model: how often each class is predicted
            extra["predicted_shares"] = dg.MetadataValue.json(_predicted_shares(model, scored.tally.predicted))
        return dg.MaterializeResult(
            value=WrittenParquet(stored_path),
            metadata={
                **extra,
                "champion": pointer.describe(),
                "champion_version": pointer.version,
                "batch_engine": batch_engine.engine,  # what scored it: `local` or `spark`
                # A multiclass model's mean top score: its mean confidence.
                "mean_prediction": dg.MetadataValue.float(scored.tally.mean),
                "rows": scored.rows,
                "dagster/row_count": dg.MetadataValue.int(scored.rows),
                "unseen_categories": dg.MetadataValue.json(scored.unseen),
                "unseen_category_rows": dg.MetadataValue.int(sum(scored.unseen.values())),
            },
        )

    def _explanations(model, sample, version: str) -> dict[str, Any]:
        """The batch's mean |attribution| for the drift step, where explanations are declared.

        The drift step compares that mean with the reference profile's. Computed here, where the champion is
        loaded anyway, it spares the drift step a second load of the model per batch. `sample`: the rows
        `mean_attribution` would sample from the whole batch (the engine picked them while scoring).
        """
        from asset_platform.fairness.attribution_drift import BATCH_ATTRIBUTION, batch_attribution, mean_attribution

        if not declaration.explanations.enabled:
            return {}
        summary = batch_attribution(version, mean_attribution(declaration, model, sample))
        return {BATCH_ATTRIBUTION: dg.MetadataValue.json(summary)}

    def _shadow_challenger(context, registry, pointer) -> tuple[tuple[Any, str] | None, dict[str, Any]]:
        """The shadow challenger (model, version) to score beside the champion (never served), and its metadata."""
        from asset_platform.registry.shadow import current_challenger

        if not declaration.shadow.enabled:
            return None, {}
        challenger = current_challenger(context.instance, names)
        if not challenger or challenger == pointer.version:
            return None, {}
        lineup = lineup_for(registry, names)
        version = lineup.find(challenger)
        from asset_platform.lifecycle.shadow import shadow_challenger

        model = shadow_challenger(declaration, lineup.load(version.asset, version.version), version.version)
        return (model, version.version), {
            "challenger": f"{version.asset} {version.version}",
            CHALLENGER_VERSION: version.version,
        }

    return predictions


def _performance(declaration, names: LifecycleNames, partitions) -> dg.AssetsDefinition:
    metric = declaration.metric_name

    @dg.asset(
        key=names.key(PERFORMANCE),
        group_name=names.group("monitoring"),
        partitions_def=partitions,
        kinds={"pandas"},
        code_version="2",
        ins={"predictions": dg.AssetIn(key=names.key(PREDICTIONS))},
        description=f"{declaration.name}: realized {metric} of the champion's predictions once the batch's "
        "delayed labels arrived, and how far it fell short of the champion's holdout figure.",
    )
    def performance(
        context: dg.AssetExecutionContext, predictions: Frame, landing: LandingZone
    ) -> dg.MaterializeResult:
        import pandas as pd

        from asset_platform.ml.metrics import degradation, label_shift_effect, task_metrics

        batch = context.partition_key
        labels = landing.for_model(declaration).read_labels(batch)
        if predictions.empty:  # nothing was served, so nothing to compare the labels with
            table = pd.DataFrame([{"batch": batch, "labeled_rows": 0}])
            context.log.info(f"batch {batch}: {NOTHING_TO_MEASURE}")
            return dg.MaterializeResult(
                value=table,
                metadata={"performance": NOTHING_TO_MEASURE, "metric": metric, "labeled_rows": dg.MetadataValue.int(0)},
            )
        duplicated = labels.attrs.get("duplicate_ids", 0)
        if duplicated:  # resolved as retraining resolves them: the last label of each id
            context.log.warning(f"labels of batch {batch}: {duplicated} repeated id(s); the last label of each is used")
        joined = predictions.merge(labels, on=declaration.id_column, how="inner")
        if joined.empty:
            raise dg.Failure(f"labels of batch {batch} match none of its {len(predictions)} rows")
        if declaration.task == "multiclass":
            metrics = _multiclass_performance(joined)
        else:
            metrics = task_metrics(
                declaration.task,
                joined[declaration.label_column].to_numpy(),
                joined[PREDICTION],
                declaration.metric_recall,
            )
        reference = float(joined["reference_metric"].iloc[0])
        metrics["reference"] = reference
        metrics["degradation"] = degradation(metric, reference, metrics[metric])
        estimated = float(joined["estimated_metric"].iloc[0]) if "estimated_metric" in joined else float("nan")
        if estimated == estimated:  # estimated before the labels landed: how close was it?
            metrics[f"estimated_{metric}"] = estimated
            metrics["estimate_error"] = estimated - metrics[metric]
            # And did the realized metric fall where the estimate's 95 % interval said it would? (Over the labeled
            # rows: a batch labeled in part varies more than the interval, made for all its rows, allows.)
            low, high = (float(joined[name].iloc[0]) if name in joined else float("nan") for name in _INTERVAL)
            if low == low and high == high:
                metrics["estimate_low"], metrics["estimate_high"] = low, high
                metrics["estimate_in_interval"] = float(low <= metrics[metric] <= high)
        # Label (prior) shift: the share of positives, or the mean label, against the champion's training data
        # (a multiclass batch's was measured on its class shares, above).
        multiclass = declaration.task == "multiclass"
        label_mean = float("nan") if multiclass else float(joined[declaration.label_column].mean())
        reference_label = float(joined["reference_label"].iloc[0]) if "reference_label" in joined else float("nan")
        if not multiclass:
            metrics["label_mean"] = label_mean
        if reference_label == reference_label and not multiclass:
            metrics["label_shift"] = label_mean - reference_label
            spread = float(joined["reference_label_std"].iloc[0]) if "reference_label_std" in joined else None
            effect = label_shift_effect(declaration.task, label_mean, reference_label, spread)
            if effect is not None:
                metrics["label_shift_effect"] = effect
        table = pd.DataFrame([{"batch": batch, "labeled_rows": len(joined), **metrics}])
        metadata: dict[str, Any] = {f"performance/{name}": dg.MetadataValue.float(v) for name, v in metrics.items()}
        metadata["metric"] = metric
        metadata["labeled_rows"] = dg.MetadataValue.int(len(joined))
        metadata["duplicate_label_ids"] = dg.MetadataValue.int(duplicated)
        metadata["champion_version"] = str(joined["champion_version"].iloc[0])
        if "estimator_version" in joined and estimated == estimated:
            metadata["estimator_version"] = str(joined["estimator_version"].iloc[0])
        return dg.MaterializeResult(value=table, metadata=metadata)

    def _multiclass_performance(joined) -> dict[str, float]:
        """A multiclass batch's realized metrics from the stored per-class scores, and its label shift: the
        largest per-class Cohen's h between its class shares and the champion's training shares."""
        import json

        from asset_platform.ml.metrics import class_shift_effect, task_metrics
        from asset_platform.ml.scoring import label_values, score_columns

        labels = label_values(declaration, joined)
        probabilities = joined[score_columns(declaration.label_classes)].to_numpy(dtype=float)
        metrics = task_metrics("multiclass", labels, probabilities)
        if LABEL_SHARES in joined:
            reference = json.loads(str(joined[LABEL_SHARES].iloc[0]))
            effect, shares = class_shift_effect(
                labels, [reference.get(name, 0.0) for name in declaration.label_classes]
            )
            metrics["label_shift_effect"] = effect
            metrics.update(
                {f"label_share/{name}": share for name, share in zip(declaration.label_classes, shares, strict=True)}
            )
        return metrics

    return performance


# The predictions column carrying a multiclass champion's training class shares (JSON), on every row.
LABEL_SHARES = "reference_label_shares"


def _label_shares_figure(reference_profile: dict) -> dict[str, str]:
    import json

    shares = reference_profile.get("label_shares")
    return {LABEL_SHARES: json.dumps(shares, sort_keys=True)} if shares else {}


def _predicted_shares(model, counts) -> dict[str, float]:
    total = max(int(counts.sum()), 1)
    return {name: round(float(count) / total, 4) for name, count in zip(model.classes, counts, strict=True)}


def _served_latency(batch_engine: BatchEngine, batch) -> dict[str, Any]:
    """For a batch of traffic `serve-model` answered (asset_platform/serving/capture.py): the inference
    latency it recorded per row, as p50 and p99 in ms; nothing for a batch that was not served."""
    import numpy as np

    from asset_platform.batch_engine import row_schema
    from asset_platform.declaration.model import SERVED_COLUMNS

    latency = SERVED_COLUMNS[2]
    if latency not in row_schema(batch).names:
        return {}
    values = np.concatenate([frame[latency].to_numpy(dtype=float) for frame in batch_engine.frames(batch, [latency])])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    p50, p99 = np.percentile(values, [50, 99])
    return {
        "serving/latency_p50_ms": dg.MetadataValue.float(shown(p50)),
        "serving/latency_p99_ms": dg.MetadataValue.float(shown(p99)),
        "serving/rows_served": dg.MetadataValue.int(int(values.size)),
    }


# The predictions' columns of the label-free estimate's interval, and the metadata names it is shown under
# (`estimated_<metric>_ci_low` and `_ci_high`, the suffixes the pages read: app/pages/data.py).
_INTERVAL = ("estimate_low", "estimate_high")


def _interval_metadata(metric: str, interval: tuple[float, float] | None) -> dict[str, Any]:
    """The estimate's 95 % interval as metadata entries beside `estimated_<metric>` (none without one)."""
    if interval is None:
        return {}
    low, high = interval
    return {
        f"estimated_{metric}_ci_low": dg.MetadataValue.float(shown(low)),
        f"estimated_{metric}_ci_high": dg.MetadataValue.float(shown(high)),
    }


def _reference_profile(declaration, names: LifecycleNames) -> dg.AssetsDefinition:
    numeric, categorical = declaration.feature_columns()

    @dg.asset(
        key=names.key(REFERENCE_PROFILE),
        group_name=names.group("monitoring"),
        kinds={"json"},
        code_version="3",
        ins={
            "dataset": dg.AssetIn(key=names.key(DATASET)),
            "feature_pipeline": dg.AssetIn(key=names.key(FEATURE_PIPELINE)),
            "champion": dg.AssetIn(key=names.key(CHAMPION)),
        },
        description=f"{declaration.name}: what the champion was trained on, in a fixed-size summary (bins, "
        "samples, category shares) including the champion's own predictions; drift is measured against it.",
    )
    def reference_profile(
        context: dg.AssetExecutionContext,
        dataset: Frame,
        feature_pipeline: dict,
        champion: dict,
        registry: ModelRegistry,
        drift_monitor: DriftMonitor,
    ) -> dg.MaterializeResult:
        from asset_platform.drift import build_profile
        from asset_platform.fairness.attribution_drift import mean_attribution
        from asset_platform.ml.features import FeaturePipeline, holdout_rows, training_rows
        from asset_platform.ml.scoring import label_reference, prediction_columns, profiled_predictions, score_rows

        pointer = ChampionPointer.from_dict(champion)
        model = lineup_for(registry, names).load_champion(pointer)
        # The champion's own training data: the dataset version its split was cut from and its recorded
        # window, not today's dataset (labeled batches dated inside that window join it later), so the
        # same champion always gives the same profile and a rejected challenger moves nothing.
        recorded = model.extra.get("feature_pipeline") or feature_pipeline
        rows, rows_version = champion_training_data(context.instance, registry, names, pointer, dataset)
        training = training_rows(rows, FeaturePipeline.from_dict(recorded))
        # The champion's score, or a multiclass champion's predicted class and each class's probability.
        frame = training.assign(**prediction_columns(model, score_rows(model, training)))
        scored_numeric, scored_categorical = profiled_predictions(model)
        profile = build_profile(
            frame,
            numeric=[*numeric, *scored_numeric],
            categorical=[*categorical, *scored_categorical],
            sketch_rows=drift_monitor.reference_sketch_rows,
        )
        holdout = holdout_rows(rows, FeaturePipeline.from_dict(recorded))
        payload = {
            **profile.to_dict(),
            "champion_version": pointer.version,
            **label_reference(declaration, training),
            "estimation": _estimation(model, holdout),
            # The champion's mean |attribution| per feature on its holdout: what attribution drift compares to.
            "attribution": mean_attribution(declaration, model, holdout),
        }
        from asset_platform.access.masking import sensitive_columns
        from asset_platform.drift.profile_report import profile_markdown

        return dg.MaterializeResult(
            value=payload,
            metadata={
                # The champion's predictions first: the distribution the label-free estimate reads.
                "distributions": dg.MetadataValue.md(
                    profile_markdown(profile, first=[PREDICTION], sensitive=sensitive_columns(declaration))
                ),
                "training_rows": dg.MetadataValue.int(len(training)),
                # Above DriftMonitor.reference_sketch_rows: cut points from sketches, counts exact (drift/sketches.py).
                **_sketch_metadata(profile),
                "champion_version": pointer.version,
                # The dataset version profiled ("" when the event log lost the champion's lineage: today's).
                "training_data_version": rows_version or "unknown: profiled from the current dataset",
            },
        )

    def _estimation(model, holdout) -> dict[str, Any]:
        """The champion's label-free estimator, for what the UI shows: its holdout figures.

        A model carries its own estimator (fitted when it was trained); only one stored before that gets
        one fitted here, on its holdout, which the predictions step uses for that model version alone.
        """
        own = model.extra.get("estimation")
        if own is not None:
            return {"stored_with_model": True, "holdout": own.get("holdout", {})}
        if holdout.empty:
            return {}
        from asset_platform.ml.scoring import featurize, fit_model_estimator

        featurized = featurize(model, holdout).assign(
            **{declaration.label_column: holdout[declaration.label_column].to_numpy()}
        )
        return fit_model_estimator(model, featurized, declaration.label_column)

    return reference_profile


def _sketch_metadata(profile) -> dict[str, Any]:
    """How a reference profile placed its cut points, and for one built from sketches its KS error bound."""
    if profile.sketch is None:
        return {"profile_cut_points": "exact (sorted reference)"}
    return {
        "profile_cut_points": f"{profile.sketch['method']} (k={profile.sketch['k']}), counts exact",
        "ks_bound": dg.MetadataValue.float(float(profile.ks_bound)),
    }


def _moved_histograms(results, assessment) -> str:
    """Reference-vs-batch histograms of the batch's most moved features (warn or alert), none for a batch that
    stayed within the policy on every feature.

    Drawing them (matplotlib and three PNGs) was about a fifth of a stable batch's scoring-run CPU; the drift
    page draws any feature's histograms of any batch from the stored results.
    """
    moved = {verdict.name for verdict in assessment.verdicts if verdict.level in ("warn", "alert")}
    if not moved:
        return "No feature at warn or alert level: none drawn (the drift page draws any feature of any batch)."
    from asset_platform.drift.report import drift_histograms_markdown

    return drift_histograms_markdown(replace(results, features=tuple(f for f in results.features if f.name in moved)))


def _feature_label(feature: str) -> str:
    return "The champion's predictions" if feature == PREDICTION else f"Feature {feature!r}"


# Keys the reference profile asset stores beside the drift profile itself.
PROFILE_EXTRAS = ("champion_version", "label_reference", "label_reference_std", "estimation", "attribution")


def _drift(declaration, names: LifecycleNames, partitions) -> dg.AssetsDefinition:
    key = names.key(DRIFT)
    numeric, categorical = declaration.feature_columns()
    # The reference profile's features, in its order: one check each, per batch (see drift/feature_checks.py).
    feature_checks = feature_check_names([*numeric, PREDICTION, *categorical])

    @dg.asset(
        key=key,
        group_name=names.group("monitoring"),
        partitions_def=partitions,
        kinds={"json"},
        code_version="2",
        ins={
            # Both read chunk by chunk, in step, from their stored versions by the batch engine.
            "batch": dg.AssetIn(key=names.key(BATCHES), dagster_type=dg.Nothing),
            "predictions": dg.AssetIn(key=names.key(PREDICTIONS), dagster_type=dg.Nothing),
            "reference_profile": dg.AssetIn(key=names.key(REFERENCE_PROFILE)),
        },
        check_specs=[
            dg.AssetCheckSpec(POLICY_CHECK, asset=key, description="Drift of the batch is within the policy."),
            *(
                dg.AssetCheckSpec(
                    check,
                    asset=key,
                    partitions_def=partitions,
                    description=f"{_feature_label(feature)} of the batch is within the drift policy "
                    "(fails when drifted, as an error when unmeasurable or its missing rate jumped).",
                )
                for feature, check in feature_checks.items()
            ),
        ],
        description=f"{declaration.name}: how far one production batch moved from the champion's training data, "
        "feature by feature (PSI, KS, Jensen-Shannon, Wasserstein, chi-square, missing and unseen values) and "
        "for the champion's predictions, judged by the drift policy.",
        # The drift page `asset-platform serve` adds beside this UI (asset_platform/app/pages/).
        metadata={"asset_platform/page": dg.MetadataValue.url(f"/platform/models/{declaration.name}/drift")},
    )
    def drift(
        context: dg.AssetExecutionContext,
        reference_profile: dict,
        drift_monitor: DriftMonitor,
        registry: ModelRegistry,
        batch_engine: BatchEngine,
    ):
        from asset_platform.batch_engine import stored_parquet
        from asset_platform.drift import ReferenceProfile, assess_batch, drift_from_summary
        from asset_platform.drift.feature_checks import feature_checks as checks_of_features
        from asset_platform.drift.policy import BatchAssessment
        from asset_platform.drift.report import drift_summary, drift_table_markdown

        partition = context.partition_key
        policy = drift_monitor.policy_for(declaration.monitoring.drift)
        profile = ReferenceProfile.from_dict({k: v for k, v in reference_profile.items() if k not in PROFILE_EXTRAS})
        batch = stored_parquet(registry.store, names.path(BATCHES), partition)
        predictions = stored_parquet(registry.store, names.path(PREDICTIONS), partition)
        # The verdict comes from the batch's summary, merged over its chunks (see batch_engine.py).
        found = batch_engine.summarize(declaration, profile, batch, predictions)
        from asset_platform.access.masking import sensitive_columns
        from asset_platform.drift.measure import mask_drift_results

        # Sensitive columns' categories and bin edges are hashed before any report, reason or stored result.
        measured = drift_from_summary(profile, found.summary, batch_key=partition)
        results = mask_drift_results(measured, sensitive_columns(declaration))
        assessment = assess_batch(results, policy)
        empty = found.nothing_to_measure
        if empty:  # recorded, never judged: neither an error nor a retrain trigger
            rows = found.summary.n_rows
            assessment = BatchAssessment(partition, "warn", rows, 0.0, False, (), (), (empty,), judged=False)
        summary = drift_summary(results, assessment, prediction=PREDICTION)
        evidence = replace(
            assessment.evidence(),
            max_psi=round(summary["max_psi"], 4),
            reference_champion_version=reference_profile.get("champion_version", ""),
        )
        if found.batch_start is not None:
            evidence = replace(evidence, batch_start=found.batch_start.isoformat())
        if not empty and found.first_predictions is not None:
            evidence = _with_estimate(evidence, found.first_predictions, reference_profile)
        status = evidence.verdict()
        estimate_reason = _estimate_reason(evidence)
        reasons = [*assessment.reasons, *([estimate_reason] if estimate_reason else [])]
        metadata: dict[str, Any] = {
            **evidence.to_metadata(),
            "features": dg.MetadataValue.md(drift_table_markdown(results, policy)),
            "histograms": dg.MetadataValue.md(_moved_histograms(results, assessment)),
            "reasons": dg.MetadataValue.md("\n".join(f"- {reason}" for reason in reasons) or "none"),
            **{f"drift/{name}": dg.MetadataValue.float(value) for name, value in summary.items()},
            "batch_engine": batch_engine.engine,  # what summarized it: `local` or `spark`
        }
        check = dg.AssetCheckResult(
            check_name=POLICY_CHECK,
            passed=status == "pass",
            severity=dg.AssetCheckSeverity.ERROR if status == "error" else dg.AssetCheckSeverity.WARN,
            description=f"batch {partition}: {status}; " + ("; ".join(reasons) or "no drift"),
            metadata={"drift_share": dg.MetadataValue.float(assessment.drift_share)},
        )
        if evidence.estimated_metric is not None:
            metadata[f"estimated_{declaration.metric_name}"] = dg.MetadataValue.float(evidence.estimated_metric)
            if evidence.estimate_low is not None and evidence.estimate_high is not None:
                metadata.update(
                    _interval_metadata(declaration.metric_name, (evidence.estimate_low, evidence.estimate_high))
                )
        # Signals (an estimated drop) listed with the features, as the recorded evidence lists them.
        drifted = list(evidence.drifted)
        if empty:
            metadata["attribution_drift"] = dg.MetadataValue.md(empty)
        else:
            metadata.update(_attribution_drift(context, registry, batch_engine, batch, reference_profile, drifted))
        per_feature = [
            dg.AssetCheckResult(
                check_name=feature_checks[outcome.feature],
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR if outcome.is_error else dg.AssetCheckSeverity.WARN,
                description=f"batch {partition}: {outcome.description}",
                metadata={"level": outcome.level, **outcome.metadata},
            )
            for outcome in checks_of_features(list(feature_checks), results, assessment)
        ]
        return dg.MaterializeResult(value=results.to_dict(), metadata=metadata, check_results=[check, *per_feature])

    def _attribution_drift(
        context, registry, batch_engine: BatchEngine, batch, reference_profile: dict, drifted: list[str]
    ) -> dict[str, Any]:
        """Which drifted features move the champion's output on this batch (see fairness/attribution_drift.py)."""
        from asset_platform.fairness.attribution_drift import attribution_drift_metadata, mean_attribution

        version = reference_profile.get("champion_version")
        if not reference_profile.get("attribution") or not version:
            return {}
        batch_figure = _predictions_attribution(context, version)
        if batch_figure is None:
            # Only when the predictions were made by another model than the reference's champion (a promotion
            # the reference profile has not caught up with yet), or stored before they carried the figure:
            # the batch must be explained by the reference's model, so load it here.
            lineup = lineup_for(registry, names)
            found = lineup.find(version)
            sample = batch_engine.attribution_sample(declaration, batch)
            batch_figure = mean_attribution(declaration, lineup.load(found.asset, found.version), sample)
        return attribution_drift_metadata(reference_profile["attribution"], batch_figure, drifted)

    def _predictions_attribution(context: dg.AssetExecutionContext, version: str) -> dict[str, float] | None:
        """The batch's mean |attribution| the predictions of this partition stored, if of model `version`."""
        from asset_platform.fairness.attribution_drift import BATCH_ATTRIBUTION, stored_mean_attribution

        # The latest materialization of the partition: the predictions this step loaded as its input.
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=names.key(PREDICTIONS), asset_partitions=[context.partition_key]),
            limit=1,
        ).records
        materialization = records[0].asset_materialization if records else None
        stored = materialization.metadata.get(BATCH_ATTRIBUTION) if materialization else None
        return stored_mean_attribution(stored.value if stored is not None else None, version)

    def _with_estimate(evidence: BatchEvidence, predictions, reference_profile: dict) -> BatchEvidence:
        """The label-free estimate; where the declaration uses it, its drop from the holdout's is judged."""
        from asset_platform.ml.metrics import degradation

        if "estimated_metric" not in predictions or predictions.empty:
            return evidence
        estimated = float(predictions["estimated_metric"].iloc[0])
        if estimated != estimated:
            return evidence
        low, high = (float(predictions[name].iloc[0]) if name in predictions else float("nan") for name in _INTERVAL)
        interval = {"estimate_low": shown(low), "estimate_high": shown(high)} if low == low and high == high else {}
        evidence = replace(evidence, estimated_metric=round(estimated, 4), **interval)
        reference = _estimate_reference(predictions, reference_profile)
        if not declaration.monitoring.use_estimated_performance or reference is None:
            return evidence
        drop = degradation(declaration.metric_name, reference, estimated)
        return replace(
            evidence,
            estimated_drop=drop,
            max_estimated_drop=declaration.metric_drop_alarm,
            estimate_reference=reference,
        )

    def _estimate_reason(evidence: BatchEvidence) -> str | None:
        """Why the estimate counts as drift, in the metric's own terms; None where it does not."""
        if ESTIMATE_SIGNAL not in evidence.signals():
            return None
        from asset_platform.ml.metrics import METRIC_DIRECTION

        estimated, reference, drop = evidence.estimated_metric, evidence.estimate_reference, evidence.estimated_drop
        # degradation() is absolute for AUC and relative for error metrics: say it in the metric's own terms.
        worse = f"{drop:.3f} below" if METRIC_DIRECTION[declaration.metric_name] > 0 else f"{drop:.0%} above"
        return f"estimated {declaration.metric_name} {estimated:.3f} is {worse} the holdout's {reference:.3f}"

    def _estimate_reference(predictions, reference_profile: dict) -> float | None:
        """The holdout figure of the estimator that made the batch's estimate (same model, same estimator)."""
        from asset_platform.ml.estimation import holdout_estimate

        if "estimate_reference" in predictions:
            reference = float(predictions["estimate_reference"].iloc[0])
            return reference if reference == reference else None
        # Predictions stored before they carried it: the reference profile's (classification only then).
        return holdout_estimate(reference_profile.get("estimation"), declaration.metric_name)

    return drift
