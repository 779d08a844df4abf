"""The asset store: put and get versioned asset values as DVC objects.

This is the storage's public API, used by the Dagster IO manager, the CLI and
the registry. It knows nothing of Dagster: an asset is a list of key parts.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asset_platform.storage.cache import DIR_SUFFIX, ObjectCache
from asset_platform.storage.catalog import VersionCatalog, VersionNotFoundError, VersionRecord
from asset_platform.storage.formats import StagedValue, choose_format, read_stored, suffix_for, write_staged
from asset_platform.storage.hashing import md5_file
from asset_platform.storage.remote import DvcRemote, RemoteError

# Staging leftovers of killed writers older than this are removed on start.
_STALE_STAGING_S = 3600


class IntegrityError(RuntimeError):
    """A stored object is damaged and no good copy could be fetched."""


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
    def __init__(self, workspace: Path, remote_name: str = "storage", push: bool = True):
        self.workspace = workspace
        self.cache = ObjectCache(workspace / ".dvc" / "cache")
        self.catalog = VersionCatalog(workspace, self.cache)
        self.remote = DvcRemote(workspace, remote_name)
        self.push_enabled = push
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

    def get(self, asset_path: list[str], partition: str | None = None, version: str | None = None) -> Any:
        """Load a version's value after checking its bytes (see `ensure_local`)."""
        record = self.record(asset_path, partition, version)
        return read_stored(self.ensure_local(record), record.format)

    def ensure_local(self, record: VersionRecord) -> Path:
        """The cache path of a version whose sizes check out, refetching damaged parts."""
        folder = self.catalog.folder(record.asset.split("/"), record.partition)
        if not record.is_dir:
            if not self.cache.size_ok(record.md5, record.size):
                self._refetch(record, record.md5)
            return self.cache.path(record.md5)
        repaired = False
        for md5, size in record.files.values():
            if not self.cache.size_ok(md5, size):
                self._refetch(record, md5)
                repaired = True
        if not self.cache.path(record.md5).exists():
            self._refetch(record, record.md5)
        entry = folder / record.entry_name
        if repaired or not _entry_matches(entry, record):
            # Readers load model folders from the workspace copy, so it must link the good objects.
            folder.mkdir(parents=True, exist_ok=True)
            self.catalog.link_entry(folder, record)
        return entry

    def _refetch(self, record: VersionRecord, oid: str) -> None:
        """Replace a cache object by the remote's copy, hashed in full before it is used."""
        path = self.cache.path(oid)
        where = f"{record.label} version {record.data_version}"
        self.staging.mkdir(parents=True, exist_ok=True)
        fetched = self.staging / f"fetch-{uuid.uuid4().hex}"
        try:
            self.remote.fetch(oid, fetched)
        except RemoteError as error:
            raise IntegrityError(
                f"{where}: cache object {path} is missing or damaged and could not be refetched: {error}"
            ) from error
        if md5_file(fetched) != oid.removesuffix(DIR_SUFFIX):
            fetched.unlink()
            raise IntegrityError(f"{where}: cache object {path} is damaged and the remote's copy of {oid} is too")
        # The damaged file stays in place until the good copy replaces it in one rename.
        self.cache.insert_file(fetched, oid, replace=True)
        if not record.is_dir:
            folder = self.catalog.folder(record.asset.split("/"), record.partition)
            if (folder / f"{record.entry_name}.dvc").exists():
                self.catalog.link_entry(folder, record)

    def verify_record(self, record: VersionRecord) -> list[Damage]:
        """Hash every object of one version in full and refetch the damaged ones from the remote."""
        damages = []
        for oid in [md5 for md5, _ in record.files.values()] + [record.md5]:
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


def _entry_matches(entry: Path, record: VersionRecord) -> bool:
    """Whether a model folder's workspace copy has every file at its recorded size."""
    try:
        return all((entry / rel).stat().st_size == size for rel, (_, size) in record.files.items())
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
