"""The landing folders where upstream systems drop data files, as a Dagster resource.

Each declared model has its own landing folder (by default `<landing root>/<name>/`):

| subfolder     | holds                                                               |
| ------------- | ------------------------------------------------------------------- |
| `history/`    | labeled files the baseline trains on                                |
| `production/` | one file per production batch, without the label                    |
| `labels/`     | the delayed labels of a batch: same file name, id and label columns |
| `quarantine/` | files that could not be used, each next to a `.reason.txt` note     |

Only regular files count (a symlink only when it resolves inside the landing
folder); anything else matching the pattern, and files whose names cannot be
batch keys, are moved to quarantine with a note: kept for people to inspect,
never deleted, never picked up again. A problem with one file never stops the
scan of the others.

A file is taken only once it is stable. The convention: write it under a name
starting with `.` (ignored while hidden) and rename it to its final name when
complete; a rename is atomic, so it is taken at once. Writers that cannot
rename write in place: a file modified less than `landing.settle_seconds` ago
(default a few seconds) is left alone, named as settling, unless it is visibly
complete (a Parquet file ending with its footer's magic bytes), and a file whose
size or modification time changed since the previous scan is settling whatever
its age. A settling file is taken on a later scan, never quarantined.

A batch may also land as a dataset folder named like a Parquet file
(`events.parquet/`), the layout Spark and other distributed writers produce:
Parquet part files (`part-*.parquet`, in `col=value/` subfolders too) beside
bookkeeping that is not data (`_SUCCESS`, `_committed_*`, `.crc` and hidden
files). The writer adds `_SUCCESS` last: until then the folder is settling, and
one still without it after `unfinished_folder_hours` unchanged (its job died) is
quarantined, as is a complete folder with no part files. The parts are read as
one table, their schemas unified (a column missing from a part is null there);
parts whose types disagree fail the read, naming the folder and the columns.
A folder's identity is the md5 of its parts' names and md5s, in name order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from asset_platform.dataset_folders import part_files
from asset_platform.storage.hashing import md5_file
from asset_platform.storage.keys import UnsafeKeyError, safe_segment

if TYPE_CHECKING:
    import pandas as pd

    from asset_platform.declaration import ModelDeclaration


_log = logging.getLogger(__name__)
# What a step pod may use (the Helm chart gives non-training pods 2 GiB): larger batches fail fast.
DEFAULT_STEP_MEMORY_MB = 2048
# A file is taken once unchanged this long (landing.settle_seconds' default): writers in place pause briefly.
DEFAULT_SETTLE_SECONDS = 5.0
# The marker a Spark-style writer adds to a dataset folder once every part file is committed.
SUCCESS_MARKER = "_SUCCESS"
# A dataset folder without its marker, unchanged this long, was left by a writer that died (a Spark job
# retried after a failure writes the folder again from scratch, well within a day).
DEFAULT_UNFINISHED_FOLDER_HOURS = 24.0


class BatchFileError(ValueError):
    """A landed file that cannot be read as a batch (empty, not Parquet, unreadable)."""


class BatchTooLargeError(RuntimeError):
    """A batch whose estimated footprint exceeds the memory a step may use: the file is fine, left in place."""


class LandingZone(dg.ConfigurableResource):
    """The landing root; each declared model's folder is found under it (or where it says)."""

    root: str = Field(description="Folder holding one landing folder per declared model.")
    step_memory_mb: int = Field(
        default=DEFAULT_STEP_MEMORY_MB,
        ge=1,
        description="Memory one step may use to take in a batch read whole (the step pods' limit: 2 GiB in the "
        "Helm chart); a batch estimated to need more (from its Parquet metadata) fails at once, naming its size. "
        "A Parquet batch bigger than the batch engine's chunk is checked chunk by chunk instead.",
    )
    unfinished_folder_hours: float = Field(
        default=DEFAULT_UNFINISHED_FOLDER_HOURS,
        gt=0,
        description=f"A dataset folder (`<batch>.parquet/` of part files, as Spark writes) is taken once its "
        f"`{SUCCESS_MARKER}` marker appears; one still without it after this many hours unchanged (its writer "
        "stopped before it finished) is moved to quarantine with a note.",
    )

    def for_model(self, declaration: ModelDeclaration) -> ModelLanding:
        spec = declaration.landing
        folder = Path(spec.folder) if spec.folder else Path(declaration.name)
        folder = folder if folder.is_absolute() else Path(self.root) / folder
        return ModelLanding(
            model=declaration.name,
            folder=folder,
            history=folder / spec.history,
            production=folder / spec.production,
            labels=folder / spec.labels,
            pattern=spec.pattern,
            id_column=declaration.id_column,
            label_column=declaration.label_column,
            settle_seconds=spec.settle_seconds,
            step_memory_mb=self.step_memory_mb,
            unfinished_folder_hours=self.unfinished_folder_hours,
            declaration=declaration,
        )


@dataclass(frozen=True)
class ScanResult:
    """Usable batch files, the files the scan moved to quarantine (with why), and files still settling."""

    files: list[Path]
    quarantined: list[str] = field(default_factory=list)
    # Files modified less than `settle_seconds` ago, or changed since the previous scan, and dataset folders
    # without their `_SUCCESS` marker: taken on a later scan.
    settling: list[str] = field(default_factory=list)
    # name -> [size, mtime_ns] of every candidate seen (`landed_signature`): what the next scan compares with.
    observed: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelLanding:
    """One model's landing folders and how to read them."""

    model: str
    folder: Path
    history: Path
    production: Path
    labels: Path
    pattern: str
    id_column: str
    label_column: str
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    # Memory a step may use to take in a batch (MiB); None: unchecked.
    step_memory_mb: int | None = None
    # A dataset folder without its `_SUCCESS` marker is quarantined once unchanged this long.
    unfinished_folder_hours: float = DEFAULT_UNFINISHED_FOLDER_HOURS
    # The model's declaration: labeled production batches are checked against its contract before
    # retraining reads them (one bad batch is skipped and named, never fails the whole read).
    declaration: ModelDeclaration | None = field(default=None, compare=False, repr=False)

    @property
    def quarantine(self) -> Path:
        return self.folder / "quarantine"

    def ensure(self) -> ModelLanding:
        for folder in (self.history, self.production, self.labels):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def history_files(self) -> list[Path]:
        """History files in name (= date) order; an empty or missing folder is an error."""
        files = self.scan(self.history).files
        if not files:
            raise FileNotFoundError(
                f"model {self.model}: no data files ({self.pattern}) in {self.history}: land the labeled "
                "history there (or run `asset-platform generate` for a demo model)"
            )
        return files

    def scan(self, folder: Path, previous: dict[str, list[int]] | None = None) -> ScanResult:
        """The usable, settled files of `folder` in name order; unusable ones are quarantined on the way.

        `previous`: the `observed` of the previous scan of this folder; a file whose size or modification
        time differs from it is still being written. Each file is judged on its own: an error inspecting or
        moving one is reported with its name and the scan goes on with the next.
        """
        if not folder.is_dir():
            return ScanResult([])
        try:
            candidates = sorted(folder.glob(self.pattern))
        except OSError as error:  # an unreadable folder: nothing usable, said why
            return ScanResult([], [f"{folder}: cannot be listed ({error})"])
        files, moved, settling, observed = [], [], [], {}
        now = time.time()
        for path in candidates:
            if path.name.startswith("."):
                continue  # still being written, renamed when complete
            try:
                problem = self._problem(path)
            except (OSError, RuntimeError) as error:  # a symlink loop, a file vanishing mid-scan
                problem = f"cannot be inspected ({error})"
            if problem is None:
                try:
                    observed[path.name] = now_seen = landed_signature(path)
                    state, problem = self._readiness(path, now_seen, (previous or {}).get(path.name), now)
                except OSError:
                    continue  # vanished since the listing: nothing to take or move
                if state == "take":
                    files.append(path)
                if state != "problem":
                    if state == "settling":
                        settling.append(f"{path.name} ({problem})")
                    continue
            try:
                target = self.quarantine_file(path, f"{path.name}: {problem}")
                moved.append(f"{path.name} ({problem}) → {target}")
            except OSError as error:  # a read-only landing folder must not stop the scan
                moved.append(f"{path.name} ({problem}); could not be quarantined: {error}")
        return ScanResult(files, moved, settling, observed)

    def _readiness(self, path: Path, seen: list[int], before: list[int] | None, now: float) -> tuple[str, str | None]:
        """("take", None), ("settling", why), ("problem", why: quarantined) or ("gone", None) for a usable name."""
        if path.is_dir():
            return self._folder_readiness(path, seen, now)
        if before is not None and list(before) != seen:
            return "settling", "size or modification time changed since the previous scan"
        age = self._age(path, now)
        if age is None:
            return "gone", None
        if age < self.settle_seconds and not _visibly_complete(path):
            return "settling", (f"modified {max(age, 0):.0f} s ago; taken once unchanged for {self.settle_seconds:g} s")
        return "take", None

    def _folder_readiness(self, path: Path, seen: list[int], now: float) -> tuple[str, str | None]:
        """A dataset folder is complete once its writer added `_SUCCESS` (written last, so nothing to wait for)."""
        hours = self.unfinished_folder_hours
        if not (path / SUCCESS_MARKER).is_file():
            if now - seen[1] / 1e9 < hours * 3600:
                return "settling", (
                    f"a dataset folder without {SUCCESS_MARKER}: waits for {SUCCESS_MARKER}, which its writer adds "
                    f"once every part is written; quarantined if it stays unchanged without it for {hours:g} h"
                )
            return "problem", (
                f"a dataset folder still without {SUCCESS_MARKER} after {hours:g} h unchanged: the job that wrote "
                "it stopped before it finished"
            )
        if not part_files(path):
            return "problem", f"a dataset folder with {SUCCESS_MARKER} but no part files (*.parquet)"
        return "take", None

    def _age(self, path: Path, now: float) -> float | None:
        """Seconds since `path` (and, for a link, its target) last changed; None if it is gone."""
        if self.settle_seconds <= 0:
            return float("inf")
        try:
            changed = max(path.stat().st_mtime, path.lstat().st_mtime)
        except OSError:
            return None
        return now - changed

    def _problem(self, path: Path) -> str | None:
        try:
            safe_segment(path.stem, "batch key")
            if not path.stem.isprintable():  # a trailing newline passes a `$`-anchored pattern
                raise UnsafeKeyError(path.stem)
        except UnsafeKeyError:
            return "its name cannot be a batch key (letters, digits and '_.=@+-' only, at most 200 characters)"
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(self.folder.resolve()) or not target.is_file():
                return "a symbolic link to something outside the landing folder or not a regular file"
            return None
        if is_dataset_folder(path):
            return None  # judged by its `_SUCCESS` marker and part files
        if not path.is_file():
            return "not a regular file (a folder, pipe or device)"
        return None

    def production_batches(self, previous: dict[str, list[int]] | None = None) -> ScanResult:
        return self.scan(self.production, previous)

    def labeled_batches(self) -> list[str]:
        """Batch keys (file stems) that have both their batch file and their settled labels file."""
        labels = {path.name for path in self.scan(self.labels).files}
        return [path.stem for path in self.production_batches().files if path.name in labels]

    def batch_path(self, key: str) -> Path:
        return self.production / f"{safe_segment(key, 'batch key')}{_suffix(self.pattern)}"

    def labels_path(self, key: str) -> Path:
        return self.labels / f"{safe_segment(key, 'batch key')}{_suffix(self.pattern)}"

    def read_batch(self, key: str) -> pd.DataFrame:
        path = self.batch_path(key)
        self._check_fits(path, key)
        return self.with_landing_time(read_table(path, f"model {self.model} batch {key}"), path)

    def with_landing_time(self, frame: pd.DataFrame, path: Path) -> pd.DataFrame:
        """Rows of a model declared without a time column, each timed by its file's landing.

        The landing time is the file's modification time: a write-then-rename keeps
        the time it was written, so it is when the file arrived. Scoring and
        retraining read the same file, so both see the same time.
        """
        if self.declaration is None or self.declaration.time_column is not None:
            return frame
        import pandas as pd

        from asset_platform.declaration.model import LANDED_AT

        landed = pd.Timestamp(path.stat().st_mtime_ns, unit="ns", tz="UTC")
        return frame.assign(**{LANDED_AT: landed})

    def _check_fits(self, path: Path, key: str) -> None:
        """Fail before reading a batch whose estimated footprint exceeds the step's memory (`step_memory_mb`)."""
        from asset_platform.memory_estimate import estimated_step_bytes

        if self.step_memory_mb is None or not (path.is_file() or is_dataset_folder(path)):
            return  # a missing file is read_table's error to name
        try:  # a dataset folder's parts become one frame: the sum of their footers' estimates
            needed = sum(estimated_step_bytes(part) for part in (part_files(path) if path.is_dir() else [path]))
        except Exception:  # an unreadable footer: read_table names the file and quarantines it
            return
        if needed > self.step_memory_mb * 2**20:
            raise BatchTooLargeError(
                f"model {self.model} batch {key}: {path.name} needs about {needed / 2**30:.2f} GiB to take in "
                f"(estimated from its metadata), more than the {self.step_memory_mb} MiB a step may use: raise "
                "the landing resource's step_memory_mb (and the step pods' memory limit with it), or land the "
                "batch as smaller files"
            )

    def read_labels(self, key: str) -> pd.DataFrame:
        labels = read_table(self.labels_path(key), f"model {self.model} labels of batch {key}")
        missing = {self.id_column, self.label_column} - set(labels.columns)
        if missing:
            raise BatchFileError(f"model {self.model} labels of batch {key}: missing column(s) {sorted(missing)}")
        return resolve_duplicate_ids(labels[[self.id_column, self.label_column]], self.id_column, what=f"{key}")

    def read_history(self) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
        """History plus every labeled production batch, the md5 of each file read, and skipped batches.

        Labeled production batches let retraining learn from recent data. A batch
        that cannot be joined to its labels, or that breaks the contract (a batch
        not scored yet has not been checked), is skipped and named, never fails
        the whole read. The md5s are the raw versions a model's lineage ends at.
        """
        import pandas as pd

        frames, sources, skipped = [], {}, []
        for path in self.history_files():
            frames.append(
                self.with_landing_time(read_table(path, f"model {self.model} history file {path.name}"), path)
            )
            sources[f"history/{path.name}"] = landed_md5(path)
        for key in self.labeled_batches():
            try:
                frame = self.labeled_batch(key)
                self._check_contract(key, frame)
            except (BatchFileError, KeyError, ValueError, OSError) as error:
                skipped.append(f"{key}: {error}")
                continue
            frames.append(frame)
            sources[f"production/{self.batch_path(key).name}"] = landed_md5(self.batch_path(key))
            sources[f"labels/{self.labels_path(key).name}"] = landed_md5(self.labels_path(key))
        return pd.concat(frames, ignore_index=True), sources, skipped

    def _check_contract(self, key: str, frame: pd.DataFrame) -> None:
        if self.declaration is None:
            return
        from asset_platform.declaration.contract import contract_schema, normalize_times
        from asset_platform.validation.checks import check_against_schema

        schema = contract_schema(self.declaration, with_label=True)
        report = check_against_schema(normalize_times(frame, self.declaration), schema)
        if not report.passed:
            raise BatchFileError(f"labeled batch {key} breaks the data contract: {report.summary()}")

    def labeled_batch(self, key: str) -> pd.DataFrame:
        """A production batch joined with its delayed labels (a label column in the batch itself is dropped)."""
        batch = self.read_batch(key).drop(columns=[self.label_column], errors="ignore")
        labels = self.read_labels(key)
        joined = batch.merge(labels, on=self.id_column, how="inner")
        if joined.empty:
            raise BatchFileError(f"labels of batch {key} match none of its {len(batch)} rows")
        return joined

    def quarantine_file(self, path: Path, reason: str) -> Path:
        """Move a bad file aside with a note; returns its new path. A symlink moves, not its target."""
        self.quarantine.mkdir(parents=True, exist_ok=True)
        name = path.name if len(path.name) <= 200 else path.name[:200]
        target = self.quarantine / name
        if target.exists() or target.is_symlink():
            target = self.quarantine / f"{name}.{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}"
        os.replace(path, target)
        target.with_name(target.name + ".reason.txt").write_text(f"{reason}\n{_advice(self, path.parent)}\n")
        return target


def resolve_duplicate_ids(labels: pd.DataFrame, id_column: str, what: str) -> pd.DataFrame:
    """One label per id, the file's last one (a correction appended to the file wins), with a warning.

    Performance and retraining both read labels through here, so both see the same labels; how many
    rows were dropped is kept in `attrs["duplicate_ids"]` for the step that reports it.
    """
    duplicated = int(labels[id_column].duplicated(keep="last").sum())
    if duplicated:
        _log.warning(
            "labels of batch %s: %d row(s) repeat an id already labeled; the last label of each id is used",
            what,
            duplicated,
        )
        labels = labels.drop_duplicates(id_column, keep="last")
    labels.attrs["duplicate_ids"] = duplicated
    return labels


def _advice(landing: ModelLanding, folder: Path) -> str:
    """What to do about a quarantined file, written in its note."""
    return (
        f"What to do: fix the file (or what wrote it) and land it again in {folder}, under a name of letters, "
        "digits and '_.=@+-'. A file quarantined while it was still being written: write it under a name "
        "starting with '.' and rename it when complete, or raise landing.settle_seconds in the declaration of "
        f"model {landing.model} (now {landing.settle_seconds:g} s)."
    )


def is_dataset_folder(path: Path) -> bool:
    """A folder named like a Parquet file (`events.parquet/`): a dataset of part files, as Spark writes one."""
    return path.suffix == ".parquet" and path.is_dir() and not path.is_symlink()


def landed_signature(path: Path) -> list[int]:
    """[size, modification time in ns] of a landed file; a change means it is being written or was rewritten.

    For a dataset folder: the total size of every file in it and the newest change of the folder or any entry
    (a part added, rewritten or removed, `_SUCCESS` written or removed).
    """
    stat = path.stat()
    if not _is_dir_stat(stat):
        return [stat.st_size, stat.st_mtime_ns]
    size, newest = 0, stat.st_mtime_ns
    for entry in path.rglob("*"):
        entry_stat = entry.lstat()
        newest = max(newest, entry_stat.st_mtime_ns)
        if not _is_dir_stat(entry_stat):
            size += entry_stat.st_size
    return [size, newest]


def landed_md5(path: Path) -> str:
    """The md5 of a landed file, the version a batch is known by.

    For a dataset folder: the md5 of its part files' relative names and md5s in name order, so a part
    rewritten, added or removed is a new version, and the bookkeeping files are not part of it.
    """
    if not path.is_dir():
        return md5_file(path)
    digest = hashlib.md5()
    for part in part_files(path):
        digest.update(f"{part.relative_to(path).as_posix()}\t{md5_file(part)}\n".encode())
    return digest.hexdigest()


def _is_dir_stat(stat: os.stat_result) -> bool:
    import stat as kinds

    return kinds.S_ISDIR(stat.st_mode)


def _visibly_complete(path: Path) -> bool:
    """A Parquet file ending with the footer's magic bytes: written to the end, whatever its age.

    Parquet writers write the footer last, so a file still being written in place
    does not end with it; renamed files (the convention) are taken at once.
    Other formats cannot tell, and wait `settle_seconds`.
    """
    if path.suffix != ".parquet":
        return False
    try:
        with open(path, "rb") as handle:
            if handle.seek(0, os.SEEK_END) < 12:
                return False
            handle.seek(-4, os.SEEK_END)
            return handle.read(4) == b"PAR1"
    except OSError:
        return False


def _suffix(pattern: str) -> str:
    return Path(pattern).suffix or ".parquet"


def read_table(path: Path, what: str) -> pd.DataFrame:
    """Read a Parquet (or CSV, by suffix) data file; every failure is a `BatchFileError` naming it."""
    import pandas as pd

    if not path.exists():
        raise BatchFileError(f"{what}: file {path} does not exist")
    if is_dataset_folder(path):
        return _read_dataset_folder(path, what)
    if not path.is_file():
        raise BatchFileError(f"{what}: {path.name} is not a regular file")
    if path.stat().st_size == 0:
        raise BatchFileError(f"{what}: file {path.name} is empty")
    try:
        return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for damaged files
        raise BatchFileError(f"{what}: {path.name} is not a readable data file ({error})") from error


def _read_dataset_folder(folder: Path, what: str) -> pd.DataFrame:
    """A dataset folder's part files as one frame, in part name order, their schemas unified.

    A column missing from some parts is null there and an integer widens to a float (as Spark's
    `mergeSchema` reads them); types that cannot be merged (a number in one part, text in another)
    are named, with the parts that disagree. `col=value/` subfolders become a column each.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    parts = part_files(folder)
    if not parts:
        raise BatchFileError(f"{what}: dataset folder {folder.name} holds no part files (*.parquet)")
    schemas = []
    for part in parts:
        try:
            schemas.append(pq.read_schema(part))
        except Exception as error:  # pyarrow raises several types for damaged files
            raise BatchFileError(
                f"{what}: part {part.relative_to(folder)} of dataset folder {folder.name} is not a readable "
                f"Parquet file ({error})"
            ) from error
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise BatchFileError(
            f"{what}: the part files of dataset folder {folder.name} disagree on column types "
            f"({_disagreements(folder, parts, schemas)}): {error}"
        ) from error
    try:
        found = ds.dataset(
            [str(p) for p in parts], format="parquet", partitioning="hive", partition_base_dir=str(folder)
        )
        schema = pa.unify_schemas([schema, found.schema], promote_options="permissive")
        dataset = ds.dataset(
            [str(p) for p in parts],
            schema=schema,
            format="parquet",
            partitioning="hive",
            partition_base_dir=str(folder),
        )
        return dataset.to_table().to_pandas()
    except Exception as error:  # pyarrow raises several types for damaged files
        raise BatchFileError(f"{what}: dataset folder {folder.name} is not readable data ({error})") from error


def _disagreements(folder: Path, parts: list[Path], schemas: list) -> str:
    """Each column whose type differs between parts, with the first part of each type."""
    types: dict[str, dict[str, Path]] = {}
    for part, schema in zip(parts, schemas, strict=True):
        for column in schema:
            types.setdefault(column.name, {}).setdefault(str(column.type), part)
    return "; ".join(
        f"{name}: " + ", ".join(f"{kind} in {part.relative_to(folder)}" for kind, part in seen.items())
        for name, seen in types.items()
        if len(seen) > 1
    )
