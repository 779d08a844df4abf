"""The platform's DVC workspace: a git-less DVC repository under the platform home.

It holds the cache, the remote settings (`.dvc/config`, credentials in
`.dvc/config.local`, as DVC documents) and one `.dvc` pointer per retained
version, so a person with only the `dvc` CLI can pull, check out and gc it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from asset_platform.storage.catalog import has_versions
from asset_platform.storage.remote import is_local_url
from asset_platform.storage.remote_marker import ensure_local_id

# DVC's anonymous usage report and update check would try the network on every call.
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_workspace(
    workspace: Path,
    remote_name: str,
    remote_url: str,
    remote_options: Mapping[str, str] | None = None,
    *,
    create_local_remote: bool = False,
) -> bool:
    """Create the DVC workspace if missing and make its default remote match the settings.

    Returns whether the workspace was created by this call. `create_local_remote`
    creates a missing local remote folder only while the workspace holds no
    version: once versions were pushed to it, a missing remote is a loss to
    report, not a folder to recreate (see `remote.missing_local_remote`).

    Safe to call from many processes at once: set-up runs under a file lock and
    writes the config only when it differs.
    """
    with _exclusive(workspace.parent / f".{workspace.name}.setup.lock"):
        if create_local_remote and is_local_url(remote_url) and not has_versions(workspace):
            Path(remote_url).mkdir(parents=True, exist_ok=True)
        created = not (workspace / ".dvc").is_dir()
        if created:
            _init(workspace)
        _configure_remote(workspace, remote_name, remote_url, remote_options)
        # The id the remote's marker must hold; the first push to an empty remote writes it (remote_marker.py).
        ensure_local_id(workspace)
    return created


def _init(workspace: Path) -> None:
    from dvc.repo import Repo

    workspace.mkdir(parents=True, exist_ok=True)
    Repo.init(str(workspace), no_scm=True, force=True)


def _configure_remote(
    workspace: Path, remote_name: str, remote_url: str, remote_options: Mapping[str, str] | None
) -> None:
    from dvc.repo import Repo

    wanted_remote = {"url": remote_url, **dict(remote_options or {})}
    with Repo(str(workspace)) as repo:
        config = repo.config
        if (
            config["core"].get("remote") == remote_name
            and config["remote"].get(remote_name, {}).get("url") == remote_url
            and config["core"].get("analytics") is False
            and all(config["remote"][remote_name].get(k) == v for k, v in wanted_remote.items())
        ):
            return
        with config.edit("repo") as conf:
            conf["core"]["remote"] = remote_name
            conf["core"]["analytics"] = False
            conf["core"]["check_update"] = False
            conf["remote"][remote_name] = {"url": remote_url}
        if remote_options:
            # Options may hold credentials: DVC keeps those in the git-ignored config.local.
            with config.edit("local") as conf:
                conf["remote"][remote_name] = dict(remote_options)
