"""One page for the whole fleet: every declared model's state in one table, refreshed after each batch.

`fleet/overview` reads the event log (not the models' stored values), so it is
cheap and always shows what the UI shows elsewhere: the champion and since when,
the last batches' drift verdicts, the realized and estimated metric with a small
trend plot, open retrainings, the last gate decision, and freshness (when the
last batch landed, the oldest scored batch still without labels).

It depends on every model's drift, performance and champion, and Dagster's own
declarative automation refreshes it when any of them changed (`REFRESH`,
evaluated by the `fleet_overview_automation` sensor at the composition root's
interval): no hand-written sensor, and the lineage shows what it reads.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import DRIFT, PERFORMANCE, LifecycleNames
from asset_platform.lifecycle.freshness import read_freshness
from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S

OVERVIEW_KEY = dg.AssetKey(["fleet", "overview"])
OVERVIEW_JOB = "fleet_overview"
OVERVIEW_AUTOMATION = "fleet_overview_automation"
# Refresh once after any watched asset changed, never twice at once; an empty overview waits for a first change.
REFRESH = (
    dg.AutomationCondition.any_deps_updated().since_last_handled() & ~dg.AutomationCondition.in_progress()
).with_label("a model's drift, performance or champion changed")
_RECENT = 12
_OPEN = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]
_OPEN += [dg.DagsterRunStatus.STARTED]
_COLUMNS = (
    "model",
    "task",
    "champion",
    "champion_since",
    "last_drift",
    "realized",
    "estimated",
    "open_retrains",
    "last_decision",
    "last_batch",
    "oldest_unlabeled",
)


def build_overview(
    declarations: Sequence[ModelDeclaration], interval_s: int = DEFAULT_SENSOR_INTERVAL_S
) -> dg.Definitions:
    """The overview asset, its job (to refresh it by hand) and its automation sensor, over `declarations`."""
    from asset_platform.lifecycle.build import lifecycle_names

    fleet = [(declaration, lifecycle_names(declaration)) for declaration in declarations]
    watched = [key for _d, names in fleet for key in (names.key(DRIFT), names.key(PERFORMANCE), names.champion)]

    @dg.asset(
        key=OVERVIEW_KEY,
        group_name="fleet",
        kinds={"json"},
        code_version="1",
        # Read from the event log, not loaded: every batch partition of a model's drift feeds it.
        deps=watched,
        automation_condition=REFRESH,
        description="Every declared model at a glance: champion and since when, the last batches' drift "
        "verdicts, realized and estimated metric with a trend, open retrainings, the last gate decision, and "
        "freshness: when the last batch landed and the oldest scored batch still without labels.",
    )
    def overview(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        rows, trends = [], {}
        for declaration, names in fleet:
            row, trend = model_state(context.instance, declaration, names)
            rows.append(row)
            if trend:
                trends[f"trend/{declaration.name}"] = dg.MetadataValue.md(trend)
        table = dg.MetadataValue.table(
            records=[dg.TableRecord({k: str(row[k]) for k in _COLUMNS}) for row in rows],
            schema=dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in _COLUMNS]),
        )
        return dg.MaterializeResult(value=rows, metadata={"models": table, "model_count": len(rows), **trends})

    job = dg.define_asset_job(
        OVERVIEW_JOB, selection=dg.AssetSelection.assets(OVERVIEW_KEY), description="Refresh fleet/overview."
    )
    automation = dg.AutomationConditionSensorDefinition(
        OVERVIEW_AUTOMATION,
        target=dg.AssetSelection.assets(OVERVIEW_KEY),
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Refreshes fleet/overview when any model's drift, performance or champion changed.",
    )
    return dg.Definitions(assets=[overview], jobs=[job], sensors=[automation])


def model_state(
    instance: dg.DagsterInstance, declaration: ModelDeclaration, names: LifecycleNames
) -> tuple[dict[str, Any], str]:
    """One model's row of the overview (see `_COLUMNS`) and its trend chart; also the fleet page's rows."""
    metric = declaration.metric_name
    drift = _recent(instance, names.key(DRIFT))
    performance = list(reversed(_recent(instance, names.key(PERFORMANCE))))
    champions = _recent(instance, names.champion)
    realized = [_value(r, f"performance/{metric}") for r in performance]
    estimated = [_value(r, f"performance/estimated_{metric}") for r in performance]
    latest_estimate = next((_value(r, f"estimated_{metric}") for r in drift if _value(r, f"estimated_{metric}")), None)
    changes = [r for r in champions if _value(r, "decision") in ("promoted", "rolled back")]
    freshness = read_freshness(instance, names)
    oldest = freshness.oldest_unlabeled
    open_runs = instance.get_runs_count(dg.RunsFilter(job_name=names.retraining_job, statuses=_OPEN))
    row = {
        "model": declaration.name,
        "task": f"{declaration.task.replace('_', ' ')} ({metric})",
        "champion": (_value(champions[0], "champion_version") or "")[:12] if champions else "none yet",
        "champion_since": _when(changes[0]) if changes else "",
        "last_drift": ", ".join(f"{r.partition_key}: {_value(r, 'status')}" for r in drift[:3]) or "no batches",
        "realized": _fmt(realized[-1] if realized else None),
        "estimated": _fmt(latest_estimate),
        "open_retrains": open_runs,
        "last_decision": f"{_value(champions[0], 'decision')}: {_value(champions[0], 'reason')}"[:90]
        if champions
        else "",
        "last_batch": f"{freshness.last_batch} ({_at(freshness.last_batch_at)})"
        if freshness.last_batch
        else "none yet",
        "oldest_unlabeled": f"{oldest[0]} (scored {_at(oldest[1])})" if oldest else "",
    }
    return row, _trend(declaration.name, metric, realized, estimated)


def _recent(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[dg.EventLogRecord]:
    return list(instance.fetch_materializations(key, limit=_RECENT).records)


def _value(record: dg.EventLogRecord, key: str) -> Any:
    entry = record.asset_materialization.metadata.get(key)
    return None if entry is None else entry.value


def _when(record: dg.EventLogRecord) -> str:
    return dt.datetime.fromtimestamp(record.timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _at(timestamp: float | None) -> str:
    return "" if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fmt(value: float | None) -> str:
    return "" if value is None or value != value else f"{value:.4f}"


def _trend(model: str, metric: str, realized: list, estimated: list) -> str:
    """A small chart of the realized (and estimated) metric over the last batches."""
    from asset_platform.reports import line_chart_markdown

    series = {f"realized {metric}": [v for v in realized if v is not None]}
    if any(v is not None for v in estimated):
        series[f"estimated {metric}"] = [v for v in estimated if v is not None]
    if len(series[f"realized {metric}"]) < 2:
        return ""
    return line_chart_markdown(series, f"{model}: {metric} per batch", "batch", metric)
