"""The fairness rule of the promotion gate: may the challenger widen the largest group gap?

For each audited attribute, the gap of the rule's metric (largest minus smallest
group value) is computed for champion and challenger on each of the metric
gate's paired resamples; the interval of the difference (challenger minus
champion) says how much the challenger may have widened it. The challenger is
blocked when the interval's upper bound exceeds the declared tolerance: it must
show, not merely fail to refute, that the gap grew by no more than that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from asset_platform.fairness.evidence import FairnessEvidence, Gap


@dataclass(frozen=True)
class AttributeVerdict:
    """The rule on one attribute: both models' gaps and the paired interval of its increase."""

    attribute: str
    metric: str
    champion_gap: Gap
    challenger_gap: Gap
    increase: float
    ci_low: float
    ci_high: float
    tolerance: float | None
    insufficient: list[str] = field(default_factory=list)

    @property
    def judged(self) -> bool:
        return math.isfinite(self.ci_high)

    @property
    def blocked(self) -> bool:
        return self.tolerance is not None and self.judged and self.ci_high > self.tolerance

    def describe(self) -> str:
        gap = self.challenger_gap
        if not self.judged:
            text = f"{self.attribute}: not judged, fewer than two groups with enough rows"
        else:
            verdict = "BLOCKS" if self.blocked else "passes"
            limit = "report only" if self.tolerance is None else f"tolerance {self.tolerance}"
            text = (
                f"{self.attribute} {verdict}: largest {self.metric} gap {gap.value:.4f} "
                f"({gap.low_group} vs {gap.high_group}, worst {gap.worst_group}; 95% CI {gap.ci_low:.4f} to "
                f"{gap.ci_high:.4f}) vs the champion's {self.champion_gap.value:.4f}; increase {self.increase:+.4f} "
                f"(95% CI {self.ci_low:+.4f} to {self.ci_high:+.4f}, {limit})"
            )
        if self.insufficient:
            text += f"; insufficient groups (not judged): {', '.join(self.insufficient)}"
        return text

    def to_dict(self) -> dict:
        return {
            "attribute": self.attribute,
            "metric": self.metric,
            "champion_gap": self.champion_gap.to_dict(),
            "challenger_gap": self.challenger_gap.to_dict(),
            "increase": self.increase,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "tolerance": self.tolerance,
            "blocked": self.blocked,
            "judged": self.judged,
            "insufficient": list(self.insufficient),
        }


@dataclass(frozen=True)
class FairnessDecision:
    """The rule over every audited attribute: blocked when any attribute blocks."""

    verdicts: list[AttributeVerdict]

    @property
    def blocked(self) -> bool:
        return any(verdict.blocked for verdict in self.verdicts)

    def describe(self, blocking_only: bool = False) -> str:
        shown = [v for v in self.verdicts if v.blocked] if blocking_only else self.verdicts
        return "; ".join(verdict.describe() for verdict in shown)

    def to_dict(self) -> dict:
        return {"blocked": self.blocked, "attributes": [verdict.to_dict() for verdict in self.verdicts]}


def judge(
    evidence: FairnessEvidence, champion: str, challenger: str, metric: str, tolerance: float | None
) -> FairnessDecision:
    """The fairness rule for `challenger` against `champion`, both scored in `evidence`."""
    verdicts = []
    champion_report, challenger_report = evidence.report(champion), evidence.report(challenger)
    for attribute in evidence.attributes:
        increase_draws = evidence.gap_draws(challenger, attribute, metric) - evidence.gap_draws(
            champion, attribute, metric
        )
        finite = increase_draws[np.isfinite(increase_draws)]
        low, high = np.percentile(finite, [2.5, 97.5]) if finite.size else (math.nan, math.nan)
        before, after = champion_report.gap(attribute, metric), challenger_report.gap(attribute, metric)
        insufficient = [
            f"{figure.name} ({figure.rows} rows)"
            for figure in challenger_report.insufficient
            if figure.attribute == attribute
        ]
        verdicts.append(
            AttributeVerdict(
                attribute,
                metric,
                before,
                after,
                after.value - before.value,
                float(low),
                float(high),
                tolerance,
                insufficient,
            )
        )
    return FairnessDecision(verdicts)
