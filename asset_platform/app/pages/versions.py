"""What the model page reads from the event log: each model version, each gate decision, each evaluation.

A model version is one materialization of a model asset (`lifecycle/training.py` `model_result`:
params, `metrics/*`, `training/*`, `learning_curve_values`), named by its data version (the DVC md5).
A gate decision is one materialization of `<model>/champion` (`decision`, `reason`, `champion_version`,
`challenger_version`). An evaluation is one of `<model>/evaluation`; its input data versions say which
version of each model asset it scored, its `segments` and `confusion_matrices` tables the per-version
figures (ROC and calibration are stored only as images, so they are not read).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import dagster as dg

from asset_platform.declaration.names import EVALUATION, LifecycleNames
from asset_platform.reports.evaluation import CURVE_VALUES
from asset_platform.reports.multiclass import CONFUSION_VALUES

DATA_VERSION_TAG = "dagster/data_version"
INPUT_VERSION_TAG = "dagster/input_data_version/"
# Newest materializations read per asset: a long history stays bounded.
_EVENTS = 500
_PAGE = 20


@dataclass(frozen=True)
class TrainedVersion:
    """One model version as its model asset's materialization recorded it."""

    version: str
    asset: str  # the model asset's key, "ecommerce/lgbm_model"
    trained_at: float
    run_id: str
    flavor: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)  # seed, features, git commit, library versions


@dataclass(frozen=True)
class GateDecision:
    """One materialization of the champion: the decision, about which version, and the champion after it."""

    at: float
    decision: str
    version: str  # the version decided about: the challenger, or the target of a rollback
    champion: str  # the champion's version after the decision
    reason: str
    run_id: str


@dataclass(frozen=True)
class Evaluated:
    """What one evaluation recorded about one version: its metric per segment, its confusion counts."""

    run_id: str
    segments: dict[str, float] = field(default_factory=dict)
    confusion: dict[str, int] = field(default_factory=dict)
    # The evaluation's curves as numbers (reports.evaluation.curve_values), {} for an evaluation before them.
    curves: dict[str, Any] = field(default_factory=dict)
    # A multiclass version's confusion matrix ({"classes", "counts"}, reports.multiclass.confusion_values), else {}.
    matrix: dict[str, Any] = field(default_factory=dict)


def trained_version(asset: str, record: dg.EventLogRecord) -> TrainedVersion:
    materialization = record.asset_materialization
    return version_from_metadata(
        asset,
        materialization.tags.get(DATA_VERSION_TAG, ""),
        record.timestamp,
        record.run_id,
        {name: entry.value for name, entry in materialization.metadata.items()},
    )


def version_from_metadata(
    asset: str, version: str, at: float, run_id: str, metadata: Mapping[str, Any]
) -> TrainedVersion:
    """A version from its materialization's metadata values (model_result's entries)."""
    facts = {name: str(metadata[name]) for name in ("seed", "feature_count", "git_commit") if name in metadata}
    libraries = metadata.get("library_versions")
    if isinstance(libraries, dict):
        facts.update({f"library/{name}": str(value) for name, value in sorted(libraries.items())})
    curve = metadata.get("learning_curve_values")
    return TrainedVersion(
        version=version,
        asset=asset,
        trained_at=at,
        run_id=run_id,
        flavor=str(metadata.get("flavor", "")),
        params=dict(metadata.get("params") or {}),
        metrics=_numbers(metadata, "metrics/"),
        usage=_numbers(metadata, "training/"),
        curve={str(k): [float(x) for x in v] for k, v in curve.items()} if isinstance(curve, dict) else {},
        facts=facts,
    )


def model_versions(instance: dg.DagsterInstance, names: LifecycleNames) -> list[TrainedVersion]:
    """Every version of every model asset, oldest first; a version materialized again is listed once (first)."""
    found: dict[str, TrainedVersion] = {}
    for key in names.model_keys:
        for record in instance.fetch_materializations(key, limit=_EVENTS).records:
            trained = trained_version(key.to_user_string(), record)
            if trained.version:
                found[trained.version] = trained  # newest first: the oldest materialization stays
    return sorted(found.values(), key=lambda v: v.trained_at)


def gate_decisions(instance: dg.DagsterInstance, names: LifecycleNames) -> list[GateDecision]:
    """Every decision recorded on the champion asset, oldest first."""
    decisions = []
    for record in instance.fetch_materializations(names.champion, limit=_EVENTS).records:
        metadata = record.asset_materialization.metadata

        def text(name: str, metadata=metadata) -> str:
            entry = metadata.get(name)
            return "" if entry is None else str(entry.value)

        champion = text("champion_version")
        decisions.append(
            GateDecision(
                at=record.timestamp,
                decision=text("decision") or "changed",
                version=text("challenger_version") or champion,
                champion=champion,
                reason=text("reason"),
                run_id=record.run_id,
            )
        )
    return sorted(decisions, key=lambda d: d.at)


def evaluations(
    instance: dg.DagsterInstance, names: LifecycleNames, versions: list[TrainedVersion]
) -> dict[str, Evaluated]:
    """The newest evaluation of each of `versions` that recorded one, by version."""
    wanted = {(v.asset, v.version): v for v in versions}
    found: dict[str, Evaluated] = {}
    for record in _newest(instance, names.key(EVALUATION), until=lambda: len(found) == len(wanted)):
        materialization = record.asset_materialization
        inputs = {tag.removeprefix(INPUT_VERSION_TAG): value for tag, value in materialization.tags.items()}
        for asset, value in inputs.items():
            version = wanted.get((asset, value))
            if version is None or version.version in found:
                continue
            metadata = {name: str(entry.value) for name, entry in materialization.metadata.items()}
            model_asset = version.asset.rsplit("/", 1)[-1]
            curves = _recorded(materialization.metadata, CURVE_VALUES, model_asset)
            matrix = _recorded(materialization.metadata, CONFUSION_VALUES, model_asset)
            found[version.version] = replace(
                evaluated(model_asset, record.run_id, metadata), curves=curves, matrix=matrix
            )
    return found


def _recorded(metadata: Mapping[str, Any], name: str, model_asset: str) -> dict[str, Any]:
    """One model asset's entry of a JSON metadata value keyed by model asset, {} where none was recorded."""
    entry = metadata.get(name)
    mine = entry.value.get(model_asset) if entry is not None and isinstance(entry.value, dict) else None
    return mine if isinstance(mine, dict) else {}


def _newest(instance: dg.DagsterInstance, key: dg.AssetKey, until: Callable[[], bool]) -> Iterator[dg.EventLogRecord]:
    """The asset's materializations, newest first, a page at a time (each carries its charts) until `until()`."""
    cursor, read = None, 0
    while read < _EVENTS and not until():
        page = instance.fetch_materializations(key, limit=_PAGE, cursor=cursor)
        yield from page.records
        read, cursor = read + len(page.records), page.cursor
        if not page.has_more:
            return


def evaluated(model_asset: str, run_id: str, metadata: Mapping[str, str]) -> Evaluated:
    """One model asset's column of the evaluation's segment table and its confusion counts."""
    segments: dict[str, float] = {}
    for row in markdown_rows(metadata.get("segments", "")):
        value = next((v for k, v in row.items() if k.split(" ", 1)[0] == model_asset), "")
        if row.get("segment") and _is_number(value):
            segments[row["segment"]] = float(value)
    confusion: dict[str, int] = {}
    found = re.search(
        rf"\*\*{re.escape(model_asset)}\*\*\s+\|[^\n]*\n\|[-| ]+\n"
        r"\| actual 0 \| (\d+) \| (\d+) \|\n\| actual 1 \| (\d+) \| (\d+) \|",
        metadata.get("confusion_matrices", ""),
    )
    if found:
        confusion = dict(zip(("tn", "fp", "fn", "tp"), map(int, found.groups()), strict=True))
    return Evaluated(run_id, segments, confusion)


def markdown_rows(text: str) -> list[dict[str, str]]:
    """The rows of a markdown table (pandas' `to_markdown`), as header → cell text."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    if len(lines) < 2:
        return []
    header = _cells(lines[0])
    return [dict(zip(header, _cells(line), strict=False)) for line in lines[2:]]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _numbers(metadata: Mapping[str, Any], prefix: str) -> dict[str, float]:
    return {
        name.removeprefix(prefix): float(value)
        for name, value in metadata.items()
        if name.startswith(prefix) and isinstance(value, int | float) and not isinstance(value, bool)
    }


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
