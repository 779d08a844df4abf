"""The champion pointer: which model version is in production, and why.

Stored as JSON (one materialization of `<model>/champion` per change), read
back into this typed object everywhere, so no caller reads it by key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChampionPointer:
    """A model asset's version in production, its holdout metrics and the change that put it there."""

    model_asset: str
    version: str
    flavor: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    changed_by: str = "unknown"
    changed_at: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChampionPointer:
        """Read a stored pointer; fields missing from older pointers get their defaults."""
        if not isinstance(data, dict) or "model_asset" not in data or "version" not in data:
            raise ValueError("not a champion pointer: it needs at least model_asset and version")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data and data[name] is not None}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def holdout(self, metric: str) -> float:
        return float(self.metrics.get(f"holdout_{metric}", float("nan")))

    def describe(self) -> str:
        return f"{self.model_asset} {self.version}"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
