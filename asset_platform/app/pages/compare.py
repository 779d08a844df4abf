"""Which versions the model page compares (its query string, or the champion and the latest challenger),
and the rows of their diff table: pure functions over what the event log recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from asset_platform.app.pages.versions import Evaluated, GateDecision, TrainedVersion

VERSIONS = "versions"
QUERY_PARAMETERS = (VERSIONS,)
_HEX = re.compile(r"^[0-9a-f]+$")
_SHORTEST = 4


class BadQuery(ValueError):
    """A query parameter the page cannot use (HTTP 400); `parameter` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"query parameter {parameter!r}: {message}")
        self.parameter = parameter


class UnknownVersion(LookupError):
    """A version the event log does not know for this model (HTTP 404)."""


def chosen_versions(
    model: str,
    query: Mapping[str, Sequence[str]],
    versions: Sequence[TrainedVersion],
    decisions: Sequence[GateDecision],
) -> list[TrainedVersion]:
    """The versions named by `?versions=a,b` (prefixes of at least 4 hex digits), else the default pair."""
    unknown = sorted(set(query) - set(QUERY_PARAMETERS))
    if unknown:
        raise BadQuery(unknown[0], f"this page takes only {', '.join(QUERY_PARAMETERS)}")
    if VERSIONS not in query:
        return default_versions(versions, decisions)
    refs = [ref.strip() for value in query[VERSIONS] for ref in value.split(",") if ref.strip()]
    chosen: list[TrainedVersion] = []
    for ref in refs:
        found = _find(model, ref, versions)
        if found not in chosen:
            chosen.append(found)
    if len(chosen) < 2:
        raise BadQuery(VERSIONS, f"name two or more distinct versions, comma separated (got {len(chosen)})")
    return chosen


def default_versions(versions: Sequence[TrainedVersion], decisions: Sequence[GateDecision]) -> list[TrainedVersion]:
    """The champion and the latest challenger the gate saw; the newest versions fill in for a missing one."""
    by_version = {v.version: v for v in versions}
    champion_version = decisions[-1].champion if decisions else ""
    challengers = (d.version for d in reversed(decisions) if d.version != champion_version)
    picked = [by_version[v] for v in (champion_version, next(challengers, "")) if v in by_version]
    for version in reversed(versions):
        if len(picked) >= 2:
            break
        if version not in picked:
            picked.append(version)
    return picked


def _find(model: str, ref: str, versions: Sequence[TrainedVersion]) -> TrainedVersion:
    if len(ref) < _SHORTEST or not _HEX.match(ref):
        raise BadQuery(VERSIONS, f"{ref!r} is not a version: give at least {_SHORTEST} hex digits of one")
    matches = [v for v in versions if v.version.startswith(ref)]
    if not matches:
        raise UnknownVersion(f"model {model!r} has no version starting with {ref!r} in the event log")
    if len(matches) > 1:
        raise BadQuery(VERSIONS, f"{ref!r} is ambiguous: {', '.join(v.version for v in matches)}")
    return matches[0]


def diff_rows(
    versions: Sequence[TrainedVersion], decisions: Sequence[GateDecision], evaluated: Mapping[str, Evaluated]
) -> list[tuple[str, str, list[Any]]]:
    """(section, name, one value per version) for every parameter, metric, resource and fact any version has."""
    last_decision = {d.version: d.decision for d in decisions}
    sections: list[tuple[str, list[dict[str, Any]]]] = [
        ("model", [{"asset": v.asset, "flavor": v.flavor, "gate": last_decision.get(v.version, "")} for v in versions]),
        ("metrics", [v.metrics for v in versions]),
        ("confusion", [confusion_cells(evaluated[v.version]) if v.version in evaluated else {} for v in versions]),
        ("resources", [v.usage for v in versions]),
        ("params", [flatten(v.params) for v in versions]),
        ("facts", [v.facts for v in versions]),
    ]
    rows = []
    for section, values in sections:
        names = sorted({name for value in values for name in value}, key=metric_order if section == "metrics" else str)
        rows += [(section, name, [value.get(name) for value in values]) for name in names]
    return rows


def confusion_cells(found: Evaluated) -> dict[str, int]:
    """A version's confusion counts by cell: tn/fp/fn/tp (binary), or "<actual> → <predicted>" per pair of
    classes (multiclass), so the diff table lines the same cell of each version up."""
    if not found.matrix:
        return found.confusion
    classes, counts = found.matrix.get("classes", []), found.matrix.get("counts", [])
    return {
        f"{actual} → {predicted}": int(count)
        for actual, row in zip(classes, counts, strict=False)
        for predicted, count in zip(classes, row, strict=False)
    }


def differs(values: Sequence[Any]) -> bool:
    return len({json.dumps(value, sort_keys=True, default=str) for value in values}) > 1


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as dotted names; lists stay values."""
    flat: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def metric_order(name: str) -> tuple[int, str]:
    """Holdout metrics first (the gate's), then validation, then training, then counts."""
    for rank, split in enumerate(("holdout_", "valid_", "train_")):
        if name.startswith(split):
            return rank, name
    return 3, name
