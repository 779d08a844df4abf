"""Delayed labels of a declared model's scored batch → its realized performance is computed.

A labels file is taken only once its batch has predictions; until then it waits
(named in the skip reason) rather than being recorded and forgotten.
"""

from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.landing import LandingZone
from asset_platform.lifecycle.names import PREDICTIONS, LifecycleNames
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.storage.hashing import md5_file
from sensors.cursor import dump_cursor, load_cursor


def build_labels_sensor(declaration: ModelDeclaration, names: LifecycleNames, job: Any) -> dg.SensorDefinition:
    @dg.sensor(
        name=names.labels_sensor,
        job=job,
        minimum_interval_seconds=30,
        description=f"Delayed labels of a scored {declaration.name} batch → its realized "
        f"{declaration.metric_name} (performance).",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def labels_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        state = load_cursor(context.cursor)
        model_landing = landing.for_model(declaration)
        requests, waiting = [], []
        for key in model_landing.labeled_batches():
            if not _scored(context.instance, names.key(PREDICTIONS), key):
                waiting.append(key)
                continue
            try:
                md5 = md5_file(model_landing.labels_path(key))
            except OSError:
                continue
            if state.get(key) == md5:
                continue
            state[key] = md5
            requests.append(
                dg.RunRequest(
                    run_key=f"{declaration.name}:labels:{key}:{md5}",
                    partition_key=key,
                    tags={TRIGGER_TAG: f"sensor:{names.labels_sensor}"},
                )
            )
        skip = None
        if not requests:
            skip = f"labels waiting for their batch to be scored: {', '.join(waiting)}" if waiting else "no new labels"
        return dg.SensorResult(run_requests=requests, cursor=dump_cursor(state), skip_reason=skip)

    return labels_sensor


def _scored(instance: dg.DagsterInstance, predictions: dg.AssetKey, batch: str) -> bool:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=predictions, asset_partitions=[batch]), limit=1
    )
    return bool(records.records)
