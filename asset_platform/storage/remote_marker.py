"""A marker object in the DVC remote, so a push never lands on what only looks like the remote.

An unmounted network share leaves an empty folder at its mount point; pushing
there succeeds and every later version is silently off the real remote. So the
remote holds `asset-platform-remote.json` (an id, written when the workspace
first pushes to an empty remote, that is, at set-up), the workspace remembers
that id in `.dvc/asset-platform-remote`, and each push reads the marker first:

- marker present: the remote is a real remote (workspaces sharing it share its id);
- marker absent: adopted (written) only while the workspace has pushed nothing
  yet, or when the remote already holds objects (a remote from before markers);
  otherwise the push fails naming the remote and the likely cause.

`asset-platform storage verify --push-missing` on a remote lost for good writes
the marker explicitly (`adopt`): re-uploading is then a decision, not an accident.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

MARKER = "asset-platform-remote.json"
_LOCAL = Path(".dvc") / "asset-platform-remote"


class MarkerError(RuntimeError):
    """The remote lacks this workspace's marker, or holds another one's."""


def check_or_adopt(odb: Any, workspace: Path, name: str, url: str) -> None:
    """Raise `MarkerError` unless the remote holds this workspace's marker (writing it where that is safe)."""
    from asset_platform.storage.catalog import has_versions

    found = _remote_id(odb)
    if found is not None:
        # Workspaces on several hosts may share one remote: the remote's id is the one to remember.
        if _local_id(workspace) != found:
            _save_local_id(workspace, found)
        return
    if not has_versions(workspace) or _holds_objects(odb):
        adopt(odb, workspace)
        return
    raise MarkerError(
        f"DVC remote {name!r} ({url}) lacks its marker {MARKER}, though the workspace {workspace} has pushed "
        "versions there: it is most likely an unmounted share (the empty mount point) or a folder that was "
        "emptied. Mount or restore it; nothing was pushed. If the remote is lost for good, run "
        "`asset-platform storage verify --push-missing` to start it afresh from the local cache."
    )


def adopt(odb: Any, workspace: Path, marker_id: str | None = None) -> str:
    """Write the marker (this workspace's id, or a new one) into the remote and remember it locally."""
    marker_id = marker_id or ensure_local_id(workspace)
    payload = {"id": marker_id, "workspace": str(workspace), "written_at": time.time()}
    odb.fs.makedirs(_root(odb), exist_ok=True)
    odb.fs.pipe_file(odb.fs.join(_root(odb), MARKER), json.dumps(payload).encode())
    _save_local_id(workspace, marker_id)
    return marker_id


def ensure_local_id(workspace: Path) -> str:
    """The id this workspace's remote is marked with, created at set-up (under the set-up lock), so
    parallel first pushes all write the same marker."""
    marker_id = _local_id(workspace)
    if marker_id is None:
        marker_id = uuid.uuid4().hex
        _save_local_id(workspace, marker_id)
    return marker_id


def _remote_id(odb: Any) -> str | None:
    try:
        content = odb.fs.cat_file(odb.fs.join(_root(odb), MARKER))
    except FileNotFoundError:
        return None
    try:
        return str(json.loads(content)["id"])
    except (ValueError, KeyError, TypeError) as error:
        raise MarkerError(f"the remote's marker {MARKER} is unreadable ({error}): restore it from a backup") from error


def _holds_objects(odb: Any) -> bool:
    return bool(odb.fs.exists(odb.path) and odb.fs.ls(odb.path))


def _root(odb: Any) -> str:
    """The remote's own folder: DVC 3 keeps objects under `<remote>/files/md5`, the marker sits beside."""
    path = odb.path
    for part in ("md5", "files"):
        if odb.fs.name(path) == part:
            path = odb.fs.parent(path)
    return path


def _local_id(workspace: Path) -> str | None:
    path = workspace / _LOCAL
    return path.read_text().strip() or None if path.is_file() else None


def _save_local_id(workspace: Path, marker_id: str) -> None:
    path = workspace / _LOCAL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(marker_id + "\n")
