"""The `spark` batch engine: a production batch scored and summarized by a Spark cluster.

The work per row runs on Spark's executors through `mapInArrow`, with the same code the `local`
engine runs on its chunks (`batch_engine.scored_rows` and drift/summary.py's summarizer), so the two
engines cannot disagree: the drift summary's counts are exact and merge by addition whatever the
partitioning, and every score comes from the same featurize-and-predict call on the same rows.

Rows are given a global position (the part file's offset in name order plus Parquet's own row
index), because Spark reads the part files of a folder largest first, not in order. The predictions
are written back in that order, so a batch and its predictions stay in step as the local engine
writes them.

The champion travels to the executors as the bytes of the model the step loaded (from the DVC store,
trust-checked), with their SHA-256: an executor checks the digest and unpickles the model once per
Python worker, not once per partition. Executors must import the platform (the production image
carries it); with a remote cluster (Spark Connect), the paths read and written here must be storage
the cluster reaches at the same path (a shared volume), see README "When one machine is not enough".
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asset_platform.batch_engine import (
    ParquetParts,
    RowSample,
    ScoredBatch,
    ScoreTally,
    SummarizedBatch,
    row_count,
    row_schema,
    scored_columns,
    scored_rows,
    stream_frames,
)
from asset_platform.declaration.names import PREDICTION, SCORE_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.drift.profile import ReferenceProfile
    from asset_platform.ml.streamed_estimate import StreamedEstimate

# Hidden columns the engine adds and drops again; named so that no contract column can collide.
POSITION = "__asset_platform_position"
PARTIAL = "__asset_platform_partial"
_INSTALL_HINT = "the spark batch engine needs pyspark: pip install 'asset-platform[spark]'"
# Per Python worker: models already unpickled, by the SHA-256 of their bytes.
_LOADED: dict[str, Any] = {}


def spark_session(remote: str | None, master: str, conf: dict[str, str]) -> Any:
    """The session to run on: Spark Connect at `remote` (`sc://host:15002`), else a classic `master` URL.

    `getOrCreate`: every step of a process (and every test of a session) shares one session.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise RuntimeError(_INSTALL_HINT) from error
    builder = SparkSession.builder
    if remote:
        builder = builder.remote(remote)
    else:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise RuntimeError(
                f"the spark batch engine with master {master!r} starts a local JVM, and no Java runtime was found: "
                "install Java 17 (Debian: openjdk-17-jre-headless) or set spark_remote to a Spark Connect endpoint"
            )
        # Executors of a local master run this interpreter, the one that has the platform installed.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.master(master)
        if master.startswith("local"):
            builder = (
                builder.config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "4")
            )
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@dataclass
class ShippedModel:
    """A loaded model as bytes for the executors, with the digest they check before unpickling."""

    data: bytes
    digest: str

    @classmethod
    def of(cls, model: Any) -> ShippedModel:
        data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        return cls(data, hashlib.sha256(data).hexdigest())

    def load(self) -> Any:
        if self.digest not in _LOADED:
            if hashlib.sha256(self.data).hexdigest() != self.digest:
                raise ValueError(f"model bytes do not match their digest {self.digest}: refusing to load them")
            _LOADED[self.digest] = pickle.loads(self.data)  # noqa: S301 - bytes this job's driver pickled, checked above
        return _LOADED[self.digest]


@dataclass
class _ScoringJob:
    declaration: ModelDeclaration
    model: ShippedModel
    challenger: tuple[ShippedModel, str] | None
    background: pd.DataFrame | None
    schema: pa.Schema  # the batch's Arrow schema with its pandas metadata (as the local engine reads it)
    out_schema: pa.Schema  # the predictions' columns, as `scored_rows` gives them


@dataclass
class _SummaryJob:
    declaration: ModelDeclaration
    profile: ReferenceProfile
    schema: pa.Schema
    time_column: str


class SparkBatches:
    """Scoring and summarizing one batch on `session`, `chunk_rows` rows per Arrow batch on an executor."""

    def __init__(self, session: Any, chunk_rows: int) -> None:
        self.session = session
        self.chunk_rows = chunk_rows
        session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
        # pandas writes nanosecond timestamps, which Spark refuses to read as timestamps: read as the
        # int64 they are stored as, and cast back to the file's own type on the executor (`arrow_as_frame`).
        session.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")

    def positioned(self, path: Path) -> Any:
        """The rows of a Parquet file or dataset folder with their global position in name order (`POSITION`)."""
        from pyspark.sql import functions as F

        frame = self.session.read.parquet(str(path))
        if Path(path).is_file():  # one file (every stored batch): its own row index is the position
            return frame.select("*", F.col("_metadata.row_index").alias(POSITION))
        files = frame.select(F.col("_metadata.file_path").alias("file")).groupBy("file").count().collect()
        offsets, start = [], 0
        for row in sorted(files, key=lambda row: _path_order(row["file"])):
            offsets.append((row["file"], start))
            start += row["count"]
        starts = self.session.createDataFrame(offsets, "file string, start long")
        with_file = frame.select("*", F.col("_metadata.file_path").alias("__file"), "_metadata.row_index")
        joined = with_file.join(F.broadcast(starts), with_file["__file"] == starts["file"])
        position = (F.col("start") + F.col("row_index")).alias(POSITION)
        return joined.select(*[F.col(f"`{name}`") for name in frame.columns], position)

    def score(
        self,
        declaration: ModelDeclaration,
        model: Any,
        batch: Path,
        out: ParquetParts,
        challenger: tuple[Any, str] | None,
        background: pd.DataFrame | None,
        estimate: StreamedEstimate,
    ) -> ScoredBatch:
        """What `BatchEngine.score` gives, the scoring done by the executors (see the module docstring); the
        driver feeds `estimate` as it writes the predictions back in batch order."""
        import pyarrow as pa

        from asset_platform.ml.scoring import feature_matrix, featurize

        schema = row_schema(batch)
        probe = next(stream_frames(batch, 2))
        probe_rows, _, _ = scored_rows(declaration, model, probe, background, challenger)
        out_schema = pa.Schema.from_pandas(probe_rows, preserve_index=False).remove_metadata()
        shipped = None if challenger is None else (ShippedModel.of(challenger[0]), challenger[1])
        job = _ScoringJob(declaration, ShippedModel.of(model), shipped, background, schema, out_schema)
        staging = out.path.parent / f"{uuid.uuid4().hex}-spark"
        unsorted, ordered = staging / "scored", staging / "ordered"
        try:
            result_schema = _spark_schema(
                out_schema.append(pa.field(POSITION, pa.int64())).append(pa.field(PARTIAL, pa.binary()))
            )
            scored = self.positioned(batch).mapInArrow(partial(_score_partition, job=job), result_schema)
            scored.write.parquet(str(unsorted))  # the one scoring pass: everything after reads its output
            written = self.session.read.parquet(str(unsorted))
            partials = [pickle.loads(row[PARTIAL]) for row in written.where(f"`{PARTIAL}` IS NOT NULL").collect()]  # noqa: S301 - this job's own output
            rows = written.where(f"`{PARTIAL}` IS NULL").orderBy(POSITION).drop(POSITION, PARTIAL)
            rows.write.parquet(str(ordered))
            # The model's scores as `predict` gives them: a multiclass model's per-class columns, in class order.
            score_columns = [name for name in probe_rows.columns if name.startswith(SCORE_PREFIX)] or [PREDICTION]
            # A regression estimator's loss models read every row's inputs: built on the driver, chunk by chunk
            # in step with the predictions (both cut at exactly `chunk_rows` rows).
            regression = declaration.task == "regression" and estimate.method is not None
            inputs = stream_frames(batch, self.chunk_rows) if regression else None
            tally = ScoreTally()
            for chunk in stream_frames(ordered, self.chunk_rows):
                chunk = chunk.astype(probe_rows.dtypes.to_dict())
                scores = chunk[score_columns].to_numpy()
                scores = scores if score_columns != [PREDICTION] else scores[:, 0]
                estimate.add(scores, None if inputs is None else feature_matrix(model, featurize(model, next(inputs))))
                tally.add(scores)
                out.write(chunk)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        unseen: dict[str, int] = {}
        for found in partials:
            for name, count in found["unseen"].items():
                unseen[name] = unseen.get(name, 0) + count
        spec = declaration.explanations
        return ScoredBatch(
            rows=out.rows,
            estimate=estimate,
            tally=tally,
            unseen=unseen,
            measurable=any(found["measurable"] for found in partials),
            attribution_sample=self.attribution_sample(batch, spec.sample_rows, probe) if spec.enabled else None,
        )

    def attribution_sample(self, batch: Path, rows: int, empty: pd.DataFrame) -> pd.DataFrame:
        """The rows `RowSample` takes from the whole batch, fetched by their positions."""
        import numpy as np
        from pyspark.sql import functions as F

        from asset_platform.batch_engine import _ATTRIBUTION_SEED

        sample = RowSample(row_count(batch), rows, _ATTRIBUTION_SEED)
        if not len(sample.order):
            return empty.iloc[:0]
        wanted = self.session.createDataFrame([(int(p),) for p in sample.sorted], f"`{POSITION}` long")
        found = self.positioned(batch).join(F.broadcast(wanted), POSITION).orderBy(POSITION).toArrow()
        frame = arrow_as_frame(found, row_schema(batch))  # in position order; pandas' sample order below
        return frame.iloc[np.searchsorted(sample.sorted, sample.order)].reset_index(drop=True)

    def summarize(
        self, declaration: ModelDeclaration, profile: ReferenceProfile, batch: Path, predictions: Path
    ) -> SummarizedBatch:
        """What `BatchEngine.summarize` gives: per-partition summaries from the executors, merged here."""
        import pandas as pd
        import pyarrow as pa

        from asset_platform.drift.summary import summarize_frames

        numeric, categorical = declaration.feature_columns()
        time = declaration.event_time_column
        file_schema, scored_schema = row_schema(batch), row_schema(predictions)
        wanted = [*profile.features, *numeric, *categorical, time]
        # The prediction, or a multiclass model's predicted class and per-class scores (ml/scoring.py).
        predicted = [PREDICTION, *(name for name in scored_schema.names if name.startswith(SCORE_PREFIX))]
        columns = [name for name in dict.fromkeys(wanted) if name in file_schema.names and name not in predicted]
        fields = [*(file_schema.field(name) for name in columns), *(scored_schema.field(name) for name in predicted)]
        schema = pa.schema(fields, metadata=file_schema.metadata)  # as `stream_frames` reads the columns
        rows = self.positioned(batch).select(*[f"`{name}`" for name in columns], POSITION)
        scores = self.positioned(predictions).select(*[f"`{name}`" for name in predicted], POSITION)
        job = _SummaryJob(declaration, profile, schema, time)
        joined = rows.join(scores, POSITION, "left").drop(POSITION)
        found = joined.mapInArrow(partial(_summarize_partition, job=job), f"`{PARTIAL}` binary").collect()
        partials = [pickle.loads(row[PARTIAL]) for row in found]  # noqa: S301 - this job's own output
        # The partitions' summaries merged onto that of no rows: a batch of no rows (no partition) still
        # records its missing and non-numeric columns, as the local engine does.
        summary = summarize_frames(profile, [arrow_as_frame(schema.empty_table(), schema)])
        for part in partials:
            summary = summary.merge(part["summary"])
        times = [part["earliest"] for part in partials if part["earliest"] is not None]
        earliest = pd.Series(times).min() if times else None
        start = None if earliest is None or pd.isna(earliest) else earliest
        first = next(stream_frames(predictions, 1, scored_columns(predicted, scored_schema.names)))
        return SummarizedBatch(summary, any(part["measurable"] for part in partials), start, first.head(1))


def _score_partition(batches: Iterator[pa.RecordBatch], job: _ScoringJob) -> Iterator[pa.RecordBatch]:
    """On an executor: score each Arrow batch of one partition, then one row of what the driver merges."""
    import pyarrow as pa

    from asset_platform.drift.emptiness import nothing_to_measure
    from asset_platform.ml.scoring import unseen_categories

    model = job.model.load()
    challenger = None if job.challenger is None else (job.challenger[0].load(), job.challenger[1])
    unseen: dict[str, int] = {}
    measurable = False
    for batch in batches:
        table = pa.Table.from_batches([batch])
        chunk = arrow_as_frame(table.drop_columns([POSITION]), job.schema)
        rows, _, _ = scored_rows(job.declaration, model, chunk, job.background, challenger)
        for name, count in unseen_categories(model, chunk).items():
            unseen[name] = unseen.get(name, 0) + count
        measurable = measurable or (len(chunk) > 0 and nothing_to_measure(job.declaration, chunk) is None)
        scored = pa.Table.from_pandas(rows, schema=job.out_schema, preserve_index=False)
        scored = scored.append_column(POSITION, table[POSITION])
        scored = scored.append_column(PARTIAL, pa.nulls(len(rows), pa.binary()))
        yield from scored.to_batches()
    found = pickle.dumps({"unseen": unseen, "measurable": measurable})
    columns = {field.name: pa.nulls(1, field.type) for field in job.out_schema}
    yield pa.RecordBatch.from_pydict({**columns, POSITION: pa.nulls(1, pa.int64()), PARTIAL: [found]})


def _summarize_partition(batches: Iterator[pa.RecordBatch], job: _SummaryJob) -> Iterator[pa.RecordBatch]:
    """On an executor: one partition's drift summary (and what else the drift step reads), as one row."""
    import pandas as pd
    import pyarrow as pa

    from asset_platform.drift.emptiness import nothing_to_measure
    from asset_platform.drift.summary import summarize_frames

    measurable, times = False, []

    def chunks() -> Iterator[pd.DataFrame]:
        nonlocal measurable
        seen = False
        for batch in batches:
            chunk = arrow_as_frame(pa.Table.from_batches([batch]), job.schema)
            seen = True
            measurable = measurable or (len(chunk) > 0 and nothing_to_measure(job.declaration, chunk) is None)
            if job.time_column in chunk and len(chunk):
                times.append(chunk[job.time_column].min())
            yield chunk
        if not seen:  # an empty partition: a summary of no rows, which merges as nothing
            yield arrow_as_frame(job.schema.empty_table(), job.schema)

    summary = summarize_frames(job.profile, chunks())
    earliest = pd.Series(times).min() if times else None
    found = {"summary": summary, "measurable": measurable, "earliest": earliest}
    yield pa.RecordBatch.from_pydict({PARTIAL: [pickle.dumps(found)]})


def arrow_as_frame(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    """Spark's Arrow rows as the pandas frame the local engine reads from the file: its types and metadata."""
    return table.select(schema.names).cast(schema).to_pandas()


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _path_order(uri: str) -> tuple[str, ...]:
    """A part file's place in name order, as `dataset_folders.part_files` sorts local paths."""
    from pathlib import PurePosixPath
    from urllib.parse import unquote, urlparse

    return PurePosixPath(unquote(urlparse(uri).path)).parts
