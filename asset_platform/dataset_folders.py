"""What in a dataset folder is data: one rule for the landing zone and the streaming drift summary.

A batch, its labels or a history file may land as a folder of Parquet part files
(Spark, Dask and Polars write `events.parquet/part-*.parquet`, also under
`col=value/`). It imports nothing of the platform, so every layer may use it.
"""

from __future__ import annotations

from pathlib import Path


def part_files(folder: Path) -> list[Path]:
    """The Parquet part files of a dataset folder, in name order.

    Writers' bookkeeping is not data: names starting with `_` (`_SUCCESS`, `_committed_*`, `_temporary/`)
    or `.` (`.part-*.crc` checksums, files being written), `.crc` files, and links (which could reach outside).
    """
    parts = []
    for path in sorted(folder.rglob("*.parquet")):
        if any(name.startswith(("_", ".")) for name in path.relative_to(folder).parts):
            continue
        if path.is_file() and not path.is_symlink():
            parts.append(path)
    return parts
