"""One outcome per profiled feature of a batch: which feature of which batch drifted, as a check says it.

The drift asset carries one Dagster asset check per feature (`drift_<feature>`,
partitioned like the batches), so the UI lists, batch by batch, which feature
failed and why, instead of one policy check with the features in a table. The
outcome is the policy's own verdict on the feature (`policy.judge_feature`,
through `BatchAssessment.verdicts`): nothing is judged twice.

- pass or warn (a statistic past its warn threshold, not drifted): passed; a
  warn says which statistic in the description.
- alert (drifted): failed, severity warn: drift is a signal, and the batch's
  own policy check says whether it fails the batch.
- error (unmeasurable, or a missing-rate alert): failed, severity error: the
  data is wrong, not just moved.
- a batch the policy does not judge (too small, nothing to measure): passed,
  saying why; a feature the reference profile lacks: failed as an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asset_platform.drift.measure import DriftResults, FeatureDrift
from asset_platform.drift.policy import BatchAssessment, FeatureVerdict

# The statistics a feature's check shows, when measured.
_SHOWN = (
    "psi",
    "js_distance",
    "ks_statistic",
    "ks_pvalue",
    "wasserstein",
    "chi2_pvalue",
    "category_shift",
    "unseen_share",
    "out_of_range_share",
    "missing_rate",
)


@dataclass(frozen=True)
class FeatureCheck:
    """The check outcome of one feature on one batch."""

    feature: str
    passed: bool
    level: str  # the policy's level: pass, warn, alert, error; "not judged" for a batch the policy skipped
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        """A data-quality failure (severity error) rather than drift (severity warn)."""
        return self.level == "error"


def feature_checks(features: Sequence[str], results: DriftResults, assessment: BatchAssessment) -> list[FeatureCheck]:
    """One outcome per name in `features` (the profiled features, in declaration order)."""
    measured = {item.name: item for item in results.features}
    verdicts = {verdict.name: verdict for verdict in assessment.verdicts}
    outcomes = []
    for name in features:
        drift = measured.get(name)
        if drift is None:
            description = (
                f"{name} is not in the reference profile this batch was measured against "
                "(profiled before the feature was declared): train or promote a model to profile it."
            )
            outcomes.append(FeatureCheck(name, False, "error", description))
        elif not assessment.judged:
            reason = "; ".join(assessment.reasons) or "not judged"
            outcomes.append(FeatureCheck(name, True, "not judged", f"batch not judged: {reason}", _metadata(drift)))
        else:
            outcomes.append(_outcome(drift, verdicts.get(name, FeatureVerdict(name, "pass"))))
    return outcomes


def _outcome(drift: FeatureDrift, verdict: FeatureVerdict) -> FeatureCheck:
    reasons = "; ".join(verdict.reasons)
    if verdict.level == "pass":
        description = f"{drift.name}: within the policy ({_headline(drift)})."
    elif verdict.level == "warn":
        description = f"past a warn threshold, not drifted: {reasons}"
    elif verdict.level == "alert":
        description = f"drifted: {reasons}"
    else:
        description = f"data quality: {reasons}"
    passed = verdict.level in ("pass", "warn")
    return FeatureCheck(drift.name, passed, verdict.level, description, _metadata(drift))


def _headline(drift: FeatureDrift) -> str:
    values = {name: getattr(drift, name) for name in ("psi", "ks_statistic", "category_shift")}
    return ", ".join(f"{name} {value:.3f}" for name, value in values.items() if _finite(value)) or "no statistic"


def _metadata(drift: FeatureDrift) -> dict[str, Any]:
    metadata: dict[str, Any] = {"feature": drift.name, "kind": drift.kind, "values": drift.n_values}
    metadata.update({name: round(getattr(drift, name), 6) for name in _SHOWN if _finite(getattr(drift, name))})
    if drift.shifted_category is not None:
        metadata["shifted_category"] = drift.shifted_category
    return metadata


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
