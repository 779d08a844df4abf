"""Fairness: per-group metrics with bootstrap intervals, the largest group gaps, and the gate's fairness rule."""

from asset_platform.fairness.evidence import (
    MISSING_GROUP,
    FairnessEvidence,
    Gap,
    GroupFigure,
    ModelFairness,
    evaluate_groups,
    group_labels,
)
from asset_platform.fairness.rule import AttributeVerdict, FairnessDecision, judge
from asset_platform.fairness.weighted import GROUP_METRIC_DIRECTION, group_metric_names, weighted_metric

__all__ = [
    "GROUP_METRIC_DIRECTION",
    "MISSING_GROUP",
    "AttributeVerdict",
    "FairnessDecision",
    "FairnessEvidence",
    "Gap",
    "GroupFigure",
    "ModelFairness",
    "evaluate_groups",
    "group_labels",
    "group_metric_names",
    "judge",
    "weighted_metric",
]
