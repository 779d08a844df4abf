"""Rebuild a model version from its exact recorded inputs and configuration.

The inputs are the DVC versions the original materialization loaded (its
`dvc/inputs` metadata) and the config is the original run's; the model asset's
own function is called on them, and the result's bytes are hashed exactly as
the storage would store them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from asset_platform.storage import AssetStore
from asset_platform.storage.cache import ObjectCache
from asset_platform.storage.formats import write_staged


@dataclass
class Reproduction:
    asset: str
    version: str
    rebuilt_version: str
    inputs: dict[str, str]
    config: dict[str, Any]
    metric_differences: dict[str, float] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return self.version == self.rebuilt_version


def reproduce(
    instance: dg.DagsterInstance,
    store: AssetStore,
    assets_def: dg.AssetsDefinition,
    config_type: type[dg.Config] | None,
    record: dg.EventLogRecord,
) -> Reproduction:
    """Retrain the model of `record` (a materialization event) and compare the bytes."""
    materialization = record.asset_materialization
    asset = materialization.asset_key.to_user_string()
    version = materialization.tags["dagster/data_version"]
    inputs = materialization.metadata["dvc/inputs"].value
    run = instance.get_run_by_id(record.run_id)
    op_config = (run.run_config.get("ops", {}).get(assets_def.op.name, {}) if run else {}).get("config", {})
    kwargs: dict[str, Any] = {name: store.get([name], None, md5) for name, md5 in inputs.items()}
    if config_type is not None:
        kwargs["config"] = config_type(**op_config)
    result = assets_def(**kwargs)
    original = store.get([asset], None, version)
    rebuilt_version = _stored_version(result.value)
    differences = {
        name: result.value.metrics[name] - value
        for name, value in original.metrics.items()
        if name in result.value.metrics and result.value.metrics[name] != value
    }
    return Reproduction(asset, version, rebuilt_version, dict(inputs), op_config, differences)


def _stored_version(model: Any) -> str:
    """The data version `model` would get if stored: its folder's DVC md5."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        staged = write_staged(model, "model", root / "model")
        oid, _files, _added = ObjectCache(root / "cache").insert_tree(staged.path, root)
    return oid.removesuffix(".dir")
