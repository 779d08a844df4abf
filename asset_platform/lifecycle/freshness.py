"""Freshness of a model's production data and of its labels: two asset checks, a sensor that reports them.

`monitoring.freshness.data_hours`: a production batch is expected at least every N
hours (`data_fresh` on `<model>/batches`, which also carries a Dagster
`FreshnessPolicy` of that window). `monitoring.freshness.labels_hours`: the labels
of a scored batch are expected within N hours of its scoring (`labels_fresh` on
`<model>/predictions`, naming the late batches). Both are read from the event
log: a batch landed when `<model>/batches` materialized it, was scored when
`<model>/predictions` first materialized it, and its labels landed when
`<model>/performance` materialized it (or its labels file is waiting in landing).

`<model>_freshness_sensor` evaluates both without a run and reports them as
run-less check evaluations, so each asset's checks tab shows the verdict with
its description; it reports only when a verdict changes, not at every tick, and
notifies (`stale`) once when a check starts failing. Each check can also be
executed from the UI.
"""

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import BATCHES, PERFORMANCE, PREDICTIONS, LifecycleNames
from asset_platform.landing import LandingZone
from asset_platform.notify import DataStale, Notifier
from asset_platform.sensors.cursor import dump_cursor, load_cursor

DATA_CHECK = "data_fresh"
LABELS_CHECK = "labels_fresh"
# Freshness is declared in hours: looking every few minutes is enough, and each look reads the event log.
FRESHNESS_INTERVAL_S = 300
_PAGE = 1000
_NAMED = 10  # batches named in a description or notification; the metadata lists them all


@dataclass(frozen=True)
class Freshness:
    """What the event log says of one model's data and labels."""

    last_batch: str | None = None
    last_batch_at: float | None = None
    # Scored batches whose labels have not landed, with when each was first scored, oldest first.
    unlabeled: dict[str, float] = field(default_factory=dict)

    @property
    def oldest_unlabeled(self) -> tuple[str, float] | None:
        return next(iter(self.unlabeled.items()), None)


@dataclass(frozen=True)
class Verdict:
    """One freshness check's outcome at one moment."""

    check: str
    passed: bool
    description: str
    batch_keys: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    # What must change for the verdict to be reported again (not the ages, which change at every tick).
    signature: str = ""


def read_freshness(
    instance: dg.DagsterInstance, names: LifecycleNames, labels_landed: Callable[[str], bool] | None = None
) -> Freshness:
    """The newest landed batch and the scored batches still without labels; `labels_landed(batch)` may say a
    batch's labels file has landed though its performance is not computed yet."""
    newest = instance.fetch_materializations(names.key(BATCHES), limit=1).records
    scored = _first_per_partition(instance, names.key(PREDICTIONS))
    labeled = set(_first_per_partition(instance, names.key(PERFORMANCE)))
    unlabeled = {
        key: at
        for key, at in sorted(scored.items(), key=lambda item: item[1])
        if key not in labeled and not (labels_landed and labels_landed(key))
    }
    return Freshness(
        last_batch=newest[0].partition_key if newest else None,
        last_batch_at=newest[0].timestamp if newest else None,
        unlabeled=unlabeled,
    )


def _first_per_partition(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, float]:
    """When each partition of `key` first materialized, paging through the event log oldest first."""
    first: dict[str, float] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(key, limit=_PAGE, cursor=cursor, ascending=True)
        for record in page.records:
            if record.partition_key is not None:
                first.setdefault(record.partition_key, record.timestamp)
        if not page.has_more:
            return first
        cursor = page.cursor


def data_verdict(freshness: Freshness, hours: float, now: float) -> Verdict:
    """`data_fresh`: a batch landed within the last `hours`."""
    if freshness.last_batch_at is None:
        return Verdict(DATA_CHECK, True, "No production batch has landed yet: checked from the first.", (), {}, "none")
    age_h = (now - freshness.last_batch_at) / 3600
    passed = age_h <= hours
    landed = f"The last batch {freshness.last_batch} landed {age_h:.1f} h ago ({_utc(freshness.last_batch_at)})"
    description = f"{landed}; a batch is expected at least every {hours:g} h." + (
        "" if passed else " Production data stopped arriving."
    )
    metadata = {
        "last_batch": freshness.last_batch,
        "last_batch_landed_at": dg.MetadataValue.timestamp(freshness.last_batch_at),
        "hours_since_last_batch": round(age_h, 3),
        "expected_every_hours": hours,
    }
    return Verdict(DATA_CHECK, passed, description, (), metadata, f"{passed}:{freshness.last_batch}")


def labels_verdict(freshness: Freshness, hours: float, now: float) -> Verdict:
    """`labels_fresh`: every batch scored more than `hours` ago has its labels."""
    late = [key for key, at in freshness.unlabeled.items() if now - at > hours * 3600]
    waiting = len(freshness.unlabeled) - len(late)
    metadata: dict[str, Any] = {"expected_within_hours": hours, "late_batches": late, "waiting_batches": waiting}
    if not late:
        description = f"Every batch scored more than {hours:g} h ago has its labels" + (
            f"; {waiting} scored batch(es) within that window still wait for theirs." if waiting else "."
        )
        return Verdict(LABELS_CHECK, True, description, (), metadata, "True")
    oldest_at = freshness.unlabeled[late[0]]
    named = ", ".join(late[:_NAMED]) + (f" and {len(late) - _NAMED} more" if len(late) > _NAMED else "")
    description = (
        f"Labels stopped arriving: {len(late)} batch(es) scored more than {hours:g} h ago have no labels: "
        f"{named}. The oldest, {late[0]}, was scored {(now - oldest_at) / 3600:.1f} h ago ({_utc(oldest_at)})."
    )
    metadata["oldest_late_scored_at"] = dg.MetadataValue.timestamp(oldest_at)
    return Verdict(LABELS_CHECK, False, description, tuple(late), metadata, "False:" + ",".join(late))


def verdicts(
    declaration: ModelDeclaration, names: LifecycleNames, instance: dg.DagsterInstance, landing: Any, now: float
) -> list[Verdict]:
    """The declared freshness checks of `declaration` at `now` (`landing`: its `ModelLanding`)."""
    spec = declaration.monitoring.freshness
    if not spec.declared:
        return []
    freshness = read_freshness(instance, names, lambda key: landing.labels_path(key).exists())
    found = []
    if spec.data_hours is not None:
        found.append(data_verdict(freshness, spec.data_hours, now))
    if spec.labels_hours is not None:
        found.append(labels_verdict(freshness, spec.labels_hours, now))
    return found


def _check_key(names: LifecycleNames, check: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(names.key(BATCHES if check == DATA_CHECK else PREDICTIONS), check)


def freshness_checks(declaration: ModelDeclaration, names: LifecycleNames) -> list[dg.AssetChecksDefinition]:
    """The declared checks, executable from the UI too (the sensor reports them without a run)."""
    spec = declaration.monitoring.freshness
    declared = [(DATA_CHECK, spec.data_hours), (LABELS_CHECK, spec.labels_hours)]
    return [_check(declaration, names, check, hours) for check, hours in declared if hours is not None]


def freshness_selection(declaration: ModelDeclaration, names: LifecycleNames) -> dg.AssetSelection:
    """The declared freshness checks, to leave out of the jobs that materialize their assets."""
    spec = declaration.monitoring.freshness
    declared = [(DATA_CHECK, spec.data_hours), (LABELS_CHECK, spec.labels_hours)]
    return dg.AssetSelection.checks(*(_check_key(names, check) for check, hours in declared if hours is not None))


def _check(declaration: ModelDeclaration, names: LifecycleNames, check: str, hours: float) -> dg.AssetChecksDefinition:
    what = (
        f"A production batch landed within the last {hours:g} h."
        if check == DATA_CHECK
        else f"Every batch scored more than {hours:g} h ago has its labels; fails naming the late batches."
    )

    @dg.asset_check(
        asset=_check_key(names, check).asset_key,
        name=check,
        description=f"{what} Evaluated by {names.freshness_sensor}.",
    )
    def freshness_check(context: dg.AssetCheckExecutionContext, landing: LandingZone) -> dg.AssetCheckResult:
        model_landing = landing.for_model(declaration)
        found = {v.check: v for v in verdicts(declaration, names, context.instance, model_landing, time.time())}
        verdict = found[check]
        return dg.AssetCheckResult(passed=verdict.passed, description=verdict.description, metadata=verdict.metadata)

    return freshness_check


def evaluate_freshness(
    declaration: ModelDeclaration,
    names: LifecycleNames,
    instance: dg.DagsterInstance,
    landing: Any,
    notifier: Notifier,
    cursor: str | None,
    now: float,
    log: Any = None,
) -> dg.SensorResult:
    """One tick of the freshness sensor at `now`: check evaluations that changed, a notification for each
    check that started failing; the cursor keeps what was reported and which checks are failing."""
    state = load_cursor(cursor)
    reported: dict[str, str] = state.setdefault("reported", {})
    failing: dict[str, bool] = state.setdefault("failing", {})
    events, notes = [], []
    for verdict in verdicts(declaration, names, instance, landing, now):
        key = _check_key(names, verdict.check)
        if reported.get(verdict.check) != verdict.signature:
            events.append(
                dg.AssetCheckEvaluation(
                    asset_key=key.asset_key,
                    check_name=verdict.check,
                    passed=verdict.passed,
                    description=verdict.description,
                    metadata=verdict.metadata,
                    severity=dg.AssetCheckSeverity.WARN,
                )
            )
            reported[verdict.check] = verdict.signature
        if verdict.passed:
            failing.pop(verdict.check, None)
            continue
        notes.append(f"{verdict.check} failing: {verdict.description}")
        if not failing.get(verdict.check):
            notifier.notify(_stale_event(declaration, names, verdict), log=log)
            failing[verdict.check] = True
    skip = "; ".join(notes) or "data and labels are fresh"
    return dg.SensorResult(asset_events=events, cursor=dump_cursor(state), skip_reason=skip)


def _stale_event(declaration: ModelDeclaration, names: LifecycleNames, verdict: Verdict) -> DataStale:
    spec = declaration.monitoring.freshness
    hours = spec.data_hours if verdict.check == DATA_CHECK else spec.labels_hours
    return DataStale(
        asset=_check_key(names, verdict.check).asset_key.to_user_string(),
        model=declaration.name,
        check=verdict.check,
        hours=float(hours or 0),
        reason=verdict.description,
        batch_keys=verdict.batch_keys,
    )


def build_freshness_sensor(
    declaration: ModelDeclaration, names: LifecycleNames, interval_s: int
) -> dg.SensorDefinition:
    @dg.sensor(
        name=names.freshness_sensor,
        minimum_interval_seconds=max(interval_s, FRESHNESS_INTERVAL_S),
        description=f"Are {declaration.name}'s production batches and labels arriving as declared "
        "(monitoring.freshness)? Reports the freshness checks and notifies once when one starts failing.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def freshness_sensor(context: dg.SensorEvaluationContext, landing: LandingZone, notifier: Notifier):
        model_landing = landing.for_model(declaration)
        return evaluate_freshness(
            declaration, names, context.instance, model_landing, notifier, context.cursor, time.time(), context.log
        )

    return freshness_sensor


def freshness_policy(declaration: ModelDeclaration) -> dg.FreshnessPolicy | None:
    """Dagster's own freshness policy for `<model>/batches` (its freshness status in the UI), where declared."""
    hours = declaration.monitoring.freshness.data_hours
    return None if hours is None else dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=hours))


def _utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
