"""What the lifecycle's assets call: a declaration's fairness and explanation evidence, as Dagster metadata.

The attributes to audit by need not be model features, so group labels come
from the raw contract rows (joined to the featurized holdout by the id column);
explanations run on a sample of `explanations.sample_rows` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np
import pandas as pd

from asset_platform.declaration.fairness import rule_metric
from asset_platform.fairness.evidence import MISSING_GROUP, ModelFairness, evaluate_groups, group_labels
from asset_platform.fairness.rule import FairnessDecision, judge

if TYPE_CHECKING:
    from asset_platform.declaration import ModelDeclaration

_SEED = 0
_TOP_GROUP_FEATURES = 5


def attribute_groups(declaration: ModelDeclaration, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each audited attribute's group label for every row of `rows` (raw contract rows).

    A column marked `sensitive` (PII) is audited by hashed labels: no raw value reaches metadata or notifications.
    """
    sensitive = {column.name for column in declaration.contract_columns() if column.sensitive}
    groups = {}
    for attribute in declaration.fairness.attributes:
        labels = group_labels(rows[attribute])
        if attribute in sensitive:
            from asset_platform.access.masking import mask_value

            masked = {value: mask_value(value) for value in pd.unique(labels) if value != MISSING_GROUP}
            labels = np.array([masked.get(value, value) for value in labels], dtype=object)
        groups[attribute] = labels
    return groups


def holdout_attribute_rows(declaration: ModelDeclaration, holdout: pd.DataFrame, dataset: pd.DataFrame) -> pd.DataFrame:
    """The audited attributes of the featurized holdout's rows, in its order, from the raw dataset."""
    wanted = [declaration.id_column, *declaration.fairness.attributes]
    raw = dataset[wanted].drop_duplicates(declaration.id_column)
    return holdout[[declaration.id_column]].merge(raw, on=declaration.id_column, how="left")


def group_evidence(declaration: ModelDeclaration, groups: dict[str, np.ndarray], labels, scores: dict[str, Any]):
    fairness = declaration.fairness
    return evaluate_groups(
        groups,
        labels,
        {name: np.asarray(s, dtype=np.float64) for name, s in scores.items()},
        task=declaration.task,
        metric=rule_metric(declaration),
        threshold=fairness.threshold,
        min_group_size=fairness.min_group_size,
        resamples=declaration.gate.resamples,
        seed=_SEED,
    )


def fairness_metadata(reports: list[ModelFairness], metric: str, attributes: list[str]) -> dict[str, Any]:
    """Per-group and gap tables, and one chart per attribute of the rule's metric."""
    from asset_platform.fairness.report import gap_table_markdown, group_metric_chart, group_table_markdown

    metadata: dict[str, Any] = {
        "fairness/groups": dg.MetadataValue.md(group_table_markdown(reports)),
        "fairness/gaps": dg.MetadataValue.md(gap_table_markdown(reports)),
        "fairness/insufficient_groups": dg.MetadataValue.json(
            {report.model: [f"{f.name} ({f.rows} rows)" for f in report.insufficient] for report in reports}
        ),
    }
    for attribute in attributes:
        metadata[f"fairness/chart_{attribute}"] = dg.MetadataValue.md(group_metric_chart(reports, attribute, metric))
    return metadata


def evaluation_metadata(
    declaration: ModelDeclaration,
    holdout: pd.DataFrame,
    attribute_rows: pd.DataFrame | None,
    scores: dict[str, np.ndarray],
    models: dict[str, Any],
) -> dict[str, Any]:
    """Fairness (where attributes are declared) and explanations (where enabled) of every evaluated model."""
    metadata: dict[str, Any] = {}
    groups = attribute_groups(declaration, attribute_rows) if attribute_rows is not None else {}
    if groups:
        labels = holdout[declaration.label_column].to_numpy()
        evidence = group_evidence(declaration, groups, labels, scores)
        reports = [evidence.report(name) for name in scores]
        metadata.update(fairness_metadata(reports, rule_metric(declaration), list(groups)))
    if declaration.explanations.enabled:
        metadata.update(explanation_metadata(declaration, holdout, groups, models))
    return metadata


def explanation_metadata(
    declaration: ModelDeclaration, features: pd.DataFrame, groups: dict[str, np.ndarray], models: dict[str, Any]
) -> dict[str, Any]:
    """Global attributions of each model (table, chart), per-group attributions of the top features."""
    from asset_platform.fairness.report import attribution_chart, attribution_table_markdown
    from asset_platform.ml.explain import explain, sample_rows

    sample = sample_rows(features, declaration.explanations.sample_rows, _SEED)
    positions = features.index.get_indexer(sample.index)
    global_values, methods, group_rows, by_class = {}, {}, [], {}
    for name, model in models.items():
        attribution = explain(model, sample)
        global_values[name], methods[name] = attribution.mean_abs(), attribution.method
        if attribution.per_class is not None:
            by_class[name] = attribution.mean_abs_by_class()
        top = sorted(global_values[name], key=lambda f: -global_values[name][f])[:_TOP_GROUP_FEATURES]
        for attribute, labels in groups.items():
            for group, values in attribution.by_group(labels[positions][: len(attribution.values)]).items():
                group_rows.append(
                    {"model": name, "group": f"{attribute}={group}", **{f: round(values[f], 4) for f in top}}
                )
    metadata: dict[str, Any] = {
        "explanations/global": dg.MetadataValue.md(attribution_table_markdown(global_values)),
        "explanations/chart": dg.MetadataValue.md(attribution_chart(global_values)),
        "explanations/methods": dg.MetadataValue.json(methods),
        "explanations/rows": dg.MetadataValue.int(len(sample)),
    }
    if group_rows:
        metadata["explanations/by_group"] = dg.MetadataValue.md(pd.DataFrame(group_rows).to_markdown(index=False))
    metadata.update(class_explanation_metadata(by_class))
    return metadata


def class_explanation_metadata(by_class: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    """A multiclass model's attributions per class (each class's mean |attribution| of its own margin): a table
    per model, the numbers, and the first model's chart with a bar per class ({} for models of one margin)."""
    from asset_platform.fairness.report import attribution_chart, attribution_table_markdown

    if not by_class:
        return {}
    tables = [
        f"**{name}** (mean absolute attribution of each class's margin)\n\n{attribution_table_markdown(values)}"
        for name, values in by_class.items()
    ]
    first = next(iter(by_class))
    return {
        "explanations/by_class": dg.MetadataValue.md("\n\n".join(tables)),
        "explanations/by_class_values": dg.MetadataValue.json(
            {
                name: {c: {f: round(v, 6) for f, v in found.items()} for c, found in values.items()}
                for name, values in by_class.items()
            }
        ),
        "explanations/by_class_chart": dg.MetadataValue.md(
            attribution_chart(by_class[first], title=f"{first}: mean |attribution| per class (class margins)")
        ),
    }


@dataclass
class GateFairness:
    """The fairness rule's decision and the per-group evidence of champion and challenger."""

    decision: FairnessDecision
    reports: list[ModelFairness]
    metric: str
    attributes: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        from asset_platform.fairness.report import decision_markdown

        return {
            "fairness": dg.MetadataValue.md(decision_markdown(self.decision)),
            "fairness/blocked": dg.MetadataValue.bool(self.decision.blocked),
            **fairness_metadata(self.reports, self.metric, self.attributes),
        }


def gate_fairness(
    declaration: ModelDeclaration, holdout: pd.DataFrame, champion_scores: np.ndarray, challenger_scores: np.ndarray
) -> GateFairness | None:
    """The fairness rule on the raw holdout rows the metric gate compared (None: no attributes declared)."""
    if not declaration.fairness.attributes:
        return None
    from asset_platform.ml.scoring import label_values

    groups = attribute_groups(declaration, holdout)
    labels = label_values(declaration, holdout)  # raw rows: a multiclass label's classes as codes
    scores = {"champion": champion_scores, "challenger": challenger_scores}
    evidence = group_evidence(declaration, groups, labels, scores)
    metric = rule_metric(declaration)
    decision = judge(evidence, "champion", "challenger", metric, declaration.fairness.tolerance)
    reports = [evidence.report("champion"), evidence.report("challenger")]
    return GateFairness(decision, reports, metric, list(groups))


def gate_explanations(declaration: ModelDeclaration, holdout: pd.DataFrame, champion: Any, challenger: Any) -> dict:
    """Champion and challenger attributions on the same holdout sample, and their rank correlation."""
    from asset_platform.fairness.report import attribution_chart, attribution_table_markdown
    from asset_platform.ml.explain import explain, rank_correlation, sample_rows
    from asset_platform.ml.features import FeaturePipeline

    if not declaration.explanations.enabled or holdout.empty:
        return {}
    sample = sample_rows(holdout, declaration.explanations.sample_rows, _SEED)
    values = {}
    for name, model in (("champion", champion), ("challenger", challenger)):
        pipeline = FeaturePipeline.from_dict(model.extra["feature_pipeline"])
        values[name] = explain(model, pipeline.transform(sample, with_label=False)).mean_abs()
    correlation = rank_correlation(values["champion"], values["challenger"])
    return {
        "explanations/rank_correlation": dg.MetadataValue.float(correlation),
        "explanations/global": dg.MetadataValue.md(attribution_table_markdown(values)),
        "explanations/chart": dg.MetadataValue.md(attribution_chart(values)),
    }


def model_explanation_metadata(model: Any, features: pd.DataFrame) -> dict[str, Any]:
    """A model page's attributions: mean |attribution| per feature on holdout rows, table and chart."""
    from asset_platform.fairness.report import attribution_chart, attribution_table_markdown
    from asset_platform.ml.explain import explain

    attribution = explain(model, features)
    values = {model.flavor: attribution.mean_abs()}
    by_class = {model.flavor: attribution.mean_abs_by_class()} if attribution.per_class is not None else {}
    return {
        "explanations/global": dg.MetadataValue.md(attribution_table_markdown(values)),
        "explanations/chart": dg.MetadataValue.md(attribution_chart(values)),
        "explanations/method": attribution.method,
        "explanations/rows": dg.MetadataValue.int(len(attribution.values)),
        **class_explanation_metadata(by_class),
    }
