"""The asset store: put and get versioned asset values as DVC objects.

This is the storage's public API, used by the Dagster IO manager, the CLI and
the registry. It knows nothing of Dagster: an asset is a list of key parts.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asset_platform.storage.cache import DIR_SUFFIX, ObjectCache
from asset_platform.storage.catalog import VersionCatalog, VersionNotFoundError, VersionRecord
from asset_platform.storage.formats import (
    StagedValue,
    choose_format,
    expected_formats,
    read_stored,
    suffix_for,
    write_staged,
)
from asset_platform.storage.hashing import md5_file
from asset_platform.storage.remote import DvcRemote, RemoteError

_log = logging.getLogger(__name__)
# Staging leftovers of killed writers older than this are removed on start.
_STALE_STAGING_S = 3600
# Objects up to this size are md5-checked on every load. Measured (one core, warm page
# cache): a 1.4 MB LightGBM model loads in 30 ms and its hash adds 3 ms; a 63 MiB
# Parquet frame loads in 95 ms and its hash adds 110 ms. md5 runs at about 600 MB/s,
# so above this the check would dominate a frame's load: large frames are hashed by
# `storage verify`, or on every load with `verify_on_load`.
HASH_ON_LOAD_MAX_BYTES = 64 * 1024 * 1024
# Hashed on load whatever their size: code acts on what models and JSON pointers say,
# and unpickling runs code, so a damaged or swapped object must never be read.
_ALWAYS_HASHED = frozenset({"model", "json", "pickle"})


class IntegrityError(RuntimeError):
    """A stored object is damaged and no good copy could be fetched."""


class FormatMismatchError(IntegrityError):
    """The catalog records a format for a version that the asset's declaration does not allow."""


@dataclass(frozen=True)
class Damage:
    """A cache object whose bytes did not hash to its name, and whether it was repaired."""

    record: VersionRecord
    oid: str
    repaired: bool
    detail: str

    def __str__(self) -> str:
        if not self.repaired:
            return self.detail
        return f"{self.record.label} version {self.record.data_version}: object {self.oid} was damaged; {self.detail}"


@dataclass(frozen=True)
class PutResult:
    record: VersionRecord
    bytes_added: int  # new bytes in the local cache; 0 when the content was already stored
    pushed: int  # objects sent to the remote


class AssetStore:
    def __init__(
        self,
        workspace: Path,
        remote_name: str = "storage",
        push: bool = True,
        *,
        verify_on_load: bool = False,
        hash_on_load_max_bytes: int = HASH_ON_LOAD_MAX_BYTES,
    ):
        """`verify_on_load` hashes every object on each load, large Parquet frames too; without it
        models, JSON, pickles and objects up to `hash_on_load_max_bytes` are hashed, larger ones size-checked."""
        self.workspace = workspace
        self.cache = ObjectCache(workspace / ".dvc" / "cache")
        self.catalog = VersionCatalog(workspace, self.cache)
        self.remote = DvcRemote(workspace, remote_name)
        self.push_enabled = push
        self.verify_on_load = verify_on_load
        self.hash_on_load_max_bytes = hash_on_load_max_bytes
        # DVC ignores .dvc/tmp; staging there keeps partial writes out of sight and on
        # the cache's filesystem, so publishing is a rename.
        self.staging = workspace / ".dvc" / "tmp" / "asset-platform"

    def put(
        self,
        asset_path: list[str],
        value: Any,
        partition: str | None = None,
        run_id: str | None = None,
        declared_format: str | None = None,
    ) -> PutResult:
        """Store `value` as a new version; identical content adds no bytes."""
        name = "/".join(asset_path)
        self.catalog.folder(asset_path, partition)  # rejects unsafe keys before any write
        fmt = choose_format(value, declared_format, f"asset {name}")
        self.staging.mkdir(parents=True, exist_ok=True)
        target = self.staging / f"{uuid.uuid4().hex}{suffix_for(fmt)}"
        try:
            staged = write_staged(value, fmt, target)
            oid, files, added = self._insert(staged)
        finally:
            # Whatever was not moved into the cache (all of it, if anything failed) goes.
            _remove(target)
        objects = [(self.cache.path(md5), md5) for md5, _ in files.values()] + [(self.cache.path(oid), oid)]
        pushed = self.remote.push(objects) if self.push_enabled else 0
        record = VersionRecord(
            asset=name,
            partition=partition,
            md5=oid,
            format=fmt,
            size=staged.size,
            run_id=run_id,
            created_at=time.time(),
            files=files,
        )
        self.catalog.record(asset_path, record)
        return PutResult(record, added, pushed)

    def _insert(self, staged: StagedValue) -> tuple[str, dict[str, list], int]:
        """Move a staged value into the cache: (oid, files of a folder, bytes added)."""
        if staged.is_dir:
            return self.cache.insert_tree(staged.path, self.staging)
        return staged.md5, {}, self.cache.insert_file(staged.path, staged.md5)

    def record(self, asset_path: list[str], partition: str | None = None, version: str | None = None) -> VersionRecord:
        """The latest version, or the one whose md5 prefix or run id is `version`."""
        if version is not None:
            return self.catalog.find(asset_path, partition, version)
        latest = self.catalog.latest(asset_path, partition)
        if latest is None:
            where = f" partition {partition}" if partition else ""
            raise VersionNotFoundError(
                f"asset {'/'.join(asset_path)}{where} has no stored version yet: materialize it first"
            )
        return latest

    def get(
        self,
        asset_path: list[str],
        partition: str | None = None,
        version: str | None = None,
        *,
        expected_format: str | None = None,
    ) -> Any:
        """Load a version's value after checking its bytes (see `ensure_local`).

        `expected_format` is the format the asset declares; None accepts any of
        `SAFE_FORMATS`, so a pickle is read only when the caller asks for one.
        """
        record = self.record(asset_path, partition, version)
        fmt = check_format(record, expected_format)
        return read_stored(self.ensure_local(record), fmt, allow_pickle=expected_format == "pickle")

    def hashes_on_load(self, record: VersionRecord) -> bool:
        """Whether loads md5-check this version in full, or only compare sizes."""
        return self.verify_on_load or record.format in _ALWAYS_HASHED or record.size <= self.hash_on_load_max_bytes

    def ensure_local(self, record: VersionRecord, full_check: bool | None = None) -> Path:
        """The path of a version whose objects check out, refetching damaged ones from the remote.

        Objects are md5-checked when `full_check` is set, or by default when
        `hashes_on_load` says so; otherwise only their sizes are compared.
        Raises `IntegrityError` rather than return damaged bytes.
        """
        hashed = self.hashes_on_load(record) if full_check is None else full_check
        if not record.is_dir:
            if not self._object_ok(record.md5, record.size, hashed):
                self._refetch(record, record.md5)
            return self.cache.path(record.md5)
        return self._ensure_local_dir(record, hashed)

    def _ensure_local_dir(self, record: VersionRecord, hashed: bool) -> Path:
        folder = self.catalog.folder(record.asset.split("/"), record.partition)
        if not (self.cache.content_ok(record.md5) if hashed else self.cache.path(record.md5).exists()):
            self._refetch(record, record.md5)
        if hashed:
            self._check_manifest(record)
        repaired = False
        for md5, size in record.files.values():
            if not self._object_ok(md5, size, hashed):
                self._refetch(record, md5)
                repaired = True
        entry = folder / record.entry_name
        if repaired or not _entry_matches(entry, record, self.cache if hashed else None):
            # Readers load model folders from the workspace copy, so it must link the good objects.
            folder.mkdir(parents=True, exist_ok=True)
            self.catalog.link_entry(folder, record)
        return entry

    def _object_ok(self, oid: str, size: int, hashed: bool) -> bool:
        return self.cache.content_ok(oid, size) if hashed else self.cache.size_ok(oid, size)

    def _check_manifest(self, record: VersionRecord) -> None:
        """The catalog's file list must be the one the verified `.dir` object holds."""
        listed = {relpath: md5 for relpath, (md5, _size) in record.files.items()}
        if self.cache.manifest(record.md5) != listed:
            raise IntegrityError(
                f"{record.label} version {record.data_version}: the file list in "
                f"{self.catalog.folder(record.asset.split('/'), record.partition) / 'versions.jsonl'} does not "
                f"match the folder object {record.md5}; the catalog was edited: restore it from a backup"
            )

    def _refetch(self, record: VersionRecord, oid: str) -> None:
        """Replace a cache object by the remote's copy, hashed in full before it is used.

        Where the remote has no good copy either, any workspace copy whose hash matches restores it
        (see storage/workspace_copies.py), said so in the log.
        """
        path = self.cache.path(oid)
        where = f"{record.label} version {record.data_version}"
        self.staging.mkdir(parents=True, exist_ok=True)
        fetched = self.staging / f"fetch-{uuid.uuid4().hex}"
        try:
            self.remote.fetch(oid, fetched)
        except RemoteError as error:
            if not self._restore_from_workspace(record, oid, fetched):
                raise IntegrityError(
                    f"{where}: cache object {path} is missing or damaged and could not be refetched: {error}"
                ) from error
        if md5_file(fetched) != oid.removesuffix(DIR_SUFFIX) and not self._restore_from_workspace(record, oid, fetched):
            fetched.unlink()
            raise IntegrityError(f"{where}: cache object {path} is damaged and the remote's copy of {oid} is too")
        # The damaged file stays in place until the good copy replaces it in one rename.
        self.cache.insert_file(fetched, oid, replace=True)
        if not record.is_dir:
            folder = self.catalog.folder(record.asset.split("/"), record.partition)
            if (folder / f"{record.entry_name}.dvc").exists():
                self.catalog.link_entry(folder, record)

    def _restore_from_workspace(self, record: VersionRecord, oid: str, target: Path) -> bool:
        """Write a workspace copy of `oid` whose hash matches to `target`; False when there is none."""
        from asset_platform.storage.workspace_copies import copy_from_workspace

        folder = self.catalog.folder(record.asset.split("/"), record.partition)
        source = copy_from_workspace(folder, record, oid, target)
        if source is None:
            return False
        _log.warning(
            "%s version %s: object %s was lost from the cache and the remote; restored from the workspace copy %s",
            record.label,
            record.data_version,
            oid,
            source,
        )
        try:  # the remote lacked it too: it gets its copy back (a repair, even for a read-only store)
            self.remote.push([(target, oid)])
        except RemoteError as error:
            _log.warning("object %s restored locally but not pushed to the remote: %s", oid, error)
        return True

    def verify_record(self, record: VersionRecord) -> list[Damage]:
        """Hash every object of one version in full and refetch the damaged ones from the remote."""
        damages = []
        for oid in _oids(record):
            if self.cache.content_ok(oid):
                continue
            try:
                self._refetch(record, oid)
            except IntegrityError as error:
                damages.append(Damage(record, oid, repaired=False, detail=str(error)))
                continue
            damages.append(Damage(record, oid, repaired=True, detail="refetched from the remote"))
        if record.is_dir and any(d.repaired for d in damages):
            # The workspace copy still links the damaged files, which kept their size.
            folder = self.catalog.folder(record.asset.split("/"), record.partition)
            if (folder / f"{record.entry_name}.dvc").exists():
                self.catalog.link_entry(folder, record)
        return damages

    def verify(self, asset_path: list[str], partition: str | None = None) -> list[str]:
        """Hash every retained version of an asset in full; return one line per problem found and fixed.

        Raises `IntegrityError` naming every object that could not be repaired.
        """
        damages = [d for r in self.catalog.retained(asset_path, partition) for d in self.verify_record(r)]
        unrepaired = [str(d) for d in damages if not d.repaired]
        if unrepaired:
            raise IntegrityError("; ".join(unrepaired))
        return [str(d) for d in damages]

    def missing_on_remote(self, records: list[VersionRecord]) -> list[tuple[VersionRecord, list[str]]]:
        """The versions some of whose objects the remote lacks, with those objects' oids.

        One query for all of them: for a networked remote, one round of listing
        instead of one per object. Raises `RemoteError` if the remote is unreachable.
        """
        oids_of = {record.md5: _oids(record) for record in records}
        missing = self.remote.missing({oid for oids in oids_of.values() for oid in oids})
        found = []
        for record in records:
            lacking = [oid for oid in oids_of[record.md5] if oid in missing]
            if lacking:
                found.append((record, lacking))
        return found

    def push_missing(self, record: VersionRecord, oids: list[str]) -> int:
        """Upload objects of `record` that the remote lacks, after checking each one's md5 here.

        Raises `IntegrityError` if a local object is damaged too: a bad copy must not reach the remote.
        """
        damaged = [oid for oid in oids if not self.cache.content_ok(oid)]
        if damaged:
            raise IntegrityError(
                f"{record.label} version {record.data_version}: the remote lacks {', '.join(damaged)} and the "
                "local copy is missing or damaged too; this version cannot be restored from here"
            )
        return self.remote.push([(self.cache.path(oid), oid) for oid in oids])

    def prune(
        self, asset_path: list[str], partition: str | None, keep: int, protect: frozenset[str] = frozenset()
    ) -> list[VersionRecord]:
        """Drop pointers of all but the newest `keep` versions (and any in `protect`)."""
        if keep < 1:
            raise ValueError("keep must be at least 1: the latest version is always retained")
        latest = self.catalog.latest(asset_path, partition)
        dropped = []
        for record in self.catalog.retained(asset_path, partition)[keep:]:
            if record.md5 in protect or (latest and record.md5 == latest.md5):
                continue
            self.catalog.forget(asset_path, record)
            dropped.append(record)
        return dropped

    def clean_stale_staging(self) -> None:
        """Remove what writers killed mid-write left in staging (never visible to readers)."""
        if not self.staging.is_dir():
            return
        cutoff = time.time() - _STALE_STAGING_S
        for leftover in self.staging.iterdir():
            if leftover.stat().st_mtime < cutoff:
                _remove(leftover)


def check_format(record: VersionRecord, expected_format: str | None) -> str:
    """The format to read `record` with: the catalog's, if the caller's declaration allows it.

    The catalog is only a file in the workspace; what may be read (and above all
    whether unpickling is allowed) comes from the caller, who knows the asset.
    """
    where = f"{record.label} version {record.data_version}"
    allowed = expected_formats(expected_format, where)
    if record.format not in allowed or record.is_dir != (record.format == "model"):
        declared = repr(expected_format) if expected_format else f"one of {', '.join(allowed)} (nothing declared)"
        raise FormatMismatchError(
            f"{where}: the catalog records format {record.format!r} for object {record.md5}, but the asset "
            f"declares {declared}; refusing to read it. If the asset's format changed on purpose, load the "
            "version with the format it was stored in; otherwise its versions.jsonl was tampered with"
        )
    return record.format


def _oids(record: VersionRecord) -> list[str]:
    """Every cache object of a version: a folder's files, then the object itself."""
    return [md5 for md5, _ in record.files.values()] + [record.md5]


def _entry_matches(entry: Path, record: VersionRecord, cache: ObjectCache | None = None) -> bool:
    """Whether a model folder's workspace copy has every file at its recorded size.

    With `cache` (whose objects were just verified) every file must also have the
    verified content: a hard link to the cache object, or a copy that hashes the same.
    """
    try:
        for rel, (md5, size) in record.files.items():
            path = entry / rel
            if path.stat().st_size != size:
                return False
            if cache is not None and not os.path.samefile(path, cache.path(md5)) and md5_file(path) != md5:
                return False
    except FileNotFoundError:
        return False
    return True


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
