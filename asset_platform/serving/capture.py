"""Served traffic as production data: each answered request's rows, made durable, then landed as batches.

A request is answered only once its rows are on disk. Rows wait in a bounded in-memory buffer for
the next *group commit*, as the runtime hands them over (a small request's judged NumPy columns; no type
changes on the serving loop): one writer task takes every request buffered since its last write,
builds their Arrow columns in a thread (columns of requests judged alike joined by NumPy), writes them
as one Parquet part (a hidden name, fsync, rename to `part-<ns>.parquet`, fsync of the folder), and
only then are the requests whose rows it holds answered. Requests arriving together share one fsync,
so the cost per request falls as traffic rises. A full buffer (the disk not keeping up) or a failed
write refuses the request with 503: no row is acknowledged that is not on disk.

Once the parts hold `batch_rows` rows, or the oldest is `batch_minutes` old, they are *sealed*:
compacted into one part of a staging folder with `_sources` (the parts it holds) and `_SUCCESS`,
renamed to `<model>-served-<UTC time of its first part>.parquet/` (the commit point), the sources
deleted, and the folder renamed into the model's production landing folder, where the batch sensor
takes it like any Spark-style dataset folder. Each step is a rename or an fsync'd write, so a start
after a kill at any point (`recover`) finds hidden files (dropped: their rows are still in parts, or
their requests were never answered), sealed folders (their sources deleted, then landed) and parts
(sealed into a batch): every acknowledged row lands once. An id answered twice within one batch (a
client's retry) keeps its last row, as the batch contract wants ids unique. One server per capture
folder: a lock refuses a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import fnmatch
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asset_platform.declaration.model import SERVED_COLUMNS
from asset_platform.landing import SUCCESS_MARKER
from asset_platform.serving.compiled_rows import RequestRows, rows_table
from asset_platform.serving.metrics import batch_landed

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger("asset_platform.serving")

# Beside the contract's columns: the score answered, the version that answered, the request's inference time
# (contract check and scoring), when it was answered and the request's id (declaration/model.py reserves them).
SERVED_SCORE, SERVED_VERSION, SERVED_LATENCY_MS, SERVED_AT, SERVED_REQUEST, SERVED_CLASS = SERVED_COLUMNS
SOURCES = "_sources"  # in a sealed folder: the part files it was compacted from
_PART = "part-"
_STAGING = ".seal-"
_LOCK = ".lock"


class CaptureError(RuntimeError):
    """Rows could not be made durable: the request is refused, not acknowledged."""


class CaptureFolderInUse(RuntimeError):
    """Another server captures into the same folder."""


@dataclass(frozen=True)
class CaptureSettings:
    """Where served rows go and when they become a batch."""

    model: str
    id_column: str
    folder: Path  # parts and sealed batches not landed yet
    production: Path  # the model's production landing folder
    pattern: str = "*.parquet"  # the landing's file pattern: a batch's name must match it
    batch_rows: int = 10_000
    batch_minutes: float = 60.0
    buffer_rows: int = 50_000  # rows waiting for their write at most; more are refused with 503

    def __post_init__(self) -> None:
        sample = batch_name(self.model, 0)
        if not fnmatch.fnmatch(sample, self.pattern):
            raise ValueError(
                f"model {self.model!r}: served batches land as dataset folders named like {sample}, which its "
                f"landing pattern {self.pattern!r} does not match: declare landing.pattern '*.parquet', or serve "
                "with --no-capture"
            )
        if self.batch_rows < 1:
            raise ValueError(f"--batch-rows must be at least 1, got {self.batch_rows}")
        if not self.batch_minutes > 0:
            raise ValueError(f"--batch-minutes must be a positive number of minutes, got {self.batch_minutes:g}")
        if self.folder.resolve() == self.production.resolve():
            raise ValueError(f"--capture-dir {self.folder} is the production landing folder: choose another")


def batch_name(model: str, first_ns: int) -> str:
    """`<model>-served-<UTC time>.parquet`: a batch key of safe characters, in time order by name."""
    stamp = dt.datetime.fromtimestamp(first_ns / 1e9, dt.UTC)
    return f"{model}-served-{stamp:%Y%m%dT%H%M%S.%fZ}.parquet"


@dataclass
class _Waiting:
    """One answered request's rows and what is captured beside them, as it was handed over: the writer
    thread, not the serving loop, turns them into Arrow columns."""

    rows: RequestRows
    scores: Any
    version: str
    latency_ms: float
    at_us: int  # when it was answered, in microseconds since the epoch (pandas' clock reads microseconds)
    request: str
    done: asyncio.Future
    classes: Any = None  # a multiclass model's answered class per row (`scores` then holds its probability)


@dataclass
class TrafficCapture:
    """The capture of one served model: `open` (the lock, recovery), `start` in the serving loop, `record`
    before answering, `close` after the last answer."""

    settings: CaptureSettings
    _buffer: list[_Waiting] = field(default_factory=list, init=False)
    _buffered_rows: int = field(default=0, init=False)
    _parts: list[tuple[str, int]] = field(default_factory=list, init=False)  # durable, not sealed: (name, rows)
    _parts_rows: int = field(default=0, init=False)  # their rows
    _last_ns: int = field(default=0, init=False)
    _closing: bool = field(default=False, init=False)
    _sealers: set[asyncio.Task] = field(default_factory=set, init=False)
    _lock_handle: Any = field(default=None, init=False)

    # -- lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the writer and the batch timer in the running loop (once `open`)."""
        if self._lock_handle is None:
            raise RuntimeError("open the capture before starting it")
        self._wake = asyncio.Event()
        self._sealing = asyncio.Lock()
        self._writer_task = asyncio.create_task(self._writer())
        self._timer_task = asyncio.create_task(self._timer())

    def open(self) -> list[Path]:
        """Take the folder's lock and recover what a previous server left; the batches that landed."""
        folder, production = self.settings.folder, self.settings.production
        folder.mkdir(parents=True, exist_ok=True)
        production.mkdir(parents=True, exist_ok=True)
        if folder.stat().st_dev != production.stat().st_dev:
            raise ValueError(
                f"--capture-dir {folder} is on another file system than {production}: a batch lands by a rename, "
                "atomic only within one file system"
            )
        handle = open(folder / _LOCK, "a+")  # noqa: SIM115 - held for the life of the server
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise CaptureFolderInUse(
                f"capture folder {folder} is in use by another serve-model of model {self.settings.model!r}: "
                "give each server its own --capture-dir"
            ) from None
        self._lock_handle = handle
        return self.recover()

    def recover(self) -> list[Path]:
        """Finish what a killed server left: hidden files dropped, sealed folders landed, parts sealed."""
        folder = self.settings.folder
        for path in folder.iterdir():
            if path.name.startswith(_STAGING):
                shutil.rmtree(path)  # not sealed: its rows are still in the parts
            elif path.name.startswith(f".{_PART}"):
                path.unlink()  # a part never renamed: its requests were never answered
        _fsync_dir(folder)
        landed = self._land_sealed()
        parts = sorted(path.name for path in folder.glob(f"{_PART}*.parquet"))
        if parts:
            landed.append(self._seal(parts))
        if landed:
            logger.info(f"{self.settings.model}: landed {len(landed)} served batch(es) a previous server left")
        return landed

    async def close(self) -> None:
        """Write what is buffered, seal every part into a batch, release the folder."""
        self._closing = True
        self._wake.set()
        await self._writer_task  # it ends once the buffer is written
        self._timer_task.cancel()
        await asyncio.gather(self._timer_task, *self._sealers, return_exceptions=True)
        await self._seal_parts()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    # -- recording --------------------------------------------------------------------------------------------
    async def record(
        self,
        rows: RequestRows | pd.DataFrame,
        scores: Any,
        version: str,
        latency_s: float,
        request: str,
        classes: Any = None,
    ) -> None:
        """Return once `rows` with their scores, version and latency are on disk; `CaptureError` if they cannot be.
        A multiclass model's answer comes as `classes` (the predicted class per row) and `scores` (its probability).

        No type changes here, on the serving loop: the request is appended to the buffer as it is, and the
        writer thread builds the part's columns for every request it takes at once."""
        if self._closing:
            raise CaptureError("the server is stopping")
        if self._buffered_rows + len(rows) > self.settings.buffer_rows:
            raise CaptureError(
                f"{self._buffered_rows} served rows wait to be written to {self.settings.folder} (at most "
                f"{self.settings.buffer_rows}): the disk is not keeping up; try again shortly"
            )
        if not isinstance(rows, RequestRows):
            rows = RequestRows.of_frame(rows)
        at_us = time.time_ns() // 1000
        future = asyncio.get_running_loop().create_future()
        waiting = _Waiting(rows, scores, version, latency_s * 1000, at_us, request, future, classes)
        self._buffer.append(waiting)
        self._buffered_rows += len(rows)
        self._wake.set()
        await asyncio.shield(waiting.done)  # a client gone does not cancel the write others share

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_buffered()
            if self._closing and not self._buffer:
                return

    async def _write_buffered(self) -> None:
        taken, self._buffer = self._buffer, []
        if not taken:
            return
        rows = sum(len(waiting.rows) for waiting in taken)
        try:
            name = await asyncio.to_thread(self._write_part, taken)
        except Exception as error:  # a full or read-only disk: refuse these requests, keep serving
            logger.error(f"{self.settings.model}: served rows could not be written to {self.settings.folder}: {error}")
            for waiting in taken:
                waiting.done.set_exception(CaptureError(f"the served rows could not be written ({error})"))
        else:
            self._parts.append((name, rows))
            self._parts_rows += rows
            for waiting in taken:
                waiting.done.set_result(None)
        finally:
            self._buffered_rows -= rows
        if self._parts_rows >= self.settings.batch_rows:
            self._start_sealing()

    def _write_part(self, taken: list[_Waiting]) -> str:
        now = max(time.time_ns(), self._last_ns + 1)  # names in write order, never repeated
        self._last_ns = now
        name = f"{_PART}{now:020d}.parquet"
        _write_table(_served_table(taken), self.settings.folder / name, **_PART_OPTIONS)
        _fsync_dir(self.settings.folder)
        return name

    # -- batches ----------------------------------------------------------------------------------------------
    async def _timer(self) -> None:
        limit_ns = self.settings.batch_minutes * 60e9
        while True:
            await asyncio.sleep(min(1.0, self.settings.batch_minutes * 60))
            if self._parts and time.time_ns() - _part_ns(self._parts[0][0]) >= limit_ns:
                self._start_sealing()

    def _start_sealing(self) -> None:
        task = asyncio.create_task(self._seal_parts())
        self._sealers.add(task)  # held until done (the loop keeps weak references); `close` awaits it
        task.add_done_callback(self._sealers.discard)

    async def _seal_parts(self) -> None:
        async with self._sealing:
            if not self._parts:
                return
            taken, self._parts, self._parts_rows = self._parts, [], 0
            try:
                await asyncio.to_thread(self._land_and_seal, [name for name, _rows in taken])
            except Exception as error:  # what is left on disk is sealed or landed by the next seal or start
                folder = self.settings.folder
                left = [(name, rows) for name, rows in taken if (folder / name).exists()]
                self._parts[:0] = left
                self._parts_rows += sum(rows for _name, rows in left)
                logger.error(f"{self.settings.model}: served rows could not be sealed into a batch: {error}")

    def _land_and_seal(self, parts: list[str]) -> None:
        self._land_sealed()  # any a failed landing left
        self._seal(parts)

    def _land_sealed(self) -> list[Path]:
        folder = self.settings.folder
        return [self._land(path) for path in sorted(folder.iterdir()) if path.is_dir() and path.suffix == ".parquet"]

    def _seal(self, parts: list[str]) -> Path:
        """Compact `parts` into one sealed batch folder (its rename is the commit), then land it."""
        folder = self.settings.folder
        name = batch_name(self.settings.model, _part_ns(parts[0]))
        staging = folder / f"{_STAGING}{name}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        table = self._one_row_per_id(_read_parts([folder / part for part in parts]), name)
        _write_table(table, staging / f"{_PART}00000.parquet")
        _write_bytes(staging / SOURCES, json.dumps(parts).encode())
        _write_bytes(staging / SUCCESS_MARKER, b"")
        _fsync_dir(staging)
        sealed = folder / name
        os.rename(staging, sealed)
        _fsync_dir(folder)
        return self._land(sealed)

    def _one_row_per_id(self, table: pa.Table, name: str) -> pa.Table:
        """The last row of each id: a batch's contract wants ids unique, and a retried request answered twice."""
        import pyarrow as pa

        repeated = table.column(self.settings.id_column).to_pandas().duplicated(keep="last").to_numpy()
        if not repeated.any():
            return table
        logger.warning(
            f"{self.settings.model}: served batch {name}: {int(repeated.sum())} row(s) repeat an id answered "
            "again later in the batch; the last answer of each id is kept"
        )
        return table.filter(pa.array(~repeated))

    def _land(self, sealed: Path) -> Path:
        """Delete a sealed folder's sources, then rename it into the production landing folder."""
        folder, production = self.settings.folder, self.settings.production
        sources = sealed / SOURCES
        for part in json.loads(sources.read_text()) if sources.exists() else []:
            (folder / part).unlink(missing_ok=True)
        _fsync_dir(folder)
        target, suffix = production / sealed.name, 1
        while target.exists():  # another server's batch of the same microsecond
            suffix += 1
            target = production / f"{sealed.name.removesuffix('.parquet')}-{suffix}.parquet"
        os.rename(sealed, target)
        _fsync_dir(production)
        _fsync_dir(folder)
        logger.info(f"{self.settings.model}: served batch {target.name} landed in {production}")
        batch_landed(self.settings.model)
        return target


def _served_table(taken: list[_Waiting]) -> pa.Table:
    """The requests' rows in the order they were answered, and beside them each one's score, version, latency,
    time and id (and a multiclass model's answered class): the columns the frame of each with those columns added
    would give."""
    import numpy as np
    import pyarrow as pa

    from asset_platform.declaration.model import LANDED_AT

    # A model without a time column is timed by its batch's landing, as a landed file is.
    table = rows_table([waiting.rows for waiting in taken], without=(LANDED_AT,))
    counts = [len(waiting.rows) for waiting in taken]
    scores = np.concatenate([np.asarray(waiting.scores, dtype=np.float64).reshape(-1) for waiting in taken])

    def repeated(values: list, dtype: Any) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), counts)

    served = {
        SERVED_SCORE: pa.array(scores, from_pandas=True),
        SERVED_VERSION: pa.array(repeated([waiting.version for waiting in taken], object), type=pa.string()),
        SERVED_LATENCY_MS: pa.array(repeated([waiting.latency_ms for waiting in taken], np.float64)),
        SERVED_AT: pa.array(repeated([w.at_us for w in taken], np.int64), type=pa.timestamp("us", tz="UTC")),
        SERVED_REQUEST: pa.array(repeated([waiting.request for waiting in taken], object), type=pa.string()),
    }
    if taken[0].classes is not None:  # one served model: every request of a multiclass model has its classes
        answered = np.concatenate([np.asarray(waiting.classes, dtype=object).reshape(-1) for waiting in taken])
        served[SERVED_CLASS] = pa.array(answered, type=pa.string())
    for name, values in served.items():
        table = table.append_column(name, values)
    return table


def _part_ns(name: str) -> int:
    return int(name.removeprefix(_PART).removesuffix(".parquet"))


def _read_parts(paths: list[Path]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # A column all null in one request is typed null in its part: unified as the landing unifies a folder's.
    table = pa.concat_tables([pq.read_table(path) for path in paths], promote_options="permissive")
    return table.replace_schema_metadata(None)  # the first part's pandas dtypes are not every part's


# A part lives until its batch is sealed, which reads it once and writes the batch with Parquet's defaults:
# compressing, dictionary-encoding and gathering statistics for it cost a third of a small part's write, once
# per group commit (per request at concurrency 1), and saved nothing.
_PART_OPTIONS = {"compression": "none", "use_dictionary": False, "write_statistics": False}
# The file's data and size made durable before its rename (the folder is fsync'd after); its times need not be.
_sync_data = getattr(os, "fdatasync", os.fsync)


def _write_table(table: pa.Table, path: Path, **options: Any) -> None:
    """Write under a hidden name, fsync, rename: the file appears whole or not at all."""
    import pyarrow.parquet as pq

    hidden = path.with_name(f".{path.name}.tmp")
    with open(hidden, "wb") as handle:
        pq.write_table(table, handle, **options)
        handle.flush()
        _sync_data(handle.fileno())
    os.rename(hidden, path)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
