"""A small ecommerce loop to attack: one trained home, copied per module (or per fault case), never changed.

The declaration is the ecommerce example with its LightGBM family only, so the
baseline trains in seconds; everything the faults touch (landing, contract,
sensors, storage, registry, runs) is the example's. Used by the tests here and
by `benchmarks/faults.py`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd

from asset_platform.app.demo import HISTORY_START, LoopState
from asset_platform.declaration import ModelDeclaration
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import PREDICTIONS
from asset_platform.synthetic import write_batches
from asset_platform.synthetic.landing import write_labels, write_production_day

MODEL = "ecommerce"
HISTORY_DAYS, ROWS, SEED = 6, 800, 7
LGBM = {"family": "lightgbm", "name": "lgbm_model", "params": {"max_rounds": 60, "early_stopping_rounds": 10}}


def declaration(settle_seconds: float = 0) -> ModelDeclaration:
    """The ecommerce example with one fast model family; `settle_seconds` as its landing declares."""
    from assets.ecommerce import ecommerce

    fields = ecommerce.model_dump(exclude_unset=True)
    fields["models"] = [LGBM]
    fields["landing"] = {**fields.get("landing", {}), "settle_seconds": settle_seconds}
    return ModelDeclaration(**fields)


def day_of(index: int) -> dt.date:
    """The date of production day `index` (day 0 follows the history)."""
    return HISTORY_START + dt.timedelta(days=HISTORY_DAYS + index)


def open_instance(home: PlatformHome) -> dg.DagsterInstance:
    from asset_platform.app.serve import prepare_dagster_home

    return dg.DagsterInstance.from_config(str(prepare_dagster_home(home)))


def open_loop(
    home: PlatformHome, instance: dg.DagsterInstance, settle_seconds: float = 0, model: ModelDeclaration | None = None
) -> LoopState:
    """The loop of the declaration (or `model`) on `home`: definitions built with the home's resources, nothing run."""
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    model = model or declaration(settle_seconds)
    resources = local_resources(home)
    defs = build_definitions([model], resources)
    landing = resources["landing"].for_model(model).ensure()
    return LoopState(instance, defs, lifecycle_names(model), landing)


def train_home(root: Path) -> PlatformHome:
    """A platform home at `root` with the history landed and the baseline trained (the champion)."""
    home = PlatformHome(root).ensure()
    with env(home), open_instance(home) as instance:
        state = open_loop(home, instance)
        write_batches(state.landing.history, HISTORY_START, HISTORY_DAYS, ROWS, seed=SEED)
        result = state.defs.resolve_job_def(state.names.training_job).execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert result.success, "the baseline must train"
    return home


def copy_home(trained: PlatformHome, root: Path) -> PlatformHome:
    """A copy of a trained home (Dagster storage, DVC workspace and remote, landing) at `root`."""
    shutil.copytree(trained.root, root, symlinks=True)
    (root / "platform.lock").unlink(missing_ok=True)
    return PlatformHome(root).ensure()


@contextmanager
def env(home: PlatformHome) -> Iterator[PlatformHome]:
    """$ASSET_PLATFORM_HOME and $DAGSTER_HOME point at `home` for the block (the CLI reads them)."""
    saved = {name: os.environ.get(name) for name in ("ASSET_PLATFORM_HOME", "DAGSTER_HOME")}
    os.environ["ASSET_PLATFORM_HOME"] = str(home.root)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def loop_on(
    home: PlatformHome, settle_seconds: float = 0, model: ModelDeclaration | None = None
) -> Iterator[LoopState]:
    """The loop on `home` (of the declaration, or `model`) for the block, with its environment and instance."""
    with env(home), open_instance(home) as instance:
        yield open_loop(home, instance, settle_seconds, model)


def land(state: LoopState, index: int, scenario: str | None = None) -> tuple[Path, pd.DataFrame]:
    """Production day `index`: the batch lands now (renamed into place); its labels are returned for later."""
    return write_production_day(state.landing.production, day_of(index), ROWS, SEED, scenario)


def land_labels(state: LoopState, index: int, labels: pd.DataFrame) -> Path:
    return write_labels(state.landing.labels, day_of(index), labels)


def batch_frame(index: int, scenario: str | None = None) -> pd.DataFrame:
    """Day `index` as the generator makes it, the label included (for hand-made bad files)."""
    from asset_platform.synthetic.datasets import demo_dataset

    return demo_dataset(MODEL).generate(ROWS, day_of(index), SEED, scenario, 1.0)


def evaluate(state: LoopState, sensor_name: str) -> dg.SensorResult:
    """One evaluation of a sensor from its stored cursor, without running what it asks for.

    The sensor gets the resources it declares, as under the daemon (a resource it
    does not use, such as a storage whose remote is lost, cannot stop it).
    """
    sensor = state.defs.resolve_sensor_def(sensor_name)
    resources = {key: state.defs.resources[key] for key in sensor.required_resource_keys}
    context = dg.build_sensor_context(
        instance=state.instance,
        cursor=state.cursors.get(sensor_name),
        definitions=state.defs,
        resources=resources,
        sensor_name=sensor_name,
    )
    result = sensor(context)
    state.cursors[sensor_name] = result.cursor
    for request in result.dynamic_partitions_requests or []:
        state.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def run_tick(state: LoopState, sensor_name: str) -> list[dg.ExecuteInProcessResult]:
    """Evaluate a sensor and run what it requests, as the daemon would (a run key is launched once)."""
    sensor = state.defs.resolve_sensor_def(sensor_name)
    results = []
    for request in evaluate(state, sensor_name).run_requests or []:
        if state.instance.get_runs_count(dg.RunsFilter(tags={"dagster/run_key": request.run_key})):
            continue
        tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": sensor_name}
        job = state.defs.resolve_job_def(request.job_name or sensor.job_name)
        results.append(
            job.execute_in_process(
                instance=state.instance,
                tags=tags,
                partition_key=request.partition_key,
                raise_on_error=False,
                run_config={**(request.run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        )
    return results


def skip_reason(state: LoopState, sensor_name: str) -> str:
    """The sensor's skip reason right now (it must request nothing)."""
    result = evaluate(state, sensor_name)
    assert not result.run_requests, f"{sensor_name} unexpectedly requested {result.run_requests}"
    return result.skip_reason.skip_message or "" if result.skip_reason else ""


def scored(state: LoopState, batch: str) -> bool:
    """Has batch `batch` stored predictions?"""
    records = state.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=state.names.key(PREDICTIONS), asset_partitions=[batch]), limit=1
    )
    return bool(records.records)


def partitions(state: LoopState) -> list[str]:
    return list(state.instance.get_dynamic_partitions(state.names.partitions))


def runs(state: LoopState, job: str, status: dg.DagsterRunStatus | None = None) -> list[dg.DagsterRun]:
    statuses = [status] if status else None
    return list(state.instance.get_runs(dg.RunsFilter(job_name=job, statuses=statuses)))


def quarantined(state: LoopState) -> dict[str, str]:
    """Quarantined file name -> its reason note."""
    folder = state.landing.quarantine
    if not folder.is_dir():
        return {}
    return {
        path.name: path.with_name(path.name + ".reason.txt").read_text()
        for path in folder.iterdir()
        if not path.name.endswith(".reason.txt")
    }


def files_bytes(folder: Path) -> int:
    """Bytes of every regular file under `folder` (links not followed), to count what a fault lost."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def stored_objects(
    home: PlatformHome,
    asset_path: list[str],
    partition: str | None = None,
    workspace: bool = True,
    version: str | None = None,
) -> list[Path]:
    """Every copy of the latest (or `version`) version of an asset (partition) in `home`: its cache and
    remote objects and, with `workspace`, its DVC workspace files (the last copy a restore can use)."""
    from asset_platform.storage import AssetStore

    store = AssetStore(home.dvc_workspace)
    record = store.record(asset_path, partition, version)
    paths = []
    for oid in [record.md5, *(md5 for md5, _size in record.files.values())]:
        paths += [store.cache.path(oid), home.dvc_remote / "files" / "md5" / oid[:2] / oid[2:]]
    if workspace:
        entry = store.catalog.folder(asset_path, partition) / record.entry_name
        paths += [entry / relpath for relpath in record.files] if record.is_dir else [entry]
    return [path for path in paths if path.exists()]


def champion_objects(state: LoopState, home: PlatformHome, workspace: bool = True) -> list[Path]:
    """Every copy of the champion model's version (see `stored_objects`)."""
    from asset_platform.registry.models import lineup_for

    champion = lineup_for(state.defs.resources["registry"], state.names).champion()
    assert champion is not None
    return stored_objects(home, champion.model_asset.split("/"), workspace=workspace, version=champion.version)


def hide(paths: list[Path], aside: Path) -> list[tuple[Path, Path]]:
    """Move files away (a lost cache object and its remote copy); returns the moves for `restore`."""
    aside.mkdir(parents=True, exist_ok=True)
    moves = [(path, aside / f"{index}-{path.name}") for index, path in enumerate(paths)]
    for source, target in moves:
        os.replace(source, target)
    return moves


def restore(moves: list[tuple[Path, Path]]) -> None:
    for source, target in moves:
        os.replace(target, source)


def run_text(state: LoopState, run_id: str) -> str:
    """Everything a run's event log says (messages and error details), to check what it names."""
    parts = []
    for entry in state.instance.all_logs(run_id):
        parts.append(entry.user_message or "")
        if entry.dagster_event is not None:
            parts.append(str(entry.dagster_event.event_specific_data))
    return "\n".join(parts)


def write_batch_file(path: Path, index: int, **columns) -> Path:
    """Day `index` as a production batch (no label) written straight to `path`; `columns` overrides columns."""
    frame = batch_frame(index).drop(columns=["converted"])
    for column, value in columns.items():
        frame[column] = value
    frame.to_parquet(path, index=False)
    return path


class CreatesFile:
    """Unpickling this calls `open(path, "w")`: code run on load, made visible as a new file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def forge_pickle_version(home: PlatformHome, asset_path: list[str], marker: Path) -> str:
    """Record a pickle as the latest version of `asset_path`, as anyone with write access to the workspace could.

    The object is a well-formed cache object (its md5 is its name): only the reader's format check can stop it.
    """
    import hashlib
    import json
    import pickle
    import time

    from asset_platform.storage import AssetStore

    store = AssetStore(home.dvc_workspace)
    data = pickle.dumps(CreatesFile(marker))
    md5 = hashlib.md5(data).hexdigest()
    store.staging.mkdir(parents=True, exist_ok=True)
    staged = store.staging / "forged.pkl"
    staged.write_bytes(data)
    store.cache.insert_file(staged, md5)
    folder = store.catalog.folder(asset_path, None)
    entry = {
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
        history.write(json.dumps(entry) + "\n")
    (folder / "LATEST").write_text(md5)
    return md5
