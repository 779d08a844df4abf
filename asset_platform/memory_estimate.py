"""How much memory a step needs to take in a landed data file, estimated without reading its data.

A Parquet file's footer gives its row count and, per column, its type and
uncompressed size; pandas holds a number in 8 bytes and a string as a Python
object (about 50 bytes plus its characters). The `<model>/batches` step holds
the frame read and the validated frame it returns, so its peak is about twice
the frame (benchmarks/batch_memory.py measured 1.4-1.65 GiB for a 2M-row batch
of the e-commerce example; this estimate gives 1.4 GiB). A CSV has no metadata:
its frame is taken as four times the file's size.
"""

from __future__ import annotations

from pathlib import Path

# The step holds the frame as read and its validated copy.
_STEP_COPIES = 2
# A Python str object's header, beyond its characters.
_STR_OVERHEAD = 49
_CSV_EXPANSION = 4


def estimated_step_bytes(path: Path) -> int:
    """Bytes a step is expected to peak at while it reads and checks the data file `path`."""
    if path.suffix != ".parquet":
        return path.stat().st_size * _CSV_EXPANSION * _STEP_COPIES
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)
    rows = metadata.num_rows
    schema = metadata.schema.to_arrow_schema()
    text = {name for name in schema.names if _is_text(schema.field(name).type)}
    frame = 0
    for name in schema.names:
        kind = schema.field(name).type
        if name in text:
            frame += rows * (8 + _STR_OVERHEAD)  # the pointer and the object header
        elif _fixed(kind):
            frame += rows * max(kind.bit_width // 8, 1)
        else:  # nested values: as many objects as rows, at least
            frame += rows * (8 + _STR_OVERHEAD)
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            if column.path_in_schema in text:
                frame += column.total_uncompressed_size  # the characters themselves
    return frame * _STEP_COPIES


def _is_text(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)


def _fixed(kind) -> bool:
    try:
        return kind.bit_width > 0
    except ValueError:  # nested and variable-width types
        return False
