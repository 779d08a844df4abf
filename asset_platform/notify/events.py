"""The events the platform announces, and the one JSON payload schema every channel shares.

Each event is a small frozen dataclass; `to_payload` turns any of them into a dict
with the same top-level keys (`PAYLOAD_FIELDS`), so receivers can route on `event`
and read the numbers from `details` without parsing prose.
"""

from __future__ import annotations

import datetime as dt
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Severity = Literal["info", "warning", "error"]

PAYLOAD_FIELDS = ("event", "title", "text", "severity", "asset", "run_id", "details", "sent_at")


def _number(value: float | None) -> float | None:
    # NaN/inf are not JSON; numpy scalars are not json-serialisable ints: normalise both.
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _names(values: Iterable[Any]) -> list[str]:
    return [str(value) for value in values]


class NotificationEvent(ABC):
    """What every event offers the channels; subclasses are dataclasses with `asset` and `run_id`."""

    kind: ClassVar[str]
    asset: str
    run_id: str | None

    @property
    def severity(self) -> Severity:
        return "info"

    @property
    @abstractmethod
    def title(self) -> str: ...

    @property
    @abstractmethod
    def text(self) -> str: ...

    @abstractmethod
    def details(self) -> dict[str, Any]:
        """JSON-ready numbers and names; the schema of each event kind is part of the contract."""


@dataclass(frozen=True)
class DriftConfirmed(NotificationEvent):
    """Production batches drifted from the training reference beyond the policy's thresholds."""

    kind: ClassVar[str] = "drift_confirmed"

    asset: str
    batch_keys: tuple[str, ...]
    drifted_features: tuple[str, ...]
    drift_share: float
    max_psi: float
    run_id: str | None = None

    @property
    def severity(self) -> Severity:
        return "warning"

    @property
    def title(self) -> str:
        return f"Drift confirmed on {self.asset}"

    @property
    def text(self) -> str:
        features = ", ".join(_names(self.drifted_features)) or "none"
        return (
            f"{len(self.drifted_features)} drifted feature(s) ({features}) over {len(self.batch_keys)} batch(es); "
            f"drift share {_fmt(self.drift_share)}, max PSI {_fmt(self.max_psi)}."
        )

    def details(self) -> dict[str, Any]:
        return {
            "batch_keys": _names(self.batch_keys),
            "drifted_features": _names(self.drifted_features),
            "drift_share": _number(self.drift_share),
            "max_psi": _number(self.max_psi),
        }


@dataclass(frozen=True)
class RetrainingStarted(NotificationEvent):
    """A retraining run was launched; `evidence` points at the drift results that justified it."""

    kind: ClassVar[str] = "retraining_started"

    asset: str
    run_id: str
    trigger: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"Retraining started for {self.asset}"

    @property
    def text(self) -> str:
        return f"Run {self.run_id} launched by {self.trigger}."

    def details(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class RetrainingOutcome(NotificationEvent):
    """The promotion gate's verdict on a challenger, with the comparison it was based on.

    `improvement` is how much better the challenger is on the gate's `metric`
    (positive is better, whether the metric rises like AUC or falls like RMSE)
    and `improvement_ci` its confidence interval, both as computed by the gate;
    champion values are None when there was no champion yet.
    """

    kind: ClassVar[str] = "retraining_outcome"

    asset: str
    promoted: bool
    metric: str
    challenger_value: float
    champion_value: float | None
    improvement: float | None
    improvement_ci: tuple[float, float] | None
    reason: str
    run_id: str | None = None
    # The fairness rule's verdict per audited attribute (`FairnessDecision.to_dict()`), where attributes are declared.
    fairness: Mapping[str, Any] | None = None

    @property
    def severity(self) -> Severity:
        return "info" if self.promoted else "warning"

    @property
    def title(self) -> str:
        verdict = "promoted" if self.promoted else "rejected"
        return f"Challenger {verdict} for {self.asset}"

    @property
    def text(self) -> str:
        ci = self.improvement_ci
        interval = f" (CI {_fmt(ci[0], 4)} to {_fmt(ci[1], 4)})" if ci else ""
        return (
            f"{self.metric} champion {_fmt(self.champion_value, 4)} vs challenger {_fmt(self.challenger_value, 4)}, "
            f"improvement {_fmt(self.improvement, 4)}{interval}: {self.reason}"
        ) + (f" Fairness: {_fairness_text(self.fairness)}." if self.fairness else "")

    def details(self) -> dict[str, Any]:
        ci = self.improvement_ci
        return {
            "outcome": "promoted" if self.promoted else "rejected",
            "metric": self.metric,
            "champion_value": _number(self.champion_value),
            "challenger_value": _number(self.challenger_value),
            "improvement": _number(self.improvement),
            "improvement_ci": [_number(ci[0]), _number(ci[1])] if ci else None,
            "reason": self.reason,
            **({"fairness": _fairness_details(self.fairness)} if self.fairness else {}),
        }


@dataclass(frozen=True)
class DataStale(NotificationEvent):
    """A model's production data or labels stopped arriving: a freshness check started failing.

    `check` is `data_fresh` (no batch landed within `hours`) or `labels_fresh` (the `batch_keys`
    were scored more than `hours` ago and their labels have not landed). Sent once when the check
    starts failing, again only after it passed in between.
    """

    kind: ClassVar[str] = "stale"

    asset: str
    model: str
    check: str
    hours: float
    reason: str
    batch_keys: tuple[str, ...] = ()
    run_id: str | None = None

    @property
    def severity(self) -> Severity:
        return "warning"

    @property
    def title(self) -> str:
        what = "Labels stopped arriving" if self.check == "labels_fresh" else "Production data stopped arriving"
        return f"{what} for {self.model}"

    @property
    def text(self) -> str:
        return self.reason

    def details(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "check": self.check,
            "hours": _number(self.hours),
            "batch_keys": _names(self.batch_keys),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CanaryWithdrawn(NotificationEvent):
    """`serve-model` withdrew a canary: the challenger failed or slowed requests beyond the declared margins.

    `canary` and `champion` are each version's requests since the canary began: `requests`, `errors`,
    `error_rate` and `p99_ms`. All traffic is the champion's again; the challenger's shadow period goes on.
    """

    kind: ClassVar[str] = "canary_withdrawn"

    asset: str
    model: str
    challenger_version: str
    champion_version: str
    reason: str
    canary: Mapping[str, Any] = field(default_factory=dict)
    champion: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def severity(self) -> Severity:
        return "warning"

    @property
    def title(self) -> str:
        return f"Canary withdrawn for {self.model}"

    @property
    def text(self) -> str:
        return (
            f"Challenger {self.challenger_version[:12]} no longer answers requests; champion "
            f"{self.champion_version[:12]} answers all: {self.reason}."
        )

    def details(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "challenger_version": self.challenger_version,
            "champion_version": self.champion_version,
            "reason": self.reason,
            "canary": {key: _number(value) for key, value in self.canary.items()},
            "champion": {key: _number(value) for key, value in self.champion.items()},
        }


def _fairness_details(fairness: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's verdict with JSON-safe numbers (NaN gaps of unjudged attributes become null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(key): clean(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [clean(item) for item in value]
        if isinstance(value, float):
            return _number(value)
        return value

    return clean(fairness)


def _fairness_text(fairness: Mapping[str, Any]) -> str:
    parts = []
    for verdict in fairness.get("attributes", []):
        gap = verdict["challenger_gap"]
        word = "blocked" if verdict["blocked"] else ("passed" if verdict["judged"] else "not judged")
        parts.append(
            f"{verdict['attribute']} {word}, {verdict['metric']} gap {_fmt(gap['value'], 4)} (worst "
            f"{gap['worst_group'] or 'n/a'}), increase {_fmt(verdict['increase'], 4)} (CI {_fmt(verdict['ci_low'], 4)}"
            f" to {_fmt(verdict['ci_high'], 4)}, tolerance {verdict['tolerance']})"
        )
    return "; ".join(parts) or "no attributes"


def to_payload(event: NotificationEvent, sent_at: dt.datetime | None = None) -> dict[str, Any]:
    """The channel-independent message: the keys of `PAYLOAD_FIELDS`, in that order."""
    moment = sent_at or dt.datetime.now(dt.UTC)
    return {
        "event": event.kind,
        "title": event.title,
        "text": event.text,
        "severity": event.severity,
        "asset": event.asset,
        "run_id": event.run_id,
        "details": event.details(),
        "sent_at": moment.isoformat(),
    }
