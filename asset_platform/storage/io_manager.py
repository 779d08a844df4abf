"""The Dagster IO manager that stores every asset output as a versioned DVC object."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from asset_platform.storage.formats import FORMAT_METADATA_KEY, is_frame
from asset_platform.storage.remote import is_local_url, missing_local_remote
from asset_platform.storage.store import HASH_ON_LOAD_MAX_BYTES, AssetStore
from asset_platform.storage.workspace import ensure_workspace

# Inputs each op loaded in this process, reported on its outputs as `dvc/inputs`.
# Steps of the in-process executor run one after another and the multiprocess
# executor gives each step its own process, so keying by op name is exact. An op
# whose outputs were handled starts afresh at its next load (a later run of it).
_LOADED_BY_OP: dict[str, dict[str, str]] = defaultdict(dict)
_OUTPUTS_HANDLED: set[str] = set()


class DvcIOManager(dg.ConfigurableIOManager):
    """Stores asset values as content-addressed DVC objects and loads them back.

    Each output is written once to DVC's cache layout, pushed to the DVC remote
    and given a `.dvc` pointer in the platform's DVC workspace; its md5 becomes
    the Dagster data version, so staleness follows content, not time.
    """

    workspace: str = Field(description="Folder of the platform's DVC workspace (created if missing).")
    remote_url: str = Field(description="URL of the DVC remote: a local folder, ssh://... or s3://...")
    remote_name: str = Field(default="storage", description="Name of the remote in .dvc/config.")
    remote_options: dict[str, str] = Field(
        default_factory=dict,
        description="Extra DVC remote settings (user, port, keyfile, endpointurl...), kept in .dvc/config.local.",
    )
    create_local_remote: bool = Field(
        default=False,
        description="Create the remote folder if it is a local path, but only while the workspace holds no "
        "version yet; later a missing remote folder fails the run, since recreating it empty would hide a loss.",
    )
    push: bool = Field(default=True, description="Push every new object to the remote.")
    verify_on_load: bool = Field(
        default=False,
        description="md5-check every object on each load, large Parquet frames too. Models, JSON and objects up "
        "to hash_on_load_max_bytes are always checked; `asset-platform storage verify` checks everything.",
    )
    hash_on_load_max_bytes: int = Field(
        default=HASH_ON_LOAD_MAX_BYTES, ge=0, description="Objects up to this size are md5-checked on every load."
    )

    _store: AssetStore | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        workspace = Path(self.workspace)
        ensure_workspace(
            workspace,
            self.remote_name,
            self.remote_url,
            self.remote_options,
            create_local_remote=self.create_local_remote,
        )
        if is_local_url(self.remote_url) and not Path(self.remote_url).is_dir():
            # Fail before any step computes: a write would fail at its push anyway.
            raise missing_local_remote(self.remote_name, self.remote_url, workspace)
        self._store = AssetStore(
            workspace,
            self.remote_name,
            push=self.push,
            verify_on_load=self.verify_on_load,
            hash_on_load_max_bytes=self.hash_on_load_max_bytes,
        )
        self._store.clean_stale_staging()

    @property
    def store(self) -> AssetStore:
        if self._store is None:
            raise RuntimeError("DvcIOManager used before setup_for_execution")
        return self._store

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        partition = context.partition_key if context.has_partition_key else None
        result = self.store.put(
            list(context.asset_key.path),
            obj,
            partition=partition,
            run_id=context.run_id,
            declared_format=context.definition_metadata.get(FORMAT_METADATA_KEY),
        )
        record = result.record
        # Dagster offers IO managers no public way to set the data version
        # (dagster issue 15584); the step context's version cache is read when the
        # materialization event is built, and a test pins this behaviour.
        context.step_context.set_data_version(context.asset_key, dg.DataVersion(record.data_version))
        entry = self.store.catalog.folder(list(context.asset_key.path), partition) / record.entry_name
        metadata: dict[str, Any] = {
            "dvc/md5": record.md5,
            "dvc/size_bytes": dg.MetadataValue.int(record.size),
            "dvc/bytes_added": dg.MetadataValue.int(result.bytes_added),
            "dvc/path": dg.MetadataValue.path(str(entry)),
            "dvc/remote": self.remote_url,
            "dvc/format": record.format,
        }
        _OUTPUTS_HANDLED.add(context.op_def.name)
        loaded = _LOADED_BY_OP.get(context.op_def.name)
        if loaded:
            metadata["dvc/inputs"] = dg.MetadataValue.json(dict(loaded))
        if is_frame(obj):
            metadata.update(frame_metadata(obj))
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        asset_path = list(context.asset_key.path)
        if not context.has_asset_partitions:
            return self._load(context, asset_path, None)
        keys = context.asset_partition_keys
        if len(keys) == 1 and context.has_partition_key:
            return self._load(context, asset_path, keys[0])
        return {key: self._load(context, asset_path, key) for key in keys}

    def _load(self, context: dg.InputContext, asset_path: list[str], partition: str | None) -> Any:
        record = self.store.record(asset_path, partition)
        label = "/".join(asset_path) + (f"[{partition}]" if partition else "")
        op_name = context.op_def.name
        if op_name in _OUTPUTS_HANDLED:
            _OUTPUTS_HANDLED.discard(op_name)
            _LOADED_BY_OP[op_name].clear()
        _LOADED_BY_OP[op_name][label] = record.data_version
        return self.store.get(asset_path, partition, record.md5, expected_format=_declared_format(context))


def _declared_format(context: dg.InputContext) -> str | None:
    """The format the upstream asset's definition declares; None (any safe format) if it declares none."""
    upstream = context.upstream_output
    metadata = (upstream.definition_metadata if upstream is not None else None) or {}
    return metadata.get(FORMAT_METADATA_KEY)


def frame_metadata(frame: Any) -> dict[str, Any]:
    """Row count and column schema of a frame, in Dagster's standard metadata keys."""
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()]
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "columns": dg.MetadataValue.int(frame.shape[1]),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
    }
