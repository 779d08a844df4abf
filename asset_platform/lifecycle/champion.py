"""Registry: the production alias of a declared model as an asset.

`<model>/champion` holds a pointer to the model version in production. Every
promotion, rejection and rollback is one materialization of it, so its history
in the UI is the full alias history: who or what changed it, when, and why. A
rejected challenger leaves the pointer's bytes unchanged, so its data version
stays the same and nothing downstream becomes stale.
"""

from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import Field

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import (
    DATASET,
    DRIFT,
    EVALUATION,
    FEATURE_PIPELINE,
    SHADOW_COMPARISON,
    TRAINING_SET,
    LifecycleNames,
)
from asset_platform.lifecycle.failures import deterministic_failure
from asset_platform.lifecycle.frames import Frame
from asset_platform.notify import Notifier, RetrainingOutcome
from asset_platform.registry.models import ModelLineup, ModelRegistry, ModelVersion, lineup_for
from asset_platform.registry.pointer import ChampionPointer, now_iso
from asset_platform.registry.shadow import RETIRED, SHADOW_BOUNDS_TAG, SHADOW_EVIDENCE_TAG, SHADOWED
from asset_platform.registry.trigger import DRIFT_REASON_TAG, EVIDENCE_TAG, describe_trigger

if TYPE_CHECKING:
    from asset_platform.registry.gate import GateComparison

# The gate's decision where the holdout holds too few of a class to tell the models apart.
INSUFFICIENT = "insufficient"


class ChampionConfig(dg.Config):
    action: Literal["gate", "promote", "rollback", "shadow", "retire"] = Field(
        default="gate",
        description="gate: promote the best new model if it beats the champion; "
        "promote: make `version` the champion; rollback: return to `version` or the previous champion; "
        "shadow: put `version` in shadow beside the champion; retire: end the challenger's shadow period.",
    )
    version: str | None = Field(default=None, description="Model data version (or a prefix) for promote/rollback.")
    reason: str = Field(default="", description="Why, in words; recorded in the alias history.")
    margin: float | None = Field(default=None, description="Override the declared gate margin for this run.")


def champion_training_data(
    instance: dg.DagsterInstance, registry: ModelRegistry, names: LifecycleNames, pointer: ChampionPointer, dataset
) -> tuple[Frame, str]:
    """The dataset version the champion's training split was cut from (its rows) and that version.

    The reference profile is a function of this version only: today's dataset may hold labeled production
    batches dated inside the champion's window, and a rejected retrain must not move the reference. When
    the event log no longer knows the champion's lineage, `dataset` (today's) is returned with version "".
    """
    from asset_platform.registry.lineage import trained_from

    model = dg.AssetKey(pointer.model_asset.split("/"))
    version = trained_from(instance, model, pointer.version, names.key(TRAINING_SET), names.key(DATASET))
    if not version:
        return dataset, ""
    return registry.store.get(names.path(DATASET), None, version), version


def champion_asset(declaration: ModelDeclaration, names: LifecycleNames) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.champion,
        group_name=names.group("registry"),
        kinds={"json"},
        code_version="3",
        ins={
            "evaluation": dg.AssetIn(key=names.key(EVALUATION)),
            "dataset": dg.AssetIn(key=names.key(DATASET)),
            "feature_pipeline": dg.AssetIn(key=names.key(FEATURE_PIPELINE)),
        },
        description=f"{declaration.name}: the model version in production, a pointer (model asset, DVC version, "
        "metrics, reason). Changed only through the promotion gate, by hand or by a rollback.",
        # The model page `asset-platform serve` adds beside this UI (asset_platform/app/pages/).
        metadata={"asset_platform/page": dg.MetadataValue.url(f"/platform/models/{declaration.name}")},
    )
    def champion(
        context: dg.AssetExecutionContext,
        config: ChampionConfig,
        registry: ModelRegistry,
        notifier: Notifier,
        evaluation: Frame,
        dataset: Frame,
        feature_pipeline: dict,
    ) -> dg.MaterializeResult:
        from asset_platform.ml.features import FeaturePipeline, holdout_rows

        if config.action != "gate" and context.job_name != names.set_champion_job:
            # A hand decision in any other job (the implicit asset job, a training run given this config)
            # would skip the role the set_champion job asks for: a launcher could promote what it likes.
            raise deterministic_failure(
                context,
                f"{names.champion.to_user_string()}: {config.action!r} is a decision by hand, taken only in the "
                f"{names.set_champion_job} job (it needs the editor role: asset-platform models promote|rollback, "
                f"or that job's launchpad); {context.job_name!r} may only run the gate (action: gate)",
            )
        lineup = lineup_for(registry, names)
        trigger = describe_trigger(context.run.tags)
        current = _current_champion(context, lineup, config)
        if config.action == "gate":
            holdout = holdout_rows(dataset, FeaturePipeline.from_dict(feature_pipeline))
            pointer, decision, details = _gate(
                declaration, names, config, lineup, current, evaluation, holdout, trigger
            )
        elif config.action == "retire":
            pointer, decision, details = _retire(names, config, current, context.instance)
        elif config.action == "shadow":
            pointer, decision, details = _shadow_by_hand(declaration, config, lineup, current)
        else:
            pointer, decision, details = _by_hand(config, lineup, current, trigger)
        log = context.log.warning if decision == INSUFFICIENT else context.log.info
        log(f"{names.champion.to_user_string()}: {decision}: {details['reason']}")
        gated = decision in ("promoted", "rejected") and config.action == "gate"
        if gated or SHADOW_EVIDENCE_TAG in context.run.tags:  # a gate verdict, or the shadow sensor's decision
            notifier.notify(
                _outcome(names, declaration.gate_metric, decision, details, context.run.run_id), log=context.log
            )
        metadata = {
            **_decision_metadata(pointer, decision, details, trigger),
            **_evidence_metadata(names, context.run.tags),
            **_shadow_metadata(names, context.run.tags),
            "history": _history_table(
                context.instance, lineup, pointer, decision, details, trigger, context.run.run_id
            ),
        }
        return dg.MaterializeResult(value=pointer.to_dict(), metadata=metadata)

    return champion


def _gate(declaration, names, config, lineup: ModelLineup, current, evaluation, holdout, trigger):
    from asset_platform.ml.metrics import METRIC_DIRECTION
    from asset_platform.registry.gate import compare

    metric = declaration.gate_metric
    shortage = _class_shortage(declaration, holdout)
    ranked = evaluation[metric] * METRIC_DIRECTION[metric]
    best = str(evaluation.loc[ranked.idxmax(), "model"])
    challenger = lineup.versions(names.key(best).to_user_string())[0]
    if current is None:
        # Nothing to compare with and nothing to keep: the first model serves, its weak evidence said.
        reason = f"first model: {best} is the best of {len(evaluation)} on the holdout ({metric})"
        reason += f"; caution: {shortage}" if shortage else ""
        return _pointer(challenger, reason, trigger), "promoted", {"reason": reason, "challenger": challenger.version}
    if current.version == challenger.version:
        reason = "the best new model is already the champion"
        return current, "kept", {"reason": reason, "challenger": challenger.version}
    if shortage:
        reason = f"no decision on {best} {challenger.version[:8]}: {shortage}; {current.describe()} stays champion"
        return current, INSUFFICIENT, {"reason": reason, "challenger": challenger.version}
    from asset_platform.ml.scoring import label_values, score_rows

    champion_model = lineup.load_champion(current)
    challenger_model = lineup.load(challenger.asset, challenger.version)
    margin = declaration.gate.margin if config.margin is None else config.margin
    scores = score_rows(champion_model, holdout), score_rows(challenger_model, holdout)
    labels = label_values(declaration, holdout)
    comparison = compare(
        "holdout", labels, *scores, metric, margin, declaration.gate.resamples, recall=declaration.metric_recall
    )
    details: dict[str, Any] = {"challenger": challenger.version, "comparisons": [comparison]}
    blocked = _fairness_evidence(declaration, details, holdout, scores, (champion_model, challenger_model))
    if comparison.passed and blocked:
        details["reason"] = (
            f"rejected {best} {challenger.version[:8]} by the fairness rule: "
            f"{details['fairness'].decision.describe(blocking_only=True)} "
            f"(the metric gate alone would pass: {comparison.describe()})"
        )
        return current, "rejected", details
    if comparison.passed and declaration.shadow.enabled:
        details["reason"] = (
            f"shadowing {best} {challenger.version[:8]}: {comparison.describe()}; it scores production beside "
            "the champion until labeled batches promote or retire it"
        )
        return current, SHADOWED, details
    if comparison.passed:
        details["reason"] = f"promoted {best} {challenger.version[:8]}: {comparison.describe()}"
        return _pointer(challenger, details["reason"], trigger), "promoted", details
    details["reason"] = f"rejected {best} {challenger.version[:8]}: {comparison.describe()}"
    return current, "rejected", details


def _class_shortage(declaration, holdout) -> str | None:
    """For a classifier, why its holdout holds too few positives or negatives (multiclass: rows of some class)
    to decide on; else None."""
    if declaration.task == "multiclass":
        from asset_platform.ml.scoring import label_values
        from asset_platform.registry.gate import multiclass_shortage

        labels = label_values(declaration, holdout)
        return multiclass_shortage(labels, declaration.label_classes, declaration.gate.min_positives)
    if declaration.task != "binary_classification":
        return None
    from asset_platform.registry.gate import class_shortage

    labels = holdout[declaration.label_column].to_numpy()
    return class_shortage(labels, declaration.gate.min_positives, declaration.gate.min_negatives)


def _fairness_evidence(declaration, details: dict[str, Any], holdout, scores, models) -> bool:
    """Add the fairness rule's decision and both models' attributions to `details`; True when the rule blocks.

    The rule draws the metric gate's resamples (same rows, same seed), so both verdicts rest on the same draws.
    """
    from asset_platform.fairness.audit import gate_explanations, gate_fairness

    fairness = gate_fairness(declaration, holdout, *scores)
    if fairness is not None:
        details["fairness"] = fairness
    details["explanations"] = gate_explanations(declaration, holdout, *models)
    return fairness is not None and fairness.decision.blocked


def _by_hand(config: ChampionConfig, lineup: ModelLineup, current, trigger):
    if config.action == "promote" and not config.version:
        raise dg.Failure("promote needs a version: set `version` to a model data version")
    target = lineup.find(config.version) if config.version else _previous_champion(lineup, current)
    word = "promoted by hand" if config.action == "promote" else "rolled back"
    reason = f"{word} to {target.asset} {target.version[:8]}" + (f": {config.reason}" if config.reason else "")
    decision = "promoted" if config.action == "promote" else "rolled back"
    return _pointer(target, reason, trigger), decision, {"reason": reason, "challenger": target.version}


def _shadow_by_hand(declaration: ModelDeclaration, config: ChampionConfig, lineup: ModelLineup, current):
    if current is None or not config.version:
        raise dg.Failure("shadow needs a champion and a `version` to put beside it")
    target = lineup.find(config.version)
    if target.version == current.version:
        raise dg.Failure(f"{target.version[:8]} is the champion already")
    if declaration.task == "multiclass":
        from asset_platform.lifecycle.shadow import shadow_challenger

        # Refused now rather than by every production batch's scoring: its probabilities must line up.
        shadow_challenger(declaration, lineup.load(target.asset, target.version), target.version)
    reason = f"shadowing {target.asset} {target.version[:8]} by hand" + (f": {config.reason}" if config.reason else "")
    return current, SHADOWED, {"reason": reason, "challenger": target.version}


def _retire(names: LifecycleNames, config: ChampionConfig, current, instance: dg.DagsterInstance):
    from asset_platform.registry.shadow import current_challenger

    if current is None:
        raise dg.Failure("nothing to retire: there is no champion yet")
    challenger = config.version or current_challenger(instance, names)
    if not challenger:
        raise dg.Failure("nothing to retire: no challenger is in shadow")
    reason = f"retired challenger {challenger[:8]}; {current.describe()} stays champion" + (
        f": {config.reason}" if config.reason else ""
    )
    return current, RETIRED, {"reason": reason, "challenger": challenger}


def _shadow_metadata(names: LifecycleNames, tags: dict[str, str]) -> dict[str, Any]:
    """Links from a shadow decision to the comparison batches that justified it."""
    if SHADOW_EVIDENCE_TAG not in tags:
        return {}
    comparison = names.key(SHADOW_COMPARISON).to_user_string()
    links = [
        f"- [{comparison} {key}](/assets/{comparison}?view=partitions&partition={key})"
        for key in tags[SHADOW_EVIDENCE_TAG].split(",")
        if key
    ]
    return {"shadow_evidence": dg.MetadataValue.md("\n".join(links)), "shadow_bounds": tags.get(SHADOW_BOUNDS_TAG, "")}


def _current_champion(context: dg.AssetExecutionContext, lineup: ModelLineup, config: ChampionConfig):
    """The champion pointer; for a change by hand, None with a warning where its stored bytes are lost.

    A rollback or promotion is what repairs a lost champion, so it must not need the lost bytes itself.
    """
    from asset_platform.storage.store import IntegrityError

    try:
        return lineup.champion()
    except IntegrityError as error:
        if config.action not in ("rollback", "promote"):
            raise
        context.log.warning(f"the current champion pointer cannot be read ({error}); {config.action} goes on")
        return None


def _previous_champion(lineup: ModelLineup, current: ChampionPointer | None) -> ModelVersion:
    """The latest earlier champion whose model bytes are intact, skipping materializations that kept one.

    Pointers whose own bytes are lost are skipped, and so are champions whose model is lost: a rollback
    goes to a model that can serve, whatever happened to the current one or to the ones in between.
    """
    from asset_platform.storage.store import IntegrityError

    history = lineup.champion_history()  # changes whose pointer bytes are lost are left out
    if not history:
        raise dg.Failure("nothing to roll back: there is no champion yet")
    skipped: dict[str, str] = {}
    for _record, pointer in reversed(history):
        if (current is not None and pointer.version == current.version) or pointer.version in skipped:
            continue
        target = lineup.find(pointer.version)
        try:
            lineup.store.ensure_local(target.record, full_check=True)
        except IntegrityError as error:
            skipped[pointer.version] = str(error)
            continue
        return target
    if skipped:
        lost = "; ".join(f"{version[:12]}: {why}" for version, why in skipped.items())
        raise dg.Failure(f"nothing to roll back to: every earlier champion's model is lost ({lost})")
    raise dg.Failure("nothing to roll back to: the current champion is the only one there has been")


def _pointer(version: ModelVersion, reason: str, trigger: str) -> ChampionPointer:
    return ChampionPointer(
        model_asset=version.asset,
        version=version.version,
        flavor=version.manifest["flavor"],
        metrics={k: v for k, v in version.metrics.items() if k.startswith(("holdout_", "valid_"))},
        reason=reason,
        changed_by=trigger,
        changed_at=now_iso(),
    )


def _outcome(
    names: LifecycleNames, metric: str, decision: str, details: dict[str, Any], run_id: str
) -> RetrainingOutcome:
    comparisons: list[GateComparison] = details.get("comparisons", [])
    first = comparisons[0] if comparisons else None
    return RetrainingOutcome(
        asset=names.champion.to_user_string(),
        promoted=decision == "promoted",
        metric=metric,
        challenger_value=first.challenger_value if first else float("nan"),
        champion_value=first.champion_value if first else None,
        improvement=first.improvement if first else None,
        improvement_ci=(first.ci_low, first.ci_high) if first else None,
        reason=details["reason"],
        run_id=run_id,
        fairness=details["fairness"].decision.to_dict() if "fairness" in details else None,
    )


def _evidence_metadata(names: LifecycleNames, tags: dict[str, str]) -> dict[str, Any]:
    """Links from a drift-triggered decision to the drift reports that justified it."""
    if EVIDENCE_TAG not in tags:
        return {}
    drift = names.key(DRIFT).to_user_string()
    links = [
        f"- [{drift} {key}](/assets/{drift}?view=partitions&partition={key})" for key in tags[EVIDENCE_TAG].split(",")
    ]
    return {"evidence": dg.MetadataValue.md("\n".join(links)), "drift_reason": tags.get(DRIFT_REASON_TAG, "")}


_HISTORY_ROWS = 50
_HISTORY_COLUMNS = ("changed_at", "decision", "model", "version", "changed_by", "run_id", "reason")


def _history_table(
    instance: dg.DagsterInstance,
    lineup: ModelLineup,
    pointer: ChampionPointer,
    decision: str,
    details: dict,
    trigger: str,
    run_id: str,
) -> dg.TableMetadataValue:
    """Every decision about the alias so far plus this one, newest first, each with its own time, reason, actor."""
    from asset_platform.registry.decisions import ChampionDecision, champion_decisions

    past = champion_decisions(lineup, instance)[-(_HISTORY_ROWS - 1) :]
    now = ChampionDecision(
        now_iso(), decision, details["reason"], trigger, run_id, pointer, details.get("challenger", "")
    )
    records = [
        dg.TableRecord(
            {
                "changed_at": row.at,
                "decision": row.decision,
                "model": row.champion.model_asset,
                "version": row.champion.version[:12],
                "changed_by": row.changed_by,
                "run_id": row.run_id[:8],
                "reason": row.reason[:200],
            }
        )
        for row in reversed([*past, now])
    ]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in _HISTORY_COLUMNS])
    return dg.MetadataValue.table(records=records, schema=schema)


def _decision_metadata(pointer: ChampionPointer, decision: str, details: dict, trigger: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "decision": decision,
        "reason": details["reason"],
        "changed_by": trigger,
        "champion": pointer.describe(),
        "champion_version": pointer.version,
        "challenger_version": details.get("challenger", ""),
    }
    comparisons: list[GateComparison] = details.get("comparisons", [])
    if comparisons:
        import pandas as pd

        table = pd.DataFrame([c.to_dict() for c in comparisons]).round(4)
        metadata["comparison"] = dg.MetadataValue.md(table.to_markdown(index=False))
        for c in comparisons:
            metadata[f"{c.window}/improvement"] = dg.MetadataValue.float(c.improvement)
            metadata[f"{c.window}/ci_low"] = dg.MetadataValue.float(c.ci_low)
    if "fairness" in details:
        metadata.update(details["fairness"].metadata())
    metadata.update(details.get("explanations", {}))
    return metadata
