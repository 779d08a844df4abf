"""Loads check content, not only size: same-size damage is refetched from the remote, never served.

Bit rot and partial overwrites keep a file's size. A damaged LightGBM text model
still parses and predicts something else; a damaged JSON pointer names another
version. Models, JSON and objects up to `HASH_ON_LOAD_MAX_BYTES` are md5-checked
on every load; larger Parquet frames when `verify_on_load` is set.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from asset_platform.storage import AssetStore, IntegrityError
from asset_platform.storage.hashing import md5_file
from asset_platform.storage.io_manager import DvcIOManager
from tests.storage.helpers import flip_byte, small_frame, small_lgbm_model, swap_digit

POINTER = {"asset": "lgbm_model", "reason": "better holdout AUC", "version": "4e1f0a9b3c2d5e6f7a8b9c0d1e2f3a4b"}
GRID = pd.DataFrame({"a": np.linspace(-2, 2, 9), "b": np.linspace(1, -1, 9), "c": np.zeros(9)})


def _remote_object(remote: Path, oid: str) -> Path:
    return remote / "files" / "md5" / oid[:2] / oid[2:]


def test_same_size_corruption_of_a_model_is_refetched_never_served(store: AssetStore) -> None:
    model = small_lgbm_model()
    record = store.put(["lgbm_model"], model).record
    text_md5, text_size = record.files["model.txt"]
    swap_digit(store.cache.path(text_md5), after=b"leaf_value=")
    assert store.cache.path(text_md5).stat().st_size == text_size, "the damage keeps the size"

    loaded = store.get(["lgbm_model"])

    assert loaded.predict_proba(GRID).tolist() == model.predict_proba(GRID).tolist()
    assert md5_file(store.cache.path(text_md5)) == text_md5, "the cache object was replaced by the remote's copy"
    entry = store.catalog.folder(["lgbm_model"], None) / record.entry_name
    assert md5_file(entry / "model.txt") == text_md5, "the workspace copy links the good object"


def test_same_size_corruption_of_a_json_pointer_is_refetched_never_served(store: AssetStore) -> None:
    record = store.put(["champion_model"], POINTER).record
    swap_digit(store.cache.path(record.md5), after=b'"version": "')

    assert store.get(["champion_model"]) == POINTER
    assert md5_file(store.cache.path(record.md5)) == record.md5


def test_damaged_model_copy_in_the_workspace_is_relinked_never_served(store: AssetStore) -> None:
    model = small_lgbm_model()
    record = store.put(["lgbm_model"], model).record
    entry = store.catalog.folder(["lgbm_model"], None) / record.entry_name
    # A copy instead of a hard link (another filesystem, a `dvc checkout --relink`), then damaged in place.
    copied = (entry / "model.txt").read_bytes()
    (entry / "model.txt").unlink()
    (entry / "model.txt").write_bytes(copied)
    swap_digit(entry / "model.txt", after=b"leaf_value=")

    assert store.get(["lgbm_model"]).predict_proba(GRID).tolist() == model.predict_proba(GRID).tolist()
    assert md5_file(entry / "model.txt") == record.files["model.txt"][0]


def test_damaged_model_without_a_good_copy_raises_naming_asset_partition_and_version(
    store: AssetStore, remote: Path
) -> None:
    record = store.put(["lgbm_model"], small_lgbm_model(), partition="2026-01-01").record
    text_md5 = record.files["model.txt"][0]
    swap_digit(store.cache.path(text_md5), after=b"leaf_value=")
    _remote_object(remote, text_md5).unlink()

    with pytest.raises(IntegrityError) as refused:
        store.get(["lgbm_model"], partition="2026-01-01")
    assert f"lgbm_model[2026-01-01] version {record.data_version}" in str(refused.value)
    assert "could not be refetched" in str(refused.value)


def test_json_whose_remote_copy_is_damaged_too_raises_never_returns(store: AssetStore, remote: Path) -> None:
    record = store.put(["champion_model"], POINTER).record
    swap_digit(store.cache.path(record.md5), after=b'"version": "')
    swap_digit(_remote_object(remote, record.md5), after=b'"version": "')

    with pytest.raises(IntegrityError, match=f"champion_model version {record.md5}: .* the remote's copy .* is too"):
        store.get(["champion_model"])


def test_catalog_file_list_that_disagrees_with_the_folder_object_is_refused(store: AssetStore) -> None:
    record = store.put(["lgbm_model"], small_lgbm_model()).record
    other = store.put(["other_model"], small_lgbm_model(seed=1)).record
    history = store.catalog.folder(["lgbm_model"], None) / "versions.jsonl"
    entry = json.loads(history.read_text())
    # A catalog edited to load another model's estimator under this version's name.
    entry["files"]["model.txt"] = other.files["model.txt"]
    history.write_text(json.dumps(entry) + "\n")

    with pytest.raises(IntegrityError, match=f"lgbm_model version {record.data_version}: the file list .* does not"):
        store.get(["lgbm_model"])


def test_large_frames_are_size_checked_by_default_and_hashed_with_verify_on_load(workspace: Path) -> None:
    lean = AssetStore(workspace, hash_on_load_max_bytes=1024)
    record = lean.put(["events"], small_frame()).record
    assert record.size > 1024 and not lean.hashes_on_load(record)
    assert lean.hashes_on_load(lean.put(["spec"], {"a": 1}).record), "JSON is hashed whatever its size"
    strict = AssetStore(workspace, verify_on_load=True, hash_on_load_max_bytes=1024)
    assert strict.hashes_on_load(record)
    flip_byte(strict.cache.path(record.md5), offset=record.size // 2)

    pd.testing.assert_frame_equal(strict.get(["events"]), small_frame())
    assert md5_file(strict.cache.path(record.md5)) == record.md5


@dg.asset
def orders() -> pd.DataFrame:
    return small_frame(seed=1)


@dg.asset
def order_count(orders: pd.DataFrame) -> dict:
    return {"rows": len(orders), "pages": int(orders["pages"].sum())}


def test_io_manager_verify_on_load_refetches_a_damaged_large_frame(tmp_path: Path) -> None:
    io_manager = DvcIOManager(
        workspace=str(tmp_path / "dvc"),
        remote_url=str(tmp_path / "dvc-remote"),
        create_local_remote=True,
        verify_on_load=True,
        hash_on_load_max_bytes=0,  # every frame counts as large here
    )
    with dg.instance_for_test() as instance:
        dg.materialize([orders], instance=instance, resources={"io_manager": io_manager})
        store = AssetStore(tmp_path / "dvc")
        record = store.record(["orders"])
        flip_byte(store.cache.path(record.md5), offset=record.size // 2)
        dg.materialize(
            [orders, order_count], instance=instance, resources={"io_manager": io_manager}, selection=[order_count]
        )
    assert store.get(["order_count"]) == {"rows": 200, "pages": int(small_frame(seed=1)["pages"].sum())}
    assert md5_file(store.cache.path(record.md5)) == record.md5
