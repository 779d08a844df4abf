"""The data engine a production batch's steps read it with, as a resource chosen per deployment.

`local` (the default): the stored batch is read as Arrow record batches (`pyarrow.dataset`) of
`chunk_rows` rows, each turned into a pandas frame, so a step holds one chunk and the model at a
time, never the whole batch. What the steps compute from the chunks either merges (drift summaries
add up, see drift/summary.py) or is written chunk by chunk (predictions, as row groups of one
Parquet file). The chunk size changes memory and speed, never a result: the chunks are cut at
exactly `chunk_rows` rows, whatever the row groups of the stored file, so two files of the same
rows (a batch and its predictions) are read in step.

`spark` (spark.py): the same per-chunk code run by a Spark cluster's executors, the partial
results merged on the driver; the results equal the local engine's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import Field

from asset_platform.declaration.names import CHALLENGER_VERSION, PREDICTION, SCORE_PREFIX, SHADOW_PREDICTION
from asset_platform.drift.chunks import row_count, row_schema, stream_frames

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.drift.profile import ReferenceProfile
    from asset_platform.drift.summary import BatchSummary
    from asset_platform.ml.streamed_estimate import StreamedEstimate
    from asset_platform.storage.store import AssetStore

# drift/summary.py's default (not imported from there: it imports pandas, which the code location never loads).
DEFAULT_CHUNK_ROWS = 131_072
# The predictions column with each row's top feature attributions, where `explanations.top_reasons` asks for them.
REASONS = "reasons"
# Predictions columns that hold one figure for the whole batch (the label-free estimate, its interval and its
# reference).
_BATCH_FIGURES = ("estimated_metric", "estimate_low", "estimate_high", "estimate_reference")
# Seed of the rows a batch's mean attribution explains (fairness/attribution_drift.py samples with it).
_ATTRIBUTION_SEED = 0


@dataclass
class ScoredBatch:
    """What scoring a batch chunk by chunk leaves beside the per-row predictions it wrote."""

    rows: int
    # The label-free estimate, fed each chunk's scores (and a regression model's feature matrix) as they came:
    # what it keeps does not grow with the batch (ml/streamed_estimate.py).
    estimate: StreamedEstimate
    tally: ScoreTally
    unseen: dict[str, int]
    # Some row has a value in some feature (drift/emptiness.py judges the whole batch).
    measurable: bool
    # The rows the batch's mean attribution explains: those `sample_rows` would take from the whole batch.
    attribution_sample: pd.DataFrame | None

    @property
    def nothing_to_measure(self) -> str | None:
        return _nothing_to_measure(self.rows, self.measurable)


class ScoreTally:
    """A batch's mean prediction (a multiclass model's mean top score) and how often each class was predicted,
    added chunk by chunk; the sum is exact, so neither depends on the chunk size."""

    def __init__(self) -> None:
        from asset_platform.exact_sums import ExactSums

        self.rows = 0
        self.nonfinite = 0
        self.total = ExactSums(1)
        # A multiclass model's predicted-class counts, in its class order (None for one score a row).
        self.predicted: np.ndarray | None = None

    def add(self, scores: np.ndarray) -> None:
        import numpy as np

        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim == 2:
            if self.predicted is None:
                self.predicted = np.zeros(scores.shape[1], dtype=np.int64)
            self.predicted += np.bincount(scores.argmax(axis=1), minlength=scores.shape[1])
            scores = scores.max(axis=1)
        finite = np.isfinite(scores)
        self.nonfinite += int((~finite).sum())
        self.total.add(None, scores[finite])
        self.rows += len(scores)

    @property
    def mean(self) -> float:
        from asset_platform.exact_sums import exact_float

        if not self.rows or self.nonfinite:
            return float("nan")
        return exact_float(self.total.totals()[0]) / self.rows


class BatchEngine(dg.ConfigurableResource):
    """How the predictions and drift steps read a production batch: in chunks of `chunk_rows` rows."""

    engine: Literal["local", "spark"] = Field(
        default="local",
        description="`local`: Arrow record batches in this process, memory bounded by a chunk. `spark`: scored and "
        "summarized by a Spark cluster (`spark_remote` or `spark_master`), with the same results.",
    )
    chunk_rows: int = Field(
        default=DEFAULT_CHUNK_ROWS,
        ge=1,
        description="Rows read, scored and summarized at a time. A chunk of 20 features takes a few tens of MB; "
        "the results do not depend on it.",
    )

    spark_remote: str | None = Field(
        default=None,
        description="`spark`: the Spark Connect endpoint (`sc://host:15002`, with `;token=...` from a secret), the "
        "way Databricks, EMR, Dataproc and Spark on Kubernetes expose a cluster. Unset: `spark_master`.",
    )
    spark_master: str = Field(
        default="local[2]",
        description="`spark` without `spark_remote`: a classic master URL (`local[2]` runs Spark in a local JVM).",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="`spark`: extra Spark settings (`spark.executor.memory`, ...)."
    )

    def spark_batches(self) -> Any:
        """The `spark` engine's work on this resource's session (one per process, shared by its steps)."""
        from asset_platform.batch_engine.spark import SparkBatches, spark_session

        return SparkBatches(spark_session(self.spark_remote, self.spark_master, self.spark_conf), self.chunk_rows)

    def frames(self, path: Path, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The rows of a Parquet file or dataset folder, `chunk_rows` at a time (see `stream_frames`)."""
        return stream_frames(path, self.chunk_rows, columns)

    def score(
        self,
        declaration: ModelDeclaration,
        model: Any,
        batch: Path,
        out: ParquetParts,
        challenger: tuple[Any, str] | None = None,
        estimator: dict[str, Any] | None = None,
    ) -> ScoredBatch:
        """Score the batch at `batch` chunk by chunk, writing id, prediction (and where declared the top
        reasons, the shadow challenger's score and version) to `out`, and feeding the label-free `estimator`
        (the champion's own, ml/estimation.py); the rest is returned."""
        from asset_platform.drift.emptiness import nothing_to_measure
        from asset_platform.ml.scoring import feature_matrix, unseen_categories
        from asset_platform.ml.streamed_estimate import StreamedEstimate

        spec, total = declaration.explanations, row_count(batch)
        sample = RowSample(total, spec.sample_rows, _ATTRIBUTION_SEED) if spec.enabled else None
        background = _explanation_background(model, batch) if spec.enabled and spec.top_reasons else None
        estimate, tally = StreamedEstimate(estimator, total), ScoreTally()
        if self.engine == "spark" and total:  # a batch of no rows has nothing to distribute
            return self.spark_batches().score(declaration, model, batch, out, challenger, background, estimate)
        measurable = False
        unseen: dict[str, int] = {}
        for chunk in self.frames(batch):
            rows, scores, features = scored_rows(declaration, model, chunk, background, challenger)
            # A regression estimator's loss models read the model's own feature matrix beside its prediction.
            regression = declaration.task == "regression" and estimate.method is not None
            estimate.add(scores, feature_matrix(model, features) if regression else None)
            tally.add(scores)
            for name, count in unseen_categories(model, chunk).items():
                unseen[name] = unseen.get(name, 0) + count
            measurable = measurable or (len(chunk) > 0 and nothing_to_measure(declaration, chunk) is None)
            out.write(rows)
            if sample is not None:
                sample.add(chunk)
        return ScoredBatch(
            rows=out.rows,
            estimate=estimate,
            tally=tally,
            unseen=unseen,
            measurable=measurable,
            attribution_sample=None if sample is None else sample.frame(chunk),
        )

    def with_figures(self, scored: Path, figures: dict[str, Any], out: ParquetParts) -> None:
        """Copy the predictions `score` wrote at `scored` to `out`, chunk by chunk, with the batch-wide `figures`
        (known once every row is scored) after the id and prediction columns; `scored` is removed."""
        import pandas as pd

        for chunk in self.frames(scored):
            first = list(chunk.columns[:2])
            out.write(pd.concat([chunk[first].assign(**figures), chunk.drop(columns=first)], axis=1))
        scored.unlink()

    def attribution_sample(self, declaration: ModelDeclaration, batch: Path) -> pd.DataFrame:
        """The rows of the batch its mean attribution explains (those `mean_attribution` samples from it whole)."""
        if self.engine == "spark" and row_count(batch):
            empty = next(stream_frames(batch, 1)).iloc[:0]
            return self.spark_batches().attribution_sample(batch, declaration.explanations.sample_rows, empty)
        sample = RowSample(row_count(batch), declaration.explanations.sample_rows, _ATTRIBUTION_SEED)
        for chunk in self.frames(batch):
            sample.add(chunk)
        return sample.frame(chunk)

    def summarize(
        self, declaration: ModelDeclaration, profile: ReferenceProfile, batch: Path, predictions: Path
    ) -> SummarizedBatch:
        """The drift summary of a batch with its champion's predictions, read in step chunk by chunk and
        merged (equal to `summarize(profile, batch.assign(prediction=...))` of the whole batch in memory)."""
        if self.engine == "spark" and row_count(batch):
            return self.spark_batches().summarize(declaration, profile, batch, predictions)
        import pandas as pd

        from asset_platform.drift.emptiness import nothing_to_measure
        from asset_platform.drift.summary import summarize_frames

        numeric, categorical = declaration.feature_columns()
        time = declaration.event_time_column
        present = set(row_schema(batch).names)
        wanted = [*profile.features, *numeric, *categorical, time]
        stored = row_schema(predictions).names
        # The prediction, or a multiclass model's predicted class and per-class scores (ml/scoring.py).
        predicted = [PREDICTION, *(name for name in stored if name.startswith(SCORE_PREFIX))]
        columns = [name for name in dict.fromkeys(wanted) if name in present and name not in predicted]
        scored = scored_columns(predicted, stored)
        measurable, first, times = False, None, []

        def chunks() -> Iterator[pd.DataFrame]:
            nonlocal measurable, first
            for chunk, scores in zip(self.frames(batch, columns), self.frames(predictions, scored), strict=True):
                first = scores.head(1) if first is None else first
                measurable = measurable or (len(chunk) > 0 and nothing_to_measure(declaration, chunk) is None)
                if time in chunk and len(chunk):
                    times.append(chunk[time].min())
                yield chunk.assign(**{name: scores[name].to_numpy() for name in predicted})

        summary = summarize_frames(profile, chunks())
        earliest = pd.Series(times).min() if times else None
        start = None if earliest is None or pd.isna(earliest) else earliest
        return SummarizedBatch(summary, measurable, start, first)


def scored_rows(
    declaration: ModelDeclaration,
    model: Any,
    chunk: pd.DataFrame,
    background: pd.DataFrame | None,
    challenger: tuple[Any, str] | None,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """One chunk's predictions rows (id, prediction, where declared the top reasons and the shadow challenger's
    score and version), its scores and its feature frame: what every engine computes per chunk."""
    from asset_platform.ml.scoring import featurize, prediction_columns

    features = featurize(model, chunk)
    scores = model.predict(features)
    rows = {declaration.id_column: chunk[declaration.id_column].to_numpy(), **prediction_columns(model, scores)}
    if background is not None:
        rows[REASONS] = _top_reasons(model, features, background, declaration.explanations.top_reasons)
    if challenger is not None:
        from asset_platform.ml.scoring import score_rows

        rows[SHADOW_PREDICTION] = score_rows(challenger[0], chunk)
        rows[CHALLENGER_VERSION] = challenger[1]
    return _frame(rows), scores, features


@dataclass
class SummarizedBatch:
    """What the drift step needs of a batch, gathered in one pass over its chunks."""

    summary: BatchSummary
    measurable: bool
    # The earliest event time (None for a batch without rows or times).
    batch_start: Any
    # The predictions' first row of the batch-wide figures (`_BATCH_FIGURES`), where stored.
    first_predictions: pd.DataFrame | None

    @property
    def nothing_to_measure(self) -> str | None:
        return _nothing_to_measure(self.summary.n_rows, self.measurable)


def scored_columns(predicted: list[str], stored: list[str]) -> list[str]:
    """The drift step's columns of the stored predictions: `predicted`, then the batch-wide figures, where stored."""
    return [name for name in (*predicted, *_BATCH_FIGURES) if name in stored]


def _nothing_to_measure(rows: int, measurable: bool) -> str | None:
    """What drift/emptiness.py's `nothing_to_measure` says of the whole batch, from what its chunks showed."""
    from asset_platform.drift.emptiness import NOTHING_TO_MEASURE

    if measurable:
        return None
    return f"{NOTHING_TO_MEASURE} (every feature is null in all {rows} rows)" if rows else NOTHING_TO_MEASURE


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns)


def _explanation_background(model: Any, batch: Path) -> pd.DataFrame:
    """The batch's first rows, featurized: what explaining the whole batch at once compares each row with."""
    from asset_platform.ml.explain import BACKGROUND_ROWS
    from asset_platform.ml.scoring import featurize

    return featurize(model, next(stream_frames(batch, BACKGROUND_ROWS)))


def _top_reasons(model: Any, features: pd.DataFrame, background: pd.DataFrame, count: int) -> list[str]:
    from asset_platform.fairness.attribution_drift import top_reasons
    from asset_platform.ml.explain import explain

    if features.empty:
        return []
    return top_reasons(model, features, count, explain(model, features, background))


def stored_parquet(store: AssetStore, asset_path: list[str], partition: str | None) -> Path:
    """The local path of the latest stored version of a frame asset's partition (checked as a load checks it)."""
    from asset_platform.storage.store import check_format

    record = store.record(asset_path, partition)
    check_format(record, "parquet")
    return store.ensure_local(record)


class RowSample:
    """The rows `ml.explain.sample_rows(batch, rows, seed)` takes from a whole batch, taken from its chunks.

    The positions `sample_positions` draws are picked here while the chunks stream by, and `frame()` returns
    them in the order `sample_rows` gives them.
    """

    def __init__(self, total: int, rows: int, seed: int) -> None:
        import numpy as np

        from asset_platform.ml.explain import sample_positions

        self.order = sample_positions(total, rows, seed)
        self.sorted = np.sort(self.order)
        self.start = 0
        self.parts: list[pd.DataFrame] = []

    def add(self, chunk: pd.DataFrame) -> None:
        import numpy as np

        end = self.start + len(chunk)
        low, high = np.searchsorted(self.sorted, [self.start, end])
        if high > low:
            self.parts.append(chunk.iloc[self.sorted[low:high] - self.start])
        self.start = end

    def frame(self, empty: pd.DataFrame) -> pd.DataFrame:
        """The sampled rows in pandas' order (`empty`: a frame of the batch's columns, for a batch of no rows)."""
        import numpy as np
        import pandas as pd

        if not self.parts:
            return empty.iloc[:0]
        rows = pd.concat(self.parts, ignore_index=True)
        return rows.iloc[np.searchsorted(self.sorted, self.order)].reset_index(drop=True)


class ParquetParts:
    """Frames written one after another as row groups of one Parquet file, the schema fixed by the first.

    Read back with `pd.read_parquet`, the file is the concatenation of the frames (with a fresh index).
    """

    def __init__(self, path: Path, null_types: dict[str, Any] | None = None) -> None:
        self.path = path
        self.rows = 0
        # Per column, the Arrow type to write if the first frame holds only missing values of it (which
        # Arrow types as null, a type later frames' values could not be cast to).
        self.null_types = null_types or {}
        self._writer: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            typed = [
                field.with_type(self.null_types[field.name])
                if pa.types.is_null(field.type) and field.name in self.null_types
                else field
                for field in table.schema
            ]
            schema = pa.schema(typed, metadata=table.schema.metadata)
            table = table.cast(schema) if not schema.equals(table.schema) else table
            self._writer = pq.ParquetWriter(self.path, table.schema)
        elif not table.schema.equals(self._writer.schema, check_metadata=False):
            table = table.cast(self._writer.schema)  # e.g. a column of nulls only in this chunk
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> ParquetParts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
