"""Transfers to and from the configured DVC remote, through DVC's own remote code.

The remote is whatever `.dvc/config` of the platform's DVC workspace names
(a local folder, `ssh://` through dvc-ssh, `s3://` through dvc-s3), so credentials
and options follow DVC's conventions. Only DVC's object database for the remote
is used, which takes no repository lock.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any


class RemoteError(RuntimeError):
    """The DVC remote is missing, unreachable or does not hold an object."""


def is_local_url(url: str) -> bool:
    """Whether a remote URL is a folder on this machine (DVC's plain paths) rather than ssh://, s3://..."""
    return "://" not in url


def missing_local_remote(name: str, url: str, workspace: Path) -> RemoteError:
    """The error for a local remote folder that is gone; it says how to get it back."""
    from asset_platform.storage.catalog import has_versions

    if not has_versions(workspace):
        return RemoteError(
            f"DVC remote {name!r} points to {url}, which does not exist; create the folder, or change "
            "the remote with `dvc remote modify` in the workspace"
        )
    # Recreating it empty would let new pushes succeed while every older version
    # stays unrecoverable: the loss would only show when a cache object is damaged.
    return RemoteError(
        f"DVC remote {name!r} points to {url}, which does not exist. The DVC workspace {workspace} holds "
        "versions pushed there, so it is not recreated empty. If it is an unmounted share, mount it; if it "
        "was deleted, restore it from a backup; then run `asset-platform storage verify` to check that it "
        "holds every retained version. If it is lost for good, create the empty folder and run "
        "`asset-platform storage verify --push-missing` to upload what the local cache still has. To use "
        "another remote, change it with `dvc remote modify` in the workspace."
    )


class DvcRemote:
    def __init__(self, workspace: Path, name: str):
        self.workspace = workspace
        self.name = name

    @cached_property
    def _odb(self) -> Any:
        from dvc.repo import Repo

        with Repo(str(self.workspace)) as repo:
            try:
                odb = repo.cloud.get_remote_odb(self.name)
            except Exception as error:  # DVC raises several config error types
                raise RemoteError(f"DVC remote {self.name!r} in {self.workspace}/.dvc/config: {error}") from error
        if odb.fs.protocol in ("local", "file") and not Path(self.url).is_dir():
            # A missing local remote is usually an unmounted share: never create it silently.
            raise missing_local_remote(self.name, self.url, self.workspace)
        return odb

    @property
    def url(self) -> str:
        from dvc.repo import Repo

        with Repo(str(self.workspace)) as repo:
            return str(repo.config["remote"][self.name]["url"])

    def push(self, objects: list[tuple[Path, str]]) -> int:
        """Upload (local path, oid) pairs the remote lacks; return how many were sent."""
        from dvc_objects.fs.local import LocalFileSystem

        if not objects:
            return 0
        paths = [str(path) for path, _ in objects]
        oids = [oid for _, oid in objects]
        self.check_marker()
        try:
            return self._odb.add(paths, LocalFileSystem(), oids)
        except RemoteError:
            raise
        except Exception as error:
            raise RemoteError(f"cannot push to DVC remote {self.name!r} ({self.url}): {error}") from error

    def check_marker(self) -> None:
        """Refuse to push unless the remote holds this workspace's marker (see remote_marker.py)."""
        from asset_platform.storage.remote_marker import MarkerError, check_or_adopt

        try:
            check_or_adopt(self._odb, self.workspace, self.name, self.url)
        except MarkerError as error:
            raise RemoteError(str(error)) from error
        except OSError as error:
            raise RemoteError(f"cannot read the marker of DVC remote {self.name!r} ({self.url}): {error}") from error

    def adopt(self) -> None:
        """Mark the remote as this workspace's (a remote started afresh on purpose)."""
        from asset_platform.storage.remote_marker import adopt

        adopt(self._odb, self.workspace)

    def has(self, oid: str) -> bool:
        return self._odb.exists(oid)

    def missing(self, oids: set[str]) -> set[str]:
        """Those of `oids` the remote does not hold (DVC picks listing or per-object queries)."""
        if not oids:
            return set()
        try:
            present = set(self._odb.oids_exist(sorted(oids)))
        except RemoteError:
            raise
        except Exception as error:
            raise RemoteError(f"cannot list DVC remote {self.name!r} ({self.url}): {error}") from error
        return oids - present

    def fetch(self, oid: str, destination: Path) -> None:
        """Download one object to `destination` (a staging path)."""
        try:
            self._odb.fs.get_file(self._odb.oid_to_path(oid), str(destination))
        except FileNotFoundError as error:
            raise RemoteError(f"DVC remote {self.name!r} ({self.url}) has no object {oid}") from error
        except Exception as error:
            raise RemoteError(f"cannot fetch {oid} from DVC remote {self.name!r} ({self.url}): {error}") from error
