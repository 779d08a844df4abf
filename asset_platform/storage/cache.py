"""The local DVC cache, written directly in DVC 3's layout.

Objects go to `files/md5/<2 hex>/<30 hex>`, folders as a `.dir` manifest listing
`{"md5", "relpath"}` entries sorted by path, exactly as DVC writes them, so the
`dvc` CLI reads our cache as its own. We insert objects with an atomic rename
instead of `dvc add`, because DVC's repository-wide lock fails under parallel
writers (dvc issues 10465, 3783): content addressing makes concurrent inserts
of the same object harmless, so no lock is needed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from asset_platform.storage.hashing import md5_file

DIR_SUFFIX = ".dir"


class CacheError(RuntimeError):
    """The cache folder cannot be read or written."""


class ObjectCache:
    """Content-addressed objects under one DVC cache folder (`.dvc/cache`)."""

    def __init__(self, cache_root: Path):
        self.root = cache_root / "files" / "md5"

    def path(self, oid: str) -> Path:
        return self.root / oid[:2] / oid[2:]

    def insert_file(self, staged: Path, md5: str, replace: bool = False) -> int:
        """Move a staged file into the cache under `md5`; return the bytes added (0 if present).

        `replace` overwrites an object already there, for repairs of damaged objects.
        """
        target = self.path(md5)
        size = staged.stat().st_size
        if not replace and target.exists() and target.stat().st_size == size:
            staged.unlink()
            return 0
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Read-only like DVC's own cache: workspace hard links must not edit it in place.
            staged.chmod(0o444)
            os.replace(staged, target)
        except OSError as error:
            staged.unlink(missing_ok=True)
            raise CacheError(f"cannot write to the DVC cache at {self.root}: {error}") from error
        return size

    def insert_tree(self, staged_dir: Path, staging: Path) -> tuple[str, dict[str, list], int]:
        """Insert every file of a staged folder, then its manifest; return (oid, files, bytes added).

        The manifest goes in last, so a visible `.dir` object always has all its files.
        """
        files: dict[str, list] = {}
        added = 0
        for child in sorted(staged_dir.rglob("*")):
            if child.is_file():
                relpath = child.relative_to(staged_dir).as_posix()
                md5 = md5_file(child)
                files[relpath] = [md5, child.stat().st_size]
                added += self.insert_file(child, md5)
        manifest = json.dumps(
            [{"md5": md5, "relpath": rel} for rel, (md5, _) in sorted(files.items())], sort_keys=True
        ).encode("utf-8")
        manifest_path = staging / f"{staged_dir.name}.manifest"
        manifest_path.write_bytes(manifest)
        oid = md5_file(manifest_path) + DIR_SUFFIX
        added += self.insert_file(manifest_path, oid)
        return oid, files, added

    def size_ok(self, oid: str, size: int) -> bool:
        """The cheap integrity check done on every load: present with the recorded size."""
        try:
            return self.path(oid).stat().st_size == size
        except FileNotFoundError:
            return False
        except OSError as error:
            raise CacheError(f"cannot read the DVC cache object {self.path(oid)}: {error}") from error

    def content_ok(self, oid: str, size: int | None = None) -> bool:
        """The full check: the object's bytes hash to its name (and it has `size` bytes, if given).

        The size is compared first, so a truncated object costs no read.
        """
        if size is not None and not self.size_ok(oid, size):
            return False
        path = self.path(oid)
        try:
            return md5_file(path) == oid.removesuffix(DIR_SUFFIX)
        except FileNotFoundError:
            return False
        except OSError as error:
            raise CacheError(f"cannot read the DVC cache object {path}: {error}") from error

    def manifest(self, oid: str) -> dict[str, str]:
        """relpath -> md5 of the files a `.dir` object lists (check the object's content first)."""
        return {entry["relpath"]: entry["md5"] for entry in json.loads(self.path(oid).read_bytes())}
