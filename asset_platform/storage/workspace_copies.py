"""The DVC workspace as a last copy of a lost cache object.

Each retained version has its file (or folder) in the workspace, hard-linked
from the cache (see catalog.py). Deleting a cache object leaves that link, and
so the bytes, in place; a copied or restored workspace holds them as a file of
its own. When the cache and the remote have both lost an object, a workspace
copy whose md5 is the object's name is as good as the original: content
addressing makes the check exact. A folder's `.dir` manifest is not a workspace
file, but the catalog records its file list, from which DVC's manifest is
rebuilt byte for byte and checked the same way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from asset_platform.storage.cache import DIR_SUFFIX
from asset_platform.storage.catalog import VersionRecord
from asset_platform.storage.hashing import md5_file


def copy_from_workspace(folder: Path, record: VersionRecord, oid: str, target: Path) -> Path | None:
    """Write the bytes of object `oid` of `record` to `target` from a workspace copy; its source, or None.

    `folder` is the record's catalog folder. Only a copy whose md5 matches `oid` is used.
    """
    md5 = oid.removesuffix(DIR_SUFFIX)
    entry = folder / record.entry_name
    if oid.endswith(DIR_SUFFIX):
        manifest = json.dumps(
            [{"md5": file_md5, "relpath": rel} for rel, (file_md5, _) in sorted(record.files.items())],
            sort_keys=True,
        ).encode("utf-8")
        target.write_bytes(manifest)
        if md5_file(target) == md5:
            return folder / "versions.jsonl"
        target.unlink()
        return None
    candidates = [entry] if not record.is_dir else [entry / rel for rel, (m, _) in record.files.items() if m == oid]
    for candidate in candidates:
        try:
            if candidate.is_symlink() or not candidate.is_file() or md5_file(candidate) != md5:
                continue
            shutil.copyfile(candidate, target)
        except OSError:
            continue
        if md5_file(target) == md5:  # the copy itself, in case the source changed meanwhile
            return candidate
    return None
