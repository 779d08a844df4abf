"""Runs whose worker died are marked failed by the daemon itself, whatever started it.

`asset-platform up` runs `recovery.fail_orphaned_runs` once at start, but a
daemon restarted by hand (`dagster-daemon run`), by systemd or by a supervisor
never went through `up`: after a crash its STARTED runs stayed STARTED and held
their queue slots. This sensor runs the same check on every tick of whichever
daemon evaluates sensors. It is cheap: one query for STARTED runs and, for each,
its first engine event; it requests no run, and does nothing under run launchers
that check their workers' health themselves (Kubernetes: Dagster's run monitoring).
"""

from __future__ import annotations

import dagster as dg

from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S

SENSOR_NAME = "platform_run_recovery"


def build_run_recovery_sensor(interval_s: int = DEFAULT_SENSOR_INTERVAL_S) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks failed every STARTED run whose worker process is gone (a crash, a killed daemon), so "
        "the run-retry policy and the queue move on; requests nothing.",
    )
    def run_recovery(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        from asset_platform.recovery import fail_orphaned_runs

        orphaned = fail_orphaned_runs(context.instance)
        for run in orphaned:
            context.log.warning(f"run {run.run_id} of {run.job_name}: worker pid {run.pid} is gone: marked failed")
        if orphaned:
            ids = ", ".join(run.run_id for run in orphaned)
            return dg.SkipReason(f"marked {len(orphaned)} run(s) of dead workers failed: {ids}")
        return dg.SkipReason("no run of a dead worker")

    return run_recovery
