"""AssetStore, cache and catalog on their own: layout, versions, keys, retention, integrity, errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from dvc_data.hashfile.tree import Tree

from asset_platform.storage import (
    AssetStore,
    FormatMismatchError,
    IntegrityError,
    RemoteError,
    UnsafeKeyError,
    UnsupportedValueError,
    VersionNotFoundError,
)
from asset_platform.storage.cache import CacheError
from asset_platform.storage.hashing import md5_file
from tests.storage.helpers import files_under, flip_byte, small_frame, small_model, truncate


def test_frame_is_one_parquet_object_in_dvc_layout(store: AssetStore, remote: Path) -> None:
    frame = small_frame()
    result = store.put(["events"], frame, run_id="run-1")
    oid = result.record.md5
    cached = store.workspace / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]
    assert re.fullmatch(r"[0-9a-f]{32}", oid)
    assert md5_file(cached) == oid
    assert result.record.size == cached.stat().st_size == result.bytes_added
    assert cached.stat().st_mode & 0o777 == 0o444, "cache objects are read-only, like DVC's"
    assert (remote / "files" / "md5" / oid[:2] / oid[2:]).read_bytes() == cached.read_bytes()
    assert result.pushed == 1
    assert cached.read_bytes()[:4] == b"PAR1"
    pd.testing.assert_frame_equal(store.get(["events"]), frame)


def test_identical_content_adds_no_bytes_and_keeps_the_version(store: AssetStore, remote: Path) -> None:
    first = store.put(["events"], small_frame(), run_id="run-1")
    cache_before, remote_before = files_under(store.workspace / ".dvc" / "cache"), files_under(remote)
    second = store.put(["events"], small_frame(), run_id="run-2")
    assert second.record.md5 == first.record.md5
    assert (second.bytes_added, second.pushed) == (0, 0)
    assert files_under(store.workspace / ".dvc" / "cache") == cache_before
    assert files_under(remote) == remote_before
    assert len(store.catalog.history(["events"], None)) == 2
    assert [r.run_id for r in store.catalog.retained(["events"], None)] == ["run-2"]


def test_model_folder_is_a_dir_object_dvc_would_write(store: AssetStore) -> None:
    model = small_model()
    record = store.put(["model"], model).record
    assert record.is_dir and record.format == "model"
    manifest = (store.workspace / ".dvc" / "cache" / "files" / "md5" / record.md5[:2] / record.md5[2:]).read_bytes()
    assert md5_file_bytes(manifest) == record.data_version
    # DVC's own serialization of the same listing must give the same bytes, hence the same md5.
    assert Tree.from_list(json.loads(manifest)).as_bytes() == manifest
    assert sorted(record.files) == ["model.json", "model.skops"]
    loaded = store.get(["model"])
    frame = pd.DataFrame({"a": [0.5, -1.0], "b": [0.0, 1.0], "c": [2.0, 0.0]})
    assert loaded.predict_proba(frame).tolist() == model.predict_proba(frame).tolist()
    assert store.put(["model"], small_model()).record.md5 == record.md5, "an equal model gets the same version"


def md5_file_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data).hexdigest()


def test_json_and_opt_in_pickle(store: AssetStore) -> None:
    store.put(["spec"], {"b": 1, "a": [1, 2]})
    assert store.get(["spec"]) == {"a": [1, 2], "b": 1}
    with pytest.raises(UnsupportedValueError, match="asset thing: cannot store a set"):
        store.put(["thing"], {1, 2})
    store.put(["thing"], {1, 2}, declared_format="pickle")
    assert store.get(["thing"], expected_format="pickle") == {1, 2}
    with pytest.raises(FormatMismatchError, match="thing version .* format 'pickle'"):
        store.get(["thing"])  # a pickle loads only when the caller declares it


def test_versions_load_by_md5_prefix_or_run_id(store: AssetStore) -> None:
    records = [store.put(["events"], small_frame(seed), run_id=f"run-{seed}").record for seed in range(3)]
    pd.testing.assert_frame_equal(store.get(["events"]), small_frame(2))
    pd.testing.assert_frame_equal(store.get(["events"], version=records[0].md5[:8]), small_frame(0))
    pd.testing.assert_frame_equal(store.get(["events"], version="run-1"), small_frame(1))
    assert store.record(["events"], version="run-0").md5 == records[0].md5
    with pytest.raises(VersionNotFoundError, match="events has no version or run id 'feedface'"):
        store.get(["events"], version="feedface")
    with pytest.raises(VersionNotFoundError, match="has no version or run id"):
        store.get(["events"], version=records[0].md5[:3])  # too short to be a version


def test_asset_without_versions_says_so(store: AssetStore) -> None:
    with pytest.raises(VersionNotFoundError, match="asset never_built has no stored version yet"):
        store.get(["never_built"])


def test_each_partition_is_its_own_object(store: AssetStore) -> None:
    first = store.put(["daily"], small_frame(1), partition="2026-01-01").record
    second = store.put(["daily"], small_frame(2), partition="2026-01-02").record
    assert first.md5 != second.md5
    assert store.catalog.partitions(["daily"]) == ["2026-01-01", "2026-01-02"]
    assert (store.workspace / "data" / "daily" / "2026-01-02" / f"{second.md5}.parquet.dvc").is_file()
    pd.testing.assert_frame_equal(store.get(["daily"], partition="2026-01-01"), small_frame(1))
    assert store.catalog.stored() == [(["daily"], "2026-01-01"), (["daily"], "2026-01-02")]


@pytest.mark.parametrize("partition", ["../../etc", "..", "a/b", ".hidden", "", "x" * 201])
def test_unsafe_partition_keys_are_rejected_before_writing(store: AssetStore, partition: str) -> None:
    with pytest.raises(UnsafeKeyError, match=f"partition key {re.escape(repr(partition))} cannot be stored"):
        store.put(["daily"], small_frame(), partition=partition)
    assert not (store.workspace / "data").exists()
    assert not (store.workspace.parent / "etc").exists()


@pytest.mark.parametrize("asset_path", [["..", "..", "etc"], ["../../etc"], ["ok", "/abs"], []])
def test_unsafe_asset_keys_are_rejected(store: AssetStore, asset_path: list[str]) -> None:
    with pytest.raises(UnsafeKeyError, match="asset key"):
        store.put(asset_path, small_frame())


def test_prune_keeps_the_newest_and_never_the_latest(store: AssetStore) -> None:
    records = [store.put(["events"], small_frame(seed), run_id=f"run-{seed}").record for seed in range(4)]
    folder = store.catalog.folder(["events"], None)
    dropped = store.prune(["events"], None, keep=2)
    assert [r.md5 for r in dropped] == [records[1].md5, records[0].md5]
    assert not (folder / f"{records[0].entry_name}.dvc").exists()
    assert not (folder / records[0].entry_name).exists()
    assert [r.md5 for r in store.catalog.retained(["events"], None)] == [records[3].md5, records[2].md5]
    assert len(store.catalog.history(["events"], None)) == 4, "history stays for the audit trail"
    with pytest.raises(ValueError, match="keep must be at least 1"):
        store.prune(["events"], None, keep=0)


def test_truncated_object_is_refetched_from_the_remote(store: AssetStore) -> None:
    record = store.put(["events"], small_frame()).record
    cached = store.cache.path(record.md5)
    truncate(cached)
    pd.testing.assert_frame_equal(store.get(["events"]), small_frame())
    assert md5_file(cached) == record.md5
    entry = store.catalog.folder(["events"], None) / record.entry_name
    assert md5_file(entry) == record.md5, "the workspace copy is relinked to the good object"


def test_damage_without_a_good_copy_names_asset_and_version(store: AssetStore, remote: Path) -> None:
    record = store.put(["events"], small_frame(), partition="p1").record
    (remote / "files" / "md5" / record.md5[:2] / record.md5[2:]).unlink()
    truncate(store.cache.path(record.md5))
    with pytest.raises(IntegrityError, match=rf"events\[p1\] version {record.md5}: cache object .* could not be"):
        store.get(["events"], partition="p1")


def test_verify_finds_same_size_corruption_and_repairs_it(store: AssetStore) -> None:
    record = store.put(["events"], small_frame()).record
    flip_byte(store.cache.path(record.md5))
    problems = store.verify(["events"])
    assert len(problems) == 1 and record.md5 in problems[0] and "refetched" in problems[0]
    assert store.cache.content_ok(record.md5)
    assert store.verify(["events"]) == []


def test_verify_reports_when_the_remote_copy_is_damaged_too(store: AssetStore, remote: Path) -> None:
    record = store.put(["events"], small_frame()).record
    flip_byte(store.cache.path(record.md5))
    flip_byte(remote / "files" / "md5" / record.md5[:2] / record.md5[2:])
    with pytest.raises(IntegrityError, match=f"events version {record.md5}: .* the remote's copy .* is too"):
        store.verify(["events"])
    assert store.cache.path(record.md5).exists(), "a damaged object is kept until a good copy replaces it"


def test_damaged_file_of_a_model_folder_is_refetched(store: AssetStore) -> None:
    record = store.put(["model"], small_model()).record
    skops_md5 = record.files["model.skops"][0]
    truncate(store.cache.path(skops_md5))
    assert store.get(["model"]).flavor == "sklearn"
    entry = store.catalog.folder(["model"], None) / record.entry_name
    assert md5_file(entry / "model.skops") == skops_md5


def test_verify_relinks_a_repaired_model_folder(store: AssetStore) -> None:
    record = store.put(["model"], small_model()).record
    skops_md5 = record.files["model.skops"][0]
    flip_byte(store.cache.path(skops_md5))
    assert len(store.verify(["model"])) == 1
    entry = store.catalog.folder(["model"], None) / record.entry_name
    assert md5_file(entry / "model.skops") == skops_md5


def test_missing_remote_is_named_and_nothing_stored_is_lost(store: AssetStore, remote: Path) -> None:
    first = store.put(["events"], small_frame(1)).record
    remote.rename(remote.with_name("unmounted"))
    fresh = AssetStore(store.workspace)
    with pytest.raises(RemoteError, match=f"points to {re.escape(str(remote))}, which does not exist"):
        fresh.put(["events"], small_frame(2))
    assert fresh.record(["events"]).md5 == first.md5
    pd.testing.assert_frame_equal(fresh.get(["events"]), small_frame(1))


def test_unreadable_cache_is_named_and_nothing_stored_is_lost(store: AssetStore) -> None:
    store.put(["events"], small_frame(1))
    cache = store.workspace / ".dvc" / "cache"
    # Tests run as root, which reads through chmod 000: a file where the folder should be is unreadable to all.
    cache.rename(cache.with_name("cache-aside"))
    cache.write_text("not a folder")
    with pytest.raises(CacheError, match=re.escape(str(cache))):
        store.get(["events"])
    with pytest.raises(CacheError, match=re.escape(str(cache))):
        store.put(["events"], small_frame(2))
    assert list(store.staging.iterdir()) == [], "a failed put leaves nothing in staging"
    cache.unlink()
    cache.with_name("cache-aside").rename(cache)
    pd.testing.assert_frame_equal(store.get(["events"]), small_frame(1))


def test_stale_staging_leftovers_are_cleaned(store: AssetStore) -> None:
    store.staging.mkdir(parents=True)
    old, fresh = store.staging / "killed-writer.parquet", store.staging / "running-writer.parquet"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    store.clean_stale_staging()
    assert not old.exists() and fresh.exists()


def test_catalog_lists_every_stored_asset(store: AssetStore) -> None:
    store.put(["team", "events"], small_frame())
    store.put(["spec"], {"a": 1})
    assert store.catalog.stored() == [(["spec"], None), (["team", "events"], None)]
    shutil.rmtree(store.workspace / "data")
    assert store.catalog.stored() == []
