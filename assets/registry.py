"""Registry: the production alias as an asset.

`champion_model` holds a pointer to the model version in production. Every
promotion, rejection and rollback is one materialization of it, so its history
in the UI is the full alias history: who or what changed it, when, and why.
A rejected challenger leaves the pointer's bytes unchanged, so its data version
stays the same and nothing downstream becomes stale.
"""

import datetime as dt
from typing import Any, Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from asset_platform.ml import TrainedModel
from asset_platform.notify import Notifier, RetrainingOutcome
from asset_platform.registry.gate import GateComparison, compare
from asset_platform.registry.models import ModelRegistry, ModelVersion
from asset_platform.registry.trigger import EVIDENCE_TAG, describe_trigger
from asset_platform.validation.columns import LABEL_COLUMN
from assets.features.pipeline import holdout_rows, score_events


class ChampionConfig(dg.Config):
    action: Literal["gate", "promote", "rollback"] = Field(
        default="gate",
        description="gate: promote the best new model if it beats the champion; "
        "promote: make `version` the champion; rollback: return to `version` or the previous champion.",
    )
    version: str | None = Field(default=None, description="Model data version (or a prefix) for promote/rollback.")
    reason: str = Field(default="", description="Why, in words; recorded in the alias history.")
    margin: float = Field(default=0.0, description="AUC gain the challenger's 95% CI lower bound must exceed.")
    resamples: int = Field(default=300, ge=50, description="Paired bootstrap resamples.")


@dg.asset(group_name="registry", kinds={"json"}, code_version="1")
def champion_model(
    context: dg.AssetExecutionContext,
    config: ChampionConfig,
    registry: ModelRegistry,
    notifier: Notifier,
    model_evaluation: pd.DataFrame,
    validated_events: pd.DataFrame,
    feature_pipeline: dict,
) -> dg.MaterializeResult:
    """The model version in production: a pointer (model asset, DVC version, metrics, reason).

    Changed only through the promotion gate, by hand (`asset-platform models promote`)
    or by a rollback; each change is one materialization.
    """
    trigger = describe_trigger(context.run.tags)
    current = registry.champion()
    if config.action == "gate":
        holdout = holdout_rows(validated_events, feature_pipeline)
        pointer, decision, details = _gate(config, registry, current, model_evaluation, holdout, trigger)
    else:
        pointer, decision, details = _by_hand(config, registry, current, trigger)
    context.log.info(f"champion_model: {decision}: {details['reason']}")
    if decision in ("promoted", "rejected") and config.action == "gate":
        notifier.notify(_outcome(decision, details, context.run.run_id), log=context.log)
    metadata = {
        **_decision_metadata(pointer, decision, details, trigger),
        **_evidence_metadata(context.run.tags),
        "history": _history_table(registry, pointer, decision, context.run.run_id),
    }
    return dg.MaterializeResult(value=pointer, metadata=metadata)


def _gate(config, registry, current, evaluation, holdout, trigger) -> tuple[dict, str, dict[str, Any]]:
    best = evaluation.loc[evaluation["auc"].idxmax(), "model"]
    challenger = registry.versions(best)[0]
    if current is None:
        reason = f"first model: {best} is the best of {len(evaluation)} on the holdout"
        return _pointer(challenger, reason, trigger), "promoted", {"reason": reason, "challenger": challenger.version}
    if current["version"] == challenger.version:
        reason = "the best new model is already the champion"
        return current, "kept", {"reason": reason, "challenger": challenger.version}
    champion = registry.load(current["model_asset"], current["version"])
    comparisons = [_compare_on("holdout", holdout, champion, registry.load(best, challenger.version), config)]
    summary = "; ".join(c.describe() for c in comparisons)
    details = {"challenger": challenger.version, "comparisons": comparisons}
    if all(c.passed for c in comparisons):
        details["reason"] = f"promoted {best} {challenger.version[:8]}: {summary}"
        return _pointer(challenger, details["reason"], trigger), "promoted", details
    details["reason"] = f"rejected {best} {challenger.version[:8]}: {summary}"
    return current, "rejected", details


def _compare_on(window: str, events: pd.DataFrame, champion: TrainedModel, challenger: TrainedModel, config):
    labels = events[LABEL_COLUMN].to_numpy()
    return compare(
        window,
        labels,
        score_events(champion, events),
        score_events(challenger, events),
        config.margin,
        config.resamples,
    )


def _by_hand(config, registry, current, trigger) -> tuple[dict, str, dict[str, Any]]:
    if config.action == "promote" and not config.version:
        raise dg.Failure("promote needs a version: set `version` to a model data version")
    target = registry.find(config.version) if config.version else _previous_champion(registry, current)
    word = "promoted by hand" if config.action == "promote" else "rolled back"
    reason = f"{word} to {target.asset} {target.version[:8]}" + (f": {config.reason}" if config.reason else "")
    decision = "promoted" if config.action == "promote" else "rolled back"
    return _pointer(target, reason, trigger), decision, {"reason": reason, "challenger": target.version}


def _previous_champion(registry: ModelRegistry, current: dict | None) -> ModelVersion:
    """The champion before the current one, skipping materializations that kept it."""
    if current is None:
        raise dg.Failure("nothing to roll back: there is no champion yet")
    for _record, pointer in reversed(registry.champion_history()):
        if pointer["version"] != current["version"]:
            return registry.find(pointer["version"])
    raise dg.Failure("nothing to roll back to: the current champion is the only one there has been")


def _pointer(version: ModelVersion, reason: str, trigger: str) -> dict[str, Any]:
    return {
        "model_asset": version.asset,
        "version": version.version,
        "flavor": version.manifest["flavor"],
        "metrics": {k: v for k, v in version.metrics.items() if k.startswith(("holdout_", "valid_"))},
        "reason": reason,
        "changed_by": trigger,
        "changed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _outcome(decision: str, details: dict[str, Any], run_id: str) -> RetrainingOutcome:
    comparisons: list[GateComparison] = details.get("comparisons", [])
    first = comparisons[0] if comparisons else None
    return RetrainingOutcome(
        asset="champion_model",
        promoted=decision == "promoted",
        challenger_auc=first.challenger_auc if first else float("nan"),
        champion_auc=first.champion_auc if first else None,
        auc_difference=first.delta_auc if first else None,
        auc_difference_ci=(first.ci_low, first.ci_high) if first else None,
        reason=details["reason"],
        run_id=run_id,
    )


def _evidence_metadata(tags: dict[str, str]) -> dict[str, Any]:
    """Links from a drift-triggered decision to the batch_drift reports that justified it."""
    if EVIDENCE_TAG not in tags:
        return {}
    links = [
        f"- [batch_drift {key}](/assets/batch_drift?view=partitions&partition={key})"
        for key in tags[EVIDENCE_TAG].split(",")
    ]
    return {
        "evidence": dg.MetadataValue.md("\n".join(links)),
        "drift_reason": tags.get("asset_platform/drift_reason", ""),
    }


_HISTORY_ROWS = 50
_HISTORY_COLUMNS = ("changed_at", "decision", "model", "version", "changed_by", "run_id", "reason")


def _history_table(registry: ModelRegistry, pointer: dict, decision: str, run_id: str) -> dg.TableMetadataValue:
    """Every change of the alias so far plus this one, newest first: the history at a glance."""
    rows = []
    previous = None
    for record, past in registry.champion_history(last=_HISTORY_ROWS - 1):
        change = "unchanged" if previous is not None and past["version"] == previous else "changed"
        rows.append((past.get("changed_at", ""), change, past, record.run_id or ""))
        previous = past["version"]
    rows.append((pointer["changed_at"] if decision != "rejected" else "", decision, pointer, run_id))
    records = [
        dg.TableRecord(
            {
                "changed_at": at,
                "decision": what,
                "model": past["model_asset"],
                "version": past["version"][:12],
                "changed_by": past.get("changed_by", ""),
                "run_id": run[:8],
                "reason": past.get("reason", "")[:200],
            }
        )
        for at, what, past, run in reversed(rows)
    ]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in _HISTORY_COLUMNS])
    return dg.MetadataValue.table(records=records, schema=schema)


def _decision_metadata(pointer: dict, decision: str, details: dict, trigger: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "decision": decision,
        "reason": details["reason"],
        "changed_by": trigger,
        "champion": f"{pointer['model_asset']} {pointer['version']}",
        "champion_version": pointer["version"],
        "challenger_version": details.get("challenger", ""),
    }
    comparisons: list[GateComparison] = details.get("comparisons", [])
    if comparisons:
        table = pd.DataFrame([c.to_dict() for c in comparisons]).round(4)
        metadata["comparison"] = dg.MetadataValue.md(table.to_markdown(index=False))
        for c in comparisons:
            metadata[f"{c.window}/delta_auc"] = dg.MetadataValue.float(c.delta_auc)
            metadata[f"{c.window}/ci_low"] = dg.MetadataValue.float(c.ci_low)
    return metadata
