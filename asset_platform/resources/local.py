"""Embedded defaults: everything under the platform home, no server needed."""

from __future__ import annotations

from typing import Any

from asset_platform.batch_engine import BatchEngine
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.home import PlatformHome
from asset_platform.landing import LandingZone
from asset_platform.notify import notifier_from_env
from asset_platform.registry.models import ModelRegistry
from asset_platform.storage.io_manager import DvcIOManager
from asset_platform.tuning.storage import TuningStore, configured_url


def local_resources(home: PlatformHome | None = None) -> dict[str, Any]:
    home = home or PlatformHome.from_env()
    return {
        "io_manager": DvcIOManager(
            workspace=str(home.dvc_workspace), remote_url=str(home.dvc_remote), create_local_remote=True
        ),
        "drift_monitor": DriftMonitor(),
        # Production batches read, scored and summarized in chunks: a step's memory does not grow with the batch.
        "batch_engine": BatchEngine(),
        "registry": ModelRegistry(workspace=str(home.dvc_workspace)),
        # Run log always; webhook and Slack when their environment variables are set.
        "notifier": notifier_from_env(),
        "landing": LandingZone(root=str(home.landing)),
        # Studies under this home, unless $ASSET_PLATFORM_TUNING_DB names a database.
        "tuning_store": TuningStore(url=configured_url(), home=str(home.root)),
    }
