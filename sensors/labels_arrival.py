"""Delayed labels arriving for a batch → its realized performance is computed."""

import dagster as dg

from asset_platform.landing import LandingZone
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.storage.hashing import md5_file
from assets.monitoring.batches import production_partitions
from sensors.cursor import dump_cursor, load_cursor

batch_performance_job = dg.define_asset_job(
    "batch_performance_job",
    selection=dg.AssetSelection.assets("batch_performance"),
    description="Realized AUC and log loss of a scored batch once its labels arrived.",
)


@dg.sensor(
    job=batch_performance_job,
    minimum_interval_seconds=30,
    description="Delayed labels of a scored batch → its realized AUC and log loss (batch_performance).",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def batch_labels_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
    """Request `batch_performance` for each scored batch whose labels file is new or changed."""
    state = load_cursor(context.cursor)
    registered = set(context.instance.get_dynamic_partitions(production_partitions.name))
    requests, waiting = [], []
    for key in landing.labeled_batches():
        if key not in registered:
            waiting.append(key)
            continue
        md5 = md5_file(landing.labels_path(key))
        if state.get(key) == md5:
            continue
        state[key] = md5
        requests.append(
            dg.RunRequest(
                run_key=f"labels:{key}:{md5}", partition_key=key, tags={TRIGGER_TAG: "sensor:batch_labels_sensor"}
            )
        )
    skip = None
    if not requests:
        skip = f"labels waiting for their batch to be registered: {', '.join(waiting)}" if waiting else "no new labels"
    return dg.SensorResult(run_requests=requests, cursor=dump_cursor(state), skip_reason=skip)
