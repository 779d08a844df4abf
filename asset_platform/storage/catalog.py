"""Which versions of each asset exist: history, latest pointer and DVC pointer files.

For every asset (and partition) a folder under `<workspace>/data/` holds:
- `versions.jsonl`: one line per materialization (md5, size, format, run id, time);
- `LATEST`: the md5 loaded by default, replaced atomically as the last step of a write;
- `<md5><suffix>.dvc`: a DVC pointer per retained version, and `<md5><suffix>`, the
  object itself hard-linked from the cache, so `dvc status` is clean and
  `dvc gc -w` keeps every retained version.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asset_platform.storage.cache import DIR_SUFFIX, ObjectCache
from asset_platform.storage.formats import suffix_for
from asset_platform.storage.keys import asset_folder_parts

_HISTORY = "versions.jsonl"
_LATEST = "LATEST"


class VersionNotFoundError(LookupError):
    """No stored version matches what was asked for."""


@dataclass(frozen=True)
class VersionRecord:
    """One stored version of one asset (partition)."""

    asset: str
    partition: str | None
    md5: str  # the DVC oid: `<md5>` for files, `<md5>.dir` for folders
    format: str
    size: int
    run_id: str | None
    created_at: float
    # For folders: relpath -> [md5, size] of each file, for the per-load size check.
    files: dict[str, list] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(DIR_SUFFIX)

    @property
    def data_version(self) -> str:
        return self.md5.removesuffix(DIR_SUFFIX)

    @property
    def label(self) -> str:
        """How errors and listings name the asset: `key` or `key[partition]`."""
        return self.asset + (f"[{self.partition}]" if self.partition else "")

    @property
    def entry_name(self) -> str:
        """The name of this version's file or folder in the DVC workspace."""
        return self.data_version + suffix_for(self.format)


def has_versions(workspace: Path) -> bool:
    """Whether any version was ever recorded in this workspace (so pushed to its remote)."""
    data_root = workspace / "data"
    return data_root.is_dir() and any(data_root.iterdir())


class VersionCatalog:
    def __init__(self, workspace: Path, cache: ObjectCache):
        self.data_root = workspace / "data"
        self.cache = cache

    def folder(self, asset_path: list[str], partition: str | None) -> Path:
        return self.data_root.joinpath(*asset_folder_parts(asset_path, partition))

    def record(self, asset_path: list[str], record: VersionRecord) -> None:
        """Publish a version whose objects are already in the cache."""
        folder = self.folder(asset_path, record.partition)
        folder.mkdir(parents=True, exist_ok=True)
        self.link_entry(folder, record)
        _write_atomically(folder / f"{record.entry_name}.dvc", _pointer_yaml(record))
        with open(folder / _HISTORY, "a") as history:
            history.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        # Last: until this rename, readers keep loading the previous version.
        _write_atomically(folder / _LATEST, record.md5)

    def link_entry(self, folder: Path, record: VersionRecord) -> None:
        """(Re)create the workspace copy of a version as hard links into the cache."""
        entry = folder / record.entry_name
        staging = folder / f".{record.entry_name}.linking-{os.getpid()}"
        if record.is_dir:
            staging.mkdir()
            for relpath, (md5, _size) in record.files.items():
                target = staging / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(self.cache.path(md5), target)
        else:
            _link_or_copy(self.cache.path(record.md5), staging)
        if entry.exists():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        os.replace(staging, entry)

    def latest(self, asset_path: list[str], partition: str | None) -> VersionRecord | None:
        folder = self.folder(asset_path, partition)
        try:
            md5 = (folder / _LATEST).read_text().strip()
        except FileNotFoundError:
            return None
        return self.find(asset_path, partition, md5)

    def history(self, asset_path: list[str], partition: str | None) -> list[VersionRecord]:
        """Every materialization recorded for the asset (partition), oldest first."""
        try:
            lines = (self.folder(asset_path, partition) / _HISTORY).read_text().splitlines()
        except FileNotFoundError:
            return []
        return [VersionRecord(**json.loads(line)) for line in lines if line.strip()]

    def retained(self, asset_path: list[str], partition: str | None) -> list[VersionRecord]:
        """Distinct versions that still have a pointer file, newest first."""
        folder = self.folder(asset_path, partition)
        seen: dict[str, VersionRecord] = {}
        for record in reversed(self.history(asset_path, partition)):
            if record.md5 not in seen and (folder / f"{record.entry_name}.dvc").exists():
                seen[record.md5] = record
        return list(seen.values())

    def find(self, asset_path: list[str], partition: str | None, ref: str) -> VersionRecord:
        """The version whose md5 starts with `ref`, or that run `ref` produced."""
        name = "/".join(asset_path) + (f" partition {partition}" if partition else "")
        history = self.history(asset_path, partition)
        by_run = [r for r in history if r.run_id == ref]
        if by_run:
            return by_run[-1]
        matches = {r.md5: r for r in history if r.md5.startswith(ref) and len(ref) >= 4}
        if len(matches) == 1:
            return next(iter(matches.values()))
        if not matches:
            raise VersionNotFoundError(f"{name} has no version or run id {ref!r}")
        raise VersionNotFoundError(f"{name}: version prefix {ref!r} is ambiguous: {sorted(matches)}")

    def stored(self) -> list[tuple[list[str], str | None]]:
        """Every (asset path, partition) that has a history, sorted by asset then partition."""
        found = []
        for history in self.data_root.rglob(_HISTORY):
            with open(history) as lines:
                first = next((line for line in lines if line.strip()), None)
            if first is not None:
                entry = json.loads(first)
                found.append((entry["asset"].split("/"), entry["partition"]))
        return sorted(found, key=lambda item: (item[0], item[1] or ""))

    def partitions(self, asset_path: list[str]) -> list[str]:
        folder = self.folder(asset_path, None)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if (p / _LATEST).exists())

    def forget(self, asset_path: list[str], record: VersionRecord) -> None:
        """Drop a version's pointer and workspace copy (the history line stays for audit)."""
        folder = self.folder(asset_path, record.partition)
        (folder / f"{record.entry_name}.dvc").unlink(missing_ok=True)
        entry = folder / record.entry_name
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def _pointer_yaml(record: VersionRecord) -> str:
    lines = ["outs:", f"- md5: {record.md5}", f"  size: {record.size}"]
    if record.is_dir:
        lines.append(f"  nfiles: {len(record.files)}")
    lines += ["  hash: md5", f"  path: {record.entry_name}", ""]
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    staging.write_text(text)
    os.replace(staging, path)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
