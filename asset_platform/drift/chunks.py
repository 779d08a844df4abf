"""Reading a stored Parquet file or dataset folder in chunks of exactly so many rows.

What the batch engine (batch_engine/) and the reference profile's sketched path (drift/sketches.py)
both read with. It imports pandas and pyarrow only when called: the code location imports the batch
engine without loading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def row_schema(path: Path) -> Any:
    """The Arrow schema of a Parquet file or dataset folder."""
    from asset_platform.drift.summary import open_dataset

    return open_dataset(Path(path)).schema


def stream_frames(path: Path, chunk_rows: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """Consecutive frames of exactly `chunk_rows` rows (the last one fewer) of `path`'s `columns` (None: all).

    A file of no rows gives one empty frame with its columns. Each frame is built with the file's pandas
    metadata, so its dtypes are those `pd.read_parquet` gives for the whole file.
    """
    import pyarrow as pa

    from asset_platform.drift.summary import open_dataset, record_batches

    dataset = open_dataset(Path(path))
    # The file's pandas metadata is kept for a subset too: dtypes (a nullable "Int64") are those
    # `pd.read_parquet(path, columns=...)` gives.
    schema = dataset.schema
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns], metadata=schema.metadata)
    pending: list[Any] = []
    held = 0
    for batch in record_batches(Path(path), dataset, columns, chunk_rows):
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, chunk_rows).to_pandas()
            rest = table.slice(chunk_rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held or not dataset.count_rows():
        yield pa.Table.from_batches(pending, schema=schema).to_pandas()


def row_count(path: Path) -> int:
    """Rows of a Parquet file or dataset folder, from its metadata."""
    from asset_platform.drift.summary import open_dataset

    return open_dataset(Path(path)).count_rows()


def read_dtypes(path: Path) -> dict[str, Any]:
    """The dtype of each column as `pd.read_parquet` gives it for the whole file or folder.

    A chunk alone can disagree: an integer column with a null somewhere is float64 read whole but int64 in a
    chunk without one, and a flag column with a null is object whole but bool in such a chunk.
    """
    import numpy as np
    import pyarrow.dataset as ds

    from asset_platform.drift.summary import open_dataset

    dataset = open_dataset(Path(path))
    dtypes = dict(dataset.schema.empty_table().to_pandas().dtypes.items())
    for name, dtype in dtypes.items():
        # numpy integers and bools hold no null (nullable extension dtypes such as "Int64" do, and stay)
        numpy_exact = isinstance(dtype, np.dtype) and dtype.kind in "iub" and name in dataset.schema.names
        if numpy_exact and dataset.count_rows(filter=ds.field(name).is_null()) > 0:
            dtypes[name] = np.dtype(np.float64) if dtype.kind in "iu" else np.dtype(object)
    return dtypes


def frames_as_read(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """`stream_frames` of every column, each chunk in the dtypes the whole file is read with (`read_dtypes`)."""
    import pandas as pd

    # A categorical column keeps each chunk's own categories: read whole, its categories are those of every
    # chunk, which no empty schema holds (cast to the empty one, every value would become missing).
    dtypes = {name: dtype for name, dtype in read_dtypes(path).items() if not isinstance(dtype, pd.CategoricalDtype)}
    for chunk in stream_frames(path, chunk_rows):
        differ = {name: dtype for name, dtype in dtypes.items() if name in chunk and chunk[name].dtype != dtype}
        yield chunk.astype(differ) if differ else chunk
