"""The one Spark session of a test run: `spark local[2]` behind the `spark` batch engine.

Every test that uses Spark goes through `spark_engine`; `getOrCreate` gives them one JVM
(about 10 s to start here), started by the first and kept for the rest of the run.
"""

from __future__ import annotations

from asset_platform.batch_engine import BatchEngine

# Two executor threads: this machine's cores, and enough to split a batch across partitions.
SPARK_MASTER = "local[2]"


def spark_engine(chunk_rows: int = 131_072) -> BatchEngine:
    return BatchEngine(engine="spark", chunk_rows=chunk_rows, spark_master=SPARK_MASTER)
