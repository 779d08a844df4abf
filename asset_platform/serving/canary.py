"""Canary (gray) release: the challenger in shadow answers a declared share of requests, judged live.

The challenger is the one the registry already puts on trial in production: the version in shadow
(a gate-passed challenger where `shadow.enabled`, or one shadowed by hand), read from the champion's
history as the shadow sensor reads it (`registry.shadow.current_challenger`). A request goes to it when
a hash of its (first) row's id, salted with the challenger's version, falls below `canary_fraction`:
the same id always meets the same version during one canary, and each new challenger meets another
slice of ids. Its answers are captured with their version like every answer, so the batches they land
in are compared by `<model>/shadow_comparison` as any production batch.

Per version the server counts requests, failures (a scoring error; the champion then answers the
request, so no client sees the canary fail) and recent latencies. Once each has answered
`min_requests`, a canary whose failure rate exceeds the champion's by `max_error_rate_increase`, or
whose p99 latency exceeds `max_p99_ratio` times the champion's, is withdrawn at once: every request
is the champion's again. The withdrawal is then announced (`CanaryWithdrawn`) and recorded as an
observation of `<model>/champion` with `decision: canary withdrawn` (a runless event: the server runs
no Dagster job, and a materialization would read as a new pointer); a challenger withdrawn since it
was shadowed gets no canary again until it is shadowed anew. Its shadow period goes on offline.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg

    from asset_platform.declaration.model import ServingSpec
    from asset_platform.declaration.names import LifecycleNames
    from asset_platform.notify import Notifier

logger = logging.getLogger("asset_platform.serving")

CANARY_WITHDRAWN = "canary withdrawn"  # the decision recorded on <model>/champion
LATENCY_WINDOW = 2000  # recent requests per version the p99 is read from


def takes_canary(row_id: Any, challenger_version: str, fraction: float) -> bool:
    """Whether the request whose first row has `row_id` goes to the canary: stable per id and challenger."""
    digest = hashlib.blake2b(f"{challenger_version}\x00{row_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


@dataclass(frozen=True)
class CanaryPolicy:
    """The declaration's `serving` spec, as the server applies it."""

    fraction: float
    max_error_rate_increase: float
    max_p99_ratio: float
    min_requests: int

    @classmethod
    def of(cls, spec: ServingSpec) -> CanaryPolicy:
        return cls(spec.canary_fraction, spec.max_error_rate_increase, spec.max_p99_ratio, spec.min_requests)


@dataclass
class Tally:
    """One version's requests since the canary began: how many, how many failed, recent latencies."""

    requests: int = 0
    errors: int = 0
    latencies_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    def answered(self, seconds: float) -> None:
        self.requests += 1
        self.latencies_s.append(seconds)

    def failed(self) -> None:
        self.requests += 1
        self.errors += 1

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def p99_s(self) -> float:
        import numpy as np

        return float(np.quantile(np.fromiter(self.latencies_s, float), 0.99)) if self.latencies_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "p99_ms": round(self.p99_s * 1000, 3),
        }


@dataclass
class Canary:
    """A challenger answering a share of requests beside one champion version, and the two tallies."""

    version: str
    champion_version: str
    policy: CanaryPolicy
    champion: Tally = field(default_factory=Tally)
    canary: Tally = field(default_factory=Tally)

    def takes(self, row_id: Any) -> bool:
        return takes_canary(row_id, self.version, self.policy.fraction)

    def verdict(self) -> str | None:
        """Why the canary must be withdrawn, or None while it may go on (or has too few requests to judge)."""
        policy, canary, champion = self.policy, self.canary, self.champion
        if min(canary.requests, champion.requests) < policy.min_requests:
            return None
        if canary.error_rate - champion.error_rate > policy.max_error_rate_increase:
            return (
                f"its failure rate {canary.error_rate:.2%} exceeds the champion's {champion.error_rate:.2%} by more "
                f"than {policy.max_error_rate_increase:.2%} (serving.max_error_rate_increase) over "
                f"{canary.requests} and {champion.requests} requests"
            )
        # p99 over the answered requests; a canary failing them all has none, and was judged above.
        if canary.latencies_s and champion.latencies_s and canary.p99_s > policy.max_p99_ratio * champion.p99_s:
            return (
                f"its p99 latency {canary.p99_s * 1000:.1f} ms exceeds {policy.max_p99_ratio:g} x the champion's "
                f"{champion.p99_s * 1000:.1f} ms (serving.max_p99_ratio) over {len(canary.latencies_s)} and "
                f"{len(champion.latencies_s)} answered requests"
            )
        return None


class CanaryRegistry:
    """Where the server learns its canary and records a withdrawal: the Dagster instance and the notifier.

    Called from worker threads (one at a time: a lock), never on the serving loop.
    """

    def __init__(self, instance: dg.DagsterInstance, names: LifecycleNames, notifier: Notifier, actor: str):
        self.instance, self.names, self.notifier, self.actor = instance, names, notifier, actor
        self._lock = threading.Lock()

    def challenger(self) -> str | None:
        """The version in shadow, unless its canary was withdrawn since it was shadowed."""
        from asset_platform.registry.shadow import current_challenger

        with self._lock:
            challenger = current_challenger(self.instance, self.names)
            if not challenger:
                return None
            shadowed_at = self._shadowed_at(challenger)
            key = self.names.champion
            for record in self.instance.fetch_observations(key, limit=100, ascending=False).records:
                if record.timestamp < shadowed_at:
                    break
                metadata = record.asset_observation.metadata if record.asset_observation else {}
                if _text(metadata, "decision") == CANARY_WITHDRAWN and _text(metadata, "challenger_version") == (
                    challenger
                ):
                    return None
            return challenger

    def _shadowed_at(self, challenger: str) -> float:
        from asset_platform.registry.shadow import SHADOWED

        records = self.instance.fetch_materializations(self.names.champion, limit=100, ascending=False).records
        for record in records:
            metadata = record.asset_materialization.metadata if record.asset_materialization else {}
            if _text(metadata, "decision") == SHADOWED and _text(metadata, "challenger_version") == challenger:
                return record.timestamp
        return 0.0

    def withdraw(self, model: str, canary: Canary, reason: str) -> bool:
        """Record the withdrawal on `<model>/champion` and announce it; False where it could not be recorded
        (logged; the server then keeps the canary off itself)."""
        import dagster as dg

        from asset_platform.notify import CanaryWithdrawn

        text = f"canary {canary.version[:12]} withdrawn, all traffic back to champion {canary.champion_version[:12]}: "
        stats = {"canary": canary.canary.to_dict(), "champion": canary.champion.to_dict()}
        metadata = {
            "decision": CANARY_WITHDRAWN,
            "reason": text + reason,
            "changed_by": self.actor,
            "champion_version": canary.champion_version,
            "challenger_version": canary.version,
            "canary_fraction": dg.MetadataValue.float(canary.policy.fraction),
            "requests": dg.MetadataValue.json(stats),
        }
        with self._lock:
            try:
                self.instance.report_runless_asset_event(dg.AssetObservation(self.names.champion, metadata=metadata))
                recorded = True
            except Exception as error:  # the instance unreachable: the withdrawal stands in this server, say so
                logger.error(f"{model}: the canary withdrawal could not be recorded on the champion ({error})")
                recorded = False
        event = CanaryWithdrawn(
            asset=self.names.champion.to_user_string(),
            model=model,
            challenger_version=canary.version,
            champion_version=canary.champion_version,
            reason=reason,
            canary=stats["canary"],
            champion=stats["champion"],
        )
        self.notifier.notify(event, log=logger)
        return recorded


def _text(metadata: dict[str, Any], name: str) -> str:
    value = metadata.get(name)
    return str(getattr(value, "value", value) or "")
