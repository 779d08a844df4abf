"""A DVC workspace with a local remote, copied from one template so each test starts fresh and fast."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from asset_platform.storage import AssetStore
from asset_platform.storage.workspace import ensure_workspace


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # `dvc init` costs a few tenths of a second: do it once and copy the result.
    template = tmp_path_factory.mktemp("template") / "dvc"
    ensure_workspace(template, "storage", str(template.parent / "unused-remote"))
    return template


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    folder = tmp_path / "dvc-remote"
    folder.mkdir()
    return folder


@pytest.fixture
def workspace(tmp_path: Path, remote: Path, workspace_template: Path) -> Path:
    folder = tmp_path / "dvc"
    shutil.copytree(workspace_template, folder)
    ensure_workspace(folder, "storage", str(remote))
    return folder


@pytest.fixture
def store(workspace: Path) -> AssetStore:
    return AssetStore(workspace)
