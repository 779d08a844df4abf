"""A second code location with one always-on sensor, so the daemon has ticks to record.

The platform's own code location may have no sensor at a given time; this
one's ticks prove the sensor daemon runs against the instance's storage.
"""

import dagster as dg


@dg.op
def probe_op() -> None:
    """Never run: the sensor only skips."""


@dg.job
def probe_job() -> None:
    probe_op()


@dg.sensor(job=probe_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def deployment_probe_sensor() -> dg.SkipReason:
    return dg.SkipReason("deployment test probe: records a tick, requests nothing")


defs = dg.Definitions(jobs=[probe_job], sensors=[deployment_probe_sensor])
