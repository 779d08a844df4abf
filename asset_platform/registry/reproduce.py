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
    instance: dg.DagsterInstance, store: AssetStore, assets_def: dg.AssetsDefinition, record: dg.EventLogRecord
) -> Reproduction:
    """Retrain the model of `record` (a materialization event) and compare the bytes.

    Model assets take no run config: the recorded inputs and the family spec
    recorded in the model (its declaration at training time) determine the rebuild.
    """
    materialization = record.asset_materialization
    asset = materialization.asset_key.to_user_string()
    version = materialization.tags["dagster/data_version"]
    inputs = materialization.metadata["dvc/inputs"].value
    # Input names of the asset function, by the asset key each one loads.
    parameters = {key.to_user_string(): name for name, key in assets_def.keys_by_input_name.items()}
    kwargs: dict[str, Any] = {}
    for label, md5 in inputs.items():
        if label not in parameters:
            raise LookupError(f"{asset} {version}: recorded input {label} is not an input of the asset any more")
        kwargs[parameters[label]] = store.get(label.split("/"), None, md5)
    original = store.get(asset.split("/"), None, version)
    recorded = original.extra.get("declaration")
    if recorded and {"training_set", "holdout_set", "feature_pipeline"} <= set(kwargs):
        # The spec the model was trained with, not today's declaration: a version trained
        # before a params change still rebuilds byte-identically.
        # `train_model` writes all of the stored model; the asset adds only Dagster metadata.
        from asset_platform.declaration import ModelFamilySpec
        from asset_platform.registry.training import train_model

        spec = ModelFamilySpec(**recorded["family"])
        recall = recorded.get("metric_recall")
        rebuilt = train_model(recorded["model"], original.task, spec, **kwargs, recall=recall)[0].model
    else:
        rebuilt = assets_def(**kwargs).value
    rebuilt_version = _stored_version(rebuilt)
    differences = {
        name: rebuilt.metrics[name] - value
        for name, value in original.metrics.items()
        if name in rebuilt.metrics and rebuilt.metrics[name] != value
    }
    return Reproduction(asset, version, rebuilt_version, dict(inputs), {}, differences)


def _stored_version(model: Any) -> str:
    """The data version `model` would get if stored: its folder's DVC md5."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        staged = write_staged(model, "model", root / "model")
        oid, _files, _added = ObjectCache(root / "cache").insert_tree(staged.path, root)
    return oid.removesuffix(".dir")
