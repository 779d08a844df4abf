"""A second code location with one always-on sensor, so the daemon has ticks to record.

The platform's own code location may have no sensor at a given time; this
one's ticks prove the sensor daemon runs against the instance's storage. Its
one small asset gives a run that takes the whole run path in seconds.
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


@dg.asset
def deployment_probe_asset() -> int:
    """A run's worth of work: one materialization, stored by the instance's storages."""
    return 1


probe_asset_job = dg.define_asset_job("probe_asset_job", selection=[deployment_probe_asset])

defs = dg.Definitions(
    assets=[deployment_probe_asset], jobs=[probe_job, probe_asset_job], sensors=[deployment_probe_sensor]
)
