"""Every decision about a model's champion, each as it was: what, when, why and who.

A rejected, shadowed, retired or kept challenger leaves the champion pointer's
bytes unchanged (so nothing downstream goes stale), which is why the stored
pointer alone cannot tell these decisions apart: it repeats the last promotion's
reason, time and actor. The decision itself is in the `<model>/champion`
materialization's metadata (`decision`, `reason`) and its run's tags (the actor),
so the history is read from the Dagster event log. Pointer versions the event log
does not know (written before it was kept, or by hand into the store) are listed
from the store, marked as such.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asset_platform.registry.pointer import ChampionPointer
from asset_platform.registry.trigger import describe_trigger

if TYPE_CHECKING:
    import dagster as dg

    from asset_platform.registry.models import ModelLineup

_PAGE = 1000


@dataclass(frozen=True)
class ChampionDecision:
    """One decision: `champion` is the pointer in force after it (unchanged unless promoted or rolled back)."""

    at: str
    decision: str
    reason: str
    changed_by: str
    run_id: str
    champion: ChampionPointer
    challenger: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "decision": self.decision,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "run_id": self.run_id,
            "challenger": self.challenger,
            "model_asset": self.champion.model_asset,
            "version": self.champion.version,
            "flavor": self.champion.flavor,
            "metrics": self.champion.metrics,
            # When the champion in force became champion; for a promotion or rollback, this decision.
            "champion_since": self.champion.changed_at,
        }


def champion_decisions(lineup: ModelLineup, instance: dg.DagsterInstance | None) -> list[ChampionDecision]:
    """Every decision about the champion, oldest first (the event log's, plus store-only pointers)."""
    stored = lineup.champion_history()
    by_run = {record.run_id: pointer for record, pointer in stored if record.run_id}
    by_version = {pointer.version: pointer for _record, pointer in stored}
    found: list[tuple[float, ChampionDecision]] = []
    seen_runs: set[str] = set()
    for event in _champion_events(instance, lineup) if instance is not None else []:
        decision = _from_event(instance, event, by_run, by_version)
        if decision is not None:
            found.append((event.timestamp, decision))
            seen_runs.add(event.run_id)
    previous: str | None = None
    for record, pointer in stored:
        repeated = pointer.version == previous
        previous = pointer.version
        if record.run_id in seen_runs:
            continue
        found.append((record.created_at, _from_store(record, pointer, repeated)))
    return [decision for _at, decision in sorted(found, key=lambda item: item[0])]


def _champion_events(instance: dg.DagsterInstance, lineup: ModelLineup) -> list[dg.EventLogRecord]:
    """The champion's materializations, and its observations that record a decision (serve-model's canary
    withdrawals: asset_platform/serving/canary.py), oldest first."""
    import dagster as dg

    key = dg.AssetKey(list(lineup.champion_path))
    events = []
    for fetch, decisions_only in ((instance.fetch_materializations, False), (instance.fetch_observations, True)):
        cursor = None
        while True:
            page = fetch(key, limit=_PAGE, cursor=cursor, ascending=True)
            events += [record for record in page.records if not decisions_only or "decision" in _metadata(record)]
            if not page.has_more:
                break
            cursor = page.cursor
    return sorted(events, key=lambda record: record.storage_id)


def _metadata(event: dg.EventLogRecord) -> dict[str, Any]:
    recorded = event.asset_materialization or event.asset_observation
    return dict(recorded.metadata) if recorded is not None else {}


def _from_event(
    instance: dg.DagsterInstance,
    event: dg.EventLogRecord,
    by_run: dict[str, ChampionPointer],
    by_version: dict[str, ChampionPointer],
) -> ChampionDecision | None:
    metadata = _metadata(event)

    def text(name: str) -> str:
        entry = metadata.get(name)
        return "" if entry is None else str(entry.value)

    pointer = by_run.get(event.run_id) or by_version.get(text("champion_version"))
    if pointer is None:
        return None  # its pointer is gone from the store: nothing to show it with
    run = instance.get_run_by_id(event.run_id) if event.run_id else None  # an observation may be runless
    # The actor from the run's own tags (who launched it), as the champion asset derives it.
    actor = describe_trigger(run.tags) if run is not None else text("changed_by") or pointer.changed_by
    return ChampionDecision(
        at=_iso(event.timestamp),
        decision=text("decision") or "changed",
        reason=text("reason") or pointer.reason,
        changed_by=actor,
        run_id=event.run_id,
        champion=pointer,
        challenger=text("challenger_version"),
    )


def _from_store(record, pointer: ChampionPointer, repeated: bool) -> ChampionDecision:
    """A pointer version the event log does not know: a change is its own pointer's; a repeat says so."""
    at = pointer.changed_at or _iso(record.created_at)
    if not repeated:
        return ChampionDecision(at, "changed", pointer.reason, pointer.changed_by, record.run_id, pointer)
    reason = f"the champion stayed {pointer.version[:12]}; this run's decision is not in the Dagster event log"
    return ChampionDecision(_iso(record.created_at), "unchanged", reason, "unknown", record.run_id, pointer)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
