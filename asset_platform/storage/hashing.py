"""md5 of stored bytes, computed while they are written rather than in a second pass."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

_CHUNK = 4 * 1024 * 1024


def md5_file(path: os.PathLike | str) -> str:
    """The md5 of a file's bytes, as DVC 3 computes it (no dos2unix conversion)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashingWriter:
    """A write-only file object that hashes every byte on its way to disk.

    Writers such as pyarrow's Parquet writer stream sequentially, so hashing in
    the same pass saves re-reading the whole file: the measured reason this
    exists instead of `md5_file` after the write (see benchmarks/storage.py).
    """

    def __init__(self, path: Path):
        self._handle: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._digest = hashlib.md5()
        self._size = 0
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self._digest.update(view)
        self._size += len(view)
        return self._handle.write(view)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        self._handle.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        # No fsync, as in DVC itself: a process killed mid-write never publishes
        # (the rename comes after), and an object cut short by a power loss fails
        # the size check on its next load and is refetched from the remote. An
        # fsync here cost about as much as the whole md5 pass (benchmarks/storage.py).
        if not self.closed:
            self._handle.close()
            self.closed = True

    @property
    def md5(self) -> str:
        return self._digest.hexdigest()

    @property
    def size(self) -> int:
        return self._size

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
