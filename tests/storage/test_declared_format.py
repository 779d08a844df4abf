"""The reader is chosen by the asset's declaration, never by the catalog.

`versions.jsonl` is a plain file in a shared workspace: whoever can write it could
record a version of a JSON pointer as `pickle`, pointing at a pickle whose loading
runs code. Loads accept the format the caller declares (the upstream asset's
`asset_platform/format` metadata), or any of parquet/model/json; never pickle unasked.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.storage import FORMAT_METADATA_KEY, AssetStore, FormatMismatchError, UnsupportedValueError
from asset_platform.storage.formats import read_stored
from asset_platform.storage.io_manager import DvcIOManager

POINTER = {"asset": "lgbm_model", "version": "4e1f0a9b3c2d5e6f7a8b9c0d1e2f3a4b"}


class _CreatesFile:
    """Unpickling this calls `open(path, "w")`: code run on load, made visible as a new file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def forge_pickle_version(store: AssetStore, asset_path: list[str], marker: Path) -> str:
    """Record a new latest version of `asset_path` as a pickle, as someone editing the catalog would.

    The object is a well-formed cache object (its md5 is its name), so only the
    format check can stop it.
    """
    data = pickle.dumps(_CreatesFile(marker))
    md5 = hashlib.md5(data).hexdigest()
    store.staging.mkdir(parents=True, exist_ok=True)
    staged = store.staging / "forged.pkl"
    staged.write_bytes(data)
    store.cache.insert_file(staged, md5)
    folder = store.catalog.folder(asset_path, None)
    forged = {
        "asset": "/".join(asset_path),
        "partition": None,
        "md5": md5,
        "format": "pickle",
        "size": len(data),
        "run_id": "forged",
        "created_at": time.time(),
        "files": {},
    }
    with open(folder / "versions.jsonl", "a") as history:
        history.write(json.dumps(forged) + "\n")
    (folder / "LATEST").write_text(md5)
    return md5


def test_forged_pickle_entry_for_a_json_pointer_is_refused_and_never_unpickled(store: AssetStore, tmp_path: Path):
    store.put(["champion_model"], POINTER)
    marker = tmp_path / "code-ran"
    md5 = forge_pickle_version(store, ["champion_model"], marker)

    for expected in (None, "json"):
        with pytest.raises(FormatMismatchError) as refused:
            store.get(["champion_model"], expected_format=expected)
        message = str(refused.value)
        assert f"champion_model version {md5}" in message and "format 'pickle'" in message
    assert not marker.exists(), "unpickling ran code"


def test_forged_pickle_entry_fails_the_downstream_step_and_runs_no_code(tmp_path: Path) -> None:
    @dg.asset
    def champion_model() -> dict:
        return POINTER

    @dg.asset
    def serving_config(champion_model: dict) -> dict:
        return {"serve": champion_model["version"]}

    io_manager = DvcIOManager(
        workspace=str(tmp_path / "dvc"), remote_url=str(tmp_path / "dvc-remote"), create_local_remote=True
    )
    resources = {"io_manager": io_manager}
    marker = tmp_path / "code-ran"
    with dg.instance_for_test() as instance:
        dg.materialize([champion_model], instance=instance, resources=resources)
        md5 = forge_pickle_version(AssetStore(tmp_path / "dvc"), ["champion_model"], marker)
        with pytest.raises(FormatMismatchError, match=f"champion_model version {md5}: the catalog records"):
            dg.materialize(
                [champion_model, serving_config], instance=instance, resources=resources, selection=[serving_config]
            )
    assert not marker.exists(), "unpickling ran code"


def test_an_asset_that_declares_pickle_still_loads_through_the_io_manager(tmp_path: Path) -> None:
    @dg.asset(metadata={FORMAT_METADATA_KEY: "pickle"})
    def label_set() -> set:
        return {"churn", "stay"}

    @dg.asset
    def label_count(label_set: set) -> dict:
        return {"labels": len(label_set)}

    io_manager = DvcIOManager(
        workspace=str(tmp_path / "dvc"), remote_url=str(tmp_path / "dvc-remote"), create_local_remote=True
    )
    with dg.instance_for_test() as instance:
        dg.materialize([label_set, label_count], instance=instance, resources={"io_manager": io_manager})
    store = AssetStore(tmp_path / "dvc")
    assert store.get(["label_count"]) == {"labels": 2}
    assert store.get(["label_set"], expected_format="pickle") == {"churn", "stay"}


def test_catalog_format_that_disagrees_with_the_declaration_names_asset_and_version(store: AssetStore) -> None:
    record = store.put(["spec"], {"a": 1}).record
    with pytest.raises(FormatMismatchError, match=f"spec version {record.md5}: .* format 'json' .* declares 'parquet'"):
        store.get(["spec"], expected_format="parquet")
    with pytest.raises(UnsupportedValueError, match="unknown storage format 'yaml'"):
        store.get(["spec"], expected_format="yaml")


def test_the_reader_never_unpickles_unless_told_to(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "object.pkl"
    path.write_bytes(pickle.dumps(_CreatesFile(marker)))
    with pytest.raises(UnsupportedValueError, match="refusing to unpickle"):
        read_stored(path, "pickle")
    assert not marker.exists()
