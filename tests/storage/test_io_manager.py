"""The DvcIOManager through Dagster: data versions, metadata, input lineage and partitions."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from asset_platform.storage import AssetStore, UnsafeKeyError
from asset_platform.storage.io_manager import DvcIOManager
from tests.storage.helpers import small_frame


@dg.asset
def orders() -> pd.DataFrame:
    return small_frame(seed=1)


@dg.asset
def order_summary(orders: pd.DataFrame) -> pd.DataFrame:
    return orders.groupby("device", observed=True)["pages"].sum().reset_index()


DAYS = dg.StaticPartitionsDefinition(["2026-01-01", "2026-01-02"])


@dg.asset(partitions_def=DAYS)
def daily_orders(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return small_frame(seed=int(context.partition_key[-1]))


@dg.asset
def all_days(daily_orders: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(daily_orders.values(), ignore_index=True)


@pytest.fixture
def io_manager(tmp_path: Path) -> DvcIOManager:
    return DvcIOManager(
        workspace=str(tmp_path / "dvc"), remote_url=str(tmp_path / "dvc-remote"), create_local_remote=True
    )


def _materialization(instance: dg.DagsterInstance, key: str, partition: str | None = None) -> dg.AssetMaterialization:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    if partition is not None:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]), limit=1
        ).records
        event = records[0].event_log_entry
    return event.asset_materialization


def test_output_metadata_and_data_version_come_from_the_dvc_object(io_manager: DvcIOManager, tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        dg.materialize([orders, order_summary], instance=instance, resources={"io_manager": io_manager})
        upstream = _materialization(instance, "orders")
        downstream = _materialization(instance, "order_summary")
    md5 = upstream.metadata["dvc/md5"].value
    record = AssetStore(tmp_path / "dvc").record(["orders"])
    assert md5 == record.md5
    assert upstream.tags["dagster/data_version"] == md5
    assert upstream.metadata["dvc/size_bytes"].value == record.size
    assert upstream.metadata["dvc/remote"].value == str(tmp_path / "dvc-remote")
    assert Path(upstream.metadata["dvc/path"].value) == tmp_path / "dvc" / "data" / "orders" / f"{md5}.parquet"
    assert upstream.metadata["dagster/row_count"].value == 200
    assert upstream.metadata["columns"].value == 4
    schema = upstream.metadata["dagster/column_schema"].value
    assert [(c.name, c.type) for c in schema.columns] == [
        ("price", "float64"),
        ("pages", "int64"),
        ("device", "category"),
        ("user", "object"),
    ]
    assert downstream.metadata["dvc/inputs"].value == {"orders": md5}


def test_rematerializing_unchanged_content_keeps_the_data_version(io_manager: DvcIOManager) -> None:
    with dg.instance_for_test() as instance:
        for _ in range(2):
            dg.materialize([orders], instance=instance, resources={"io_manager": io_manager})
        records = instance.fetch_materializations(dg.AssetKey("orders"), limit=2).records
    first, second = (r.event_log_entry.asset_materialization for r in records)
    assert first.tags["dagster/data_version"] == second.tags["dagster/data_version"]
    assert [m.metadata["dvc/bytes_added"].value for m in (second, first)] == [first.metadata["dvc/size_bytes"].value, 0]


def test_each_partition_is_stored_and_loaded_on_its_own(io_manager: DvcIOManager, tmp_path: Path) -> None:
    resources = {"io_manager": io_manager}
    with dg.instance_for_test() as instance:
        for day in DAYS.get_partition_keys():
            dg.materialize([daily_orders], instance=instance, resources=resources, partition_key=day)
        dg.materialize([daily_orders, all_days], instance=instance, resources=resources, selection=[all_days])
        versions = {
            day: _materialization(instance, "daily_orders", day).tags["dagster/data_version"]
            for day in DAYS.get_partition_keys()
        }
        inputs = _materialization(instance, "all_days").metadata["dvc/inputs"].value
    store = AssetStore(tmp_path / "dvc")
    assert store.catalog.partitions(["daily_orders"]) == DAYS.get_partition_keys()
    assert len(set(versions.values())) == 2
    assert inputs == {f"daily_orders[{day}]": version for day, version in versions.items()}
    assert len(store.get(["all_days"])) == 400


def test_partition_key_escaping_the_store_fails_the_run_clearly(io_manager: DvcIOManager, tmp_path: Path) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["../../etc"]))
    def sneaky() -> pd.DataFrame:
        return small_frame()

    with dg.instance_for_test() as instance, pytest.raises(UnsafeKeyError, match="partition key '../../etc'"):
        dg.materialize([sneaky], instance=instance, resources={"io_manager": io_manager}, partition_key="../../etc")
    assert not (tmp_path / "etc").exists()
