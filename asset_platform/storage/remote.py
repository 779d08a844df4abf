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
            raise RemoteError(
                f"DVC remote {self.name!r} points to {self.url}, which does not exist; "
                "create it or change the remote with `dvc remote modify`"
            )
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
        try:
            return self._odb.add(paths, LocalFileSystem(), oids)
        except RemoteError:
            raise
        except Exception as error:
            raise RemoteError(f"cannot push to DVC remote {self.name!r} ({self.url}): {error}") from error

    def has(self, oid: str) -> bool:
        return self._odb.exists(oid)

    def fetch(self, oid: str, destination: Path) -> None:
        """Download one object to `destination` (a staging path)."""
        try:
            self._odb.fs.get_file(self._odb.oid_to_path(oid), str(destination))
        except FileNotFoundError as error:
            raise RemoteError(f"DVC remote {self.name!r} ({self.url}) has no object {oid}") from error
        except Exception as error:
            raise RemoteError(f"cannot fetch {oid} from DVC remote {self.name!r} ({self.url}): {error}") from error
