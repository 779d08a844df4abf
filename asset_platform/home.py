"""Where the platform keeps its state on one machine: the platform home.

Everything the embedded defaults write (Dagster's SQLite storage, the landing
folders, the DVC workspace with its cache, the local DVC remote) lives under one
folder, so a user can find, back up or delete it in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV_VAR = "ASSET_PLATFORM_HOME"
PROJECT_MARKERS = ("pyproject.toml", "workspace.yaml")


def project_root(start: Path | None = None) -> Path:
    """The Dagster project the current folder belongs to: the nearest folder upwards with a
    pyproject.toml or workspace.yaml (where `dagster dev` and the code servers run), else `start`."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return folder
    return start


@dataclass(frozen=True)
class PlatformHome:
    """The folders of one platform home; nothing is created until `ensure()`."""

    root: Path

    @classmethod
    def from_env(cls) -> PlatformHome:
        """The home named by $ASSET_PLATFORM_HOME, else `.platform/` in the project (see `project_root`)."""
        configured = os.environ.get(HOME_ENV_VAR)
        root = Path(configured).expanduser() if configured else project_root() / ".platform"
        return cls(root.resolve())

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def landing(self) -> Path:
        """Where upstream systems drop data files: one folder per declared model."""
        return self.root / "landing"

    @property
    def dvc_workspace(self) -> Path:
        """A DVC repository (no git) holding one `.dvc` pointer per retained version."""
        return self.root / "dvc"

    @property
    def dvc_remote(self) -> Path:
        """The default DVC remote: a local folder, as `dvc remote add` would configure."""
        return self.root / "dvc-remote"

    def ensure(self) -> PlatformHome:
        for folder in (self.dagster_home, self.landing):
            folder.mkdir(parents=True, exist_ok=True)
        return self
