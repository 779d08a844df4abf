"""A child process for the SIGKILL test: it stores a big frame and stalls at a chosen point.

    python -m tests.storage.killable_writer WORKSPACE READY_FILE POINT

When the write reaches POINT it creates READY_FILE and sleeps, so the parent kills
it with SIGKILL exactly while that step is in progress.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from asset_platform.storage import AssetStore, catalog, hashing, remote

# Long enough for any parent to notice the ready file; the parent kills well before.
_STALL_S = 120


def big_frame(rows: int = 400_000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame({"id": np.arange(rows), "value": rng.normal(size=rows), "label": rng.choice(["a", "b"], rows)})


def _stall(ready: Path) -> None:
    ready.touch()
    time.sleep(_STALL_S)


def _patch(point: str, ready: Path) -> None:
    """Make the store stall at `point`: mid-Parquet write, mid-push, or between pointer and LATEST."""
    if point == "parquet-write":
        original_write = hashing.HashingWriter.write

        def write(self, data) -> int:
            written = original_write(self, data)
            if self.size > 1_000_000:  # part of the file is on disk, the rest is not
                self.flush()
                _stall(ready)
            return written

        hashing.HashingWriter.write = write
    elif point == "remote-push":
        remote.DvcRemote.push = lambda self, objects: _stall(ready)
    elif point == "publish":
        original = catalog._write_atomically

        def write_atomically(path: Path, text: str) -> None:
            if path.name == "LATEST":
                _stall(ready)
            original(path, text)

        catalog._write_atomically = write_atomically
    else:
        raise SystemExit(f"unknown point {point!r}")


if __name__ == "__main__":
    workspace, ready, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    _patch(point, ready)
    AssetStore(workspace).put(["big"], big_frame(), run_id="killed")
    sys.exit("the writer finished: it should have been killed first")
