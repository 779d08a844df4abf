"""When is drift a problem: the policy and the per-batch verdict.

`DriftPolicy` is a `dagster.Config`, so it shows in the launchpad and is recorded
with each run's config. `assess_batch` turns one batch's `DriftResults` into a
`BatchAssessment` (pass / warn / error) under a policy; it is pure.

Decisions rest on effect sizes, not p-values: with 100,000 rows a KS or chi-square
test calls a harmless 0.5% shift "significant". p-values can be added as a
second signal (`p_value_alpha`), corrected for testing every feature at once.

Default thresholds and where they come from ("our choice" where no outside
convention exists; the JS and category numbers quoted are checked in
tests/drift/test_category_shift.py):

* PSI warn 0.1 / alert 0.25 (natural logarithm, 10 reference quantile bins) -
  the credit-scoring convention ("< 0.1 no significant change, 0.1-0.25 some
  change, > 0.25 significant shift"), Siddiqi, *Credit Risk Scorecards* (2006).
* Jensen-Shannon distance, base-2 logarithms (so in [0, 1]; equals
  `scipy.spatial.distance.jensenshannon(p, q, base=2)`), warn 0.1 / alert 0.2 -
  our choice, tied to PSI: for small shifts the JS divergence is about PSI / 8
  in nats, so the base-2 distance is about sqrt(PSI / (8 ln 2)): alert 0.2 is
  PSI ~0.22 (PSI 0.25 gives 0.212), warn 0.1 is PSI ~0.055. Evidently's
  Jensen-Shannon test (default threshold 0.1) calls scipy's `jensenshannon`
  without a base, i.e. natural logarithms: its 0.1 is 0.1 / sqrt(ln 2) = 0.120
  on our base-2 scale (PSI ~0.08), and our warn 0.1 is 0.083 on its scale - a
  little stricter than Evidently's default, not equal to it.
* Wasserstein / reference std warn 0.1 / alert 0.2 - 0.1 is the default
  threshold of Evidently's normed Wasserstein test (the same ratio: the
  distance over the reference's std); for a location shift the ratio is
  Cohen's d, and 0.2 is Cohen's (1988) "small effect".
* category_shift warn 0.15 / alert 0.2 - the largest Cohen's h of a listed
  category's share, h = |2 asin sqrt(a) - 2 asin sqrt(e)| with Anscombe's 3/8
  offsets (statistics.category_shift). Alert 0.2 is Cohen's (1988) "small
  effect" for proportions, the same convention as the Wasserstein alert; warn
  0.15 is our choice. It catches one category collapsing while the
  whole-feature statistics stay moderate: 10% -> 1% gives h 0.44 (alert) where
  PSI is 0.22 and JS 0.18, both under their alerts; 10% -> 5% gives 0.19 (warn);
  10% -> 8% 0.07 (pass); 1% -> 4% 0.20 and 50% -> 40% 0.20 (alert). The arcsine
  makes h's sampling noise about sqrt(1/n_batch + 1/n_reference) whatever the
  share - 0.045 at the 500-row `min_batch_size` - so an alert is at least 4.4
  standard errors per category (chance ~1e-5): the significance floor comes
  with `min_batch_size`. The offsets keep a rare category that a small batch
  misses by chance from alerting: a 1% category absent from 500 rows (chance
  e^-5 = 0.7%) gives 0.146 (pass) instead of 0.200; a 2% category must vanish
  (chance e^-10) to reach 0.23. On the demo generators (both datasets, 40
  clean days against a 28,000-row reference from 14 other clean days) the
  largest h per batch was at most 0.146 at 500 rows, 0.090 at 2,000 and 0.053
  at 5,000.
* missing-rate increase warn 0.05 / alert 0.10 (absolute) and unseen-category
  share warn 0.01 / alert 0.05 - our choice: beyond the sampling noise of a
  500-row batch (a 15% missing rate has a standard error of 1.6 points there),
  small enough that a broken feed is caught the first day.
* drift share 0.15 - our choice: Evidently's dataset-drift default is 0.5 of
  the columns, but a model with a dozen features is hurt well before half of
  them move, and with equal weights 0.15 means "two of the demo's twelve
  features" (eleven and the score).
* min batch size 500, two consecutive drifted batches, cooldown of three
  batches (no cooldown in hours) - our choice: one bad day is noise, two in a
  row is a trend; a retrained model gets a few batches of its own before it can
  be replaced.
* p-values (off by default; `p_value_alpha`) are tests against the full
  reference: chi-square on the full category counts, and KS from Kolmogorov's
  limiting distribution with the full reference's size (see measure.py); they
  cost microseconds, so they are always in the results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import Field

from asset_platform.drift.evidence import BatchEvidence, Status

if TYPE_CHECKING:  # the policy loads with the code location; measuring needs numpy and pandas
    from asset_platform.drift.measure import DriftResults, FeatureDrift

Level = Literal["pass", "warn", "alert", "error"]
_RANK = {"pass": 0, "warn": 1, "alert": 2, "error": 3}
DRIFT_STATISTICS = ("psi", "js_distance", "wasserstein", "unseen_share", "category_shift")


class Thresholds(dg.Config):
    """A statistic at or above `warn` is worth a look; at or above `alert` the feature has drifted."""

    warn: float
    alert: float


class FeatureOverride(dg.Config):
    """Per-feature weight and thresholds; unset thresholds fall back to the policy's."""

    weight: float = Field(default=1.0, description="Importance in the drift share; 0 = watch only.")
    psi: Thresholds | None = None
    js_distance: Thresholds | None = None
    wasserstein: Thresholds | None = None
    unseen_share: Thresholds | None = None
    category_shift: Thresholds | None = None
    missing_rate_increase: Thresholds | None = None


class DriftPolicy(dg.Config):
    """How much drift a batch may show, and when drift justifies retraining."""

    psi: Thresholds = Field(
        default=Thresholds(warn=0.1, alert=0.25), description="Population Stability Index (Siddiqi 2006)."
    )
    js_distance: Thresholds = Field(
        default=Thresholds(warn=0.1, alert=0.2), description="Jensen-Shannon distance, base 2, in [0, 1]."
    )
    wasserstein: Thresholds = Field(
        default=Thresholds(warn=0.1, alert=0.2), description="Wasserstein distance / reference std (numeric only)."
    )
    unseen_share: Thresholds = Field(
        default=Thresholds(warn=0.01, alert=0.05), description="Share of values in categories the reference lacks."
    )
    category_shift: Thresholds = Field(
        default=Thresholds(warn=0.15, alert=0.2),
        description="Largest Cohen's h of one category's share (categorical only); 0.2 is Cohen's small effect.",
    )
    missing_rate_increase: Thresholds = Field(
        default=Thresholds(warn=0.05, alert=0.10),
        description="Absolute increase of the missing share; a data-quality fault, never a reason to retrain.",
    )
    drift_statistics: list[str] = Field(
        default=list(DRIFT_STATISTICS), description=f"Effect sizes that can mark a feature drifted: {DRIFT_STATISTICS}."
    )
    p_value_alpha: float | None = Field(
        default=None,
        description="If set, a corrected KS / chi-square p-value (against the full reference) below it marks drift.",
    )
    p_value_correction: Literal["bh", "bonferroni"] = Field(
        default="bh", description="Benjamini-Hochberg (false discovery rate) or Bonferroni (any false alarm)."
    )
    features: dict[str, FeatureOverride] = Field(default_factory=dict, description="Per-feature overrides.")
    min_batch_size: int = Field(default=500, description="Smaller batches are reported but never judged.")
    drift_share: float = Field(default=0.15, description="Weighted share of drifted features that fails a batch.")
    consecutive_batches: int = Field(default=2, description="Drifted batches in a row needed to retrain.")
    cooldown_batches: int = Field(default=3, description="Batches after a retrain before the next one.")
    cooldown_hours: float = Field(default=0.0, description="Hours after a retrain before the next one.")

    def weight(self, feature: str) -> float:
        override = self.features.get(feature)
        return override.weight if override is not None else 1.0

    def thresholds(self, feature: str, statistic: str) -> Thresholds:
        override = self.features.get(feature)
        specific = getattr(override, statistic, None) if override is not None else None
        return specific if specific is not None else getattr(self, statistic)


def check_policy(policy: DriftPolicy) -> None:
    """Raise ValueError naming every inconsistent setting."""
    problems = [f"drift_statistics: unknown {s!r}" for s in policy.drift_statistics if s not in DRIFT_STATISTICS]
    limited = (*DRIFT_STATISTICS, "missing_rate_increase")
    pairs = [(name, getattr(policy, name)) for name in limited]
    for feature, override in policy.features.items():
        pairs += [(f"features.{feature}.{n}", getattr(override, n)) for n in limited if getattr(override, n)]
        if override.weight < 0:
            problems.append(f"features.{feature}.weight must be >= 0, got {override.weight}")
    problems += [f"{name}: warn {t.warn} > alert {t.alert}" for name, t in pairs if t.warn > t.alert]
    if not 0 < policy.drift_share <= 1:
        problems.append(f"drift_share must be in (0, 1], got {policy.drift_share}")
    if policy.p_value_alpha is not None and not 0 < policy.p_value_alpha < 1:
        problems.append(f"p_value_alpha must be in (0, 1), got {policy.p_value_alpha}")
    if policy.consecutive_batches < 1 or policy.min_batch_size < 1:
        problems.append("consecutive_batches and min_batch_size must be >= 1")
    if policy.cooldown_batches < 0 or policy.cooldown_hours < 0:
        problems.append("cooldown_batches and cooldown_hours must be >= 0")
    if problems:
        raise ValueError("invalid DriftPolicy: " + "; ".join(problems))


@dataclass(frozen=True)
class FeatureVerdict:
    """One feature's level under a policy, with the reasons for it."""

    name: str
    level: Level
    reasons: tuple[str, ...] = ()
    quality: bool = False


def judge_feature(feature: FeatureDrift, policy: DriftPolicy, adjusted_p: float | None = None) -> FeatureVerdict:
    """Level of one feature: error (unmeasurable or a missing-rate alert), alert (drifted), warn or pass."""
    if feature.error is not None:
        return FeatureVerdict(feature.name, "error", (f"{feature.name}: {feature.error}",), quality=True)
    missing = policy.thresholds(feature.name, "missing_rate_increase")
    if feature.missing_rate_increase >= missing.alert:
        reason = (
            f"{feature.name}: missing rate {feature.missing_rate:.1%} vs {feature.reference_missing_rate:.1%} "
            f"in the reference (increase >= {missing.alert:g})"
        )
        return FeatureVerdict(feature.name, "error", (reason,), quality=True)
    findings = [_finding(feature, policy, statistic) for statistic in policy.drift_statistics]
    if feature.missing_rate_increase >= missing.warn:
        findings.append(("warn", f"missing rate up {feature.missing_rate_increase:.3f} >= warn {missing.warn:g}"))
    if adjusted_p is not None and policy.p_value_alpha is not None and adjusted_p < policy.p_value_alpha:
        test = "KS" if feature.kind == "numeric" else "chi-square"
        method = policy.p_value_correction
        findings.append(("alert", f"{test} p {adjusted_p:.2g} ({method}-adjusted) < {policy.p_value_alpha:g}"))
    found = [item for item in findings if item is not None]
    if not found:
        return FeatureVerdict(feature.name, "pass")
    level = max((lvl for lvl, _ in found), key=_RANK.__getitem__)
    return FeatureVerdict(feature.name, level, tuple(f"{feature.name}: {text}" for _, text in found))


def _finding(feature: FeatureDrift, policy: DriftPolicy, statistic: str) -> tuple[Level, str] | None:
    value = getattr(feature, statistic)
    if value is None:
        return None
    limits = policy.thresholds(feature.name, statistic)
    if value >= limits.alert:
        return "alert", f"{statistic} {value:.3f} >= alert {limits.alert:g}{_detail(feature, statistic)}"
    if value >= limits.warn:
        return "warn", f"{statistic} {value:.3f} >= warn {limits.warn:g}{_detail(feature, statistic)}"
    return None


def _detail(feature: FeatureDrift, statistic: str) -> str:
    """Which category moved, and from what share to what, for a category_shift finding."""
    if statistic != "category_shift" or feature.shifted_category not in feature.bin_labels:
        return ""
    index = feature.bin_labels.index(feature.shifted_category)
    if index >= min(len(feature.reference_shares), len(feature.batch_shares)):
        return ""
    before, after = feature.reference_shares[index], feature.batch_shares[index]
    return f" ({feature.shifted_category} {before:.1%} -> {after:.1%})"


@dataclass(frozen=True)
class BatchAssessment:
    """The drift policy's verdict on one batch's features; `evidence()` is what the batch showed, for its consumers."""

    batch_key: str
    status: Status
    n_rows: int
    drift_share: float
    drift_detected: bool
    drifted_features: tuple[str, ...]
    quality_issues: tuple[str, ...]
    reasons: tuple[str, ...]
    judged: bool = True
    verdicts: tuple[FeatureVerdict, ...] = field(default=(), compare=False)

    def to_record(self) -> dict[str, Any]:
        """JSON-ready summary for `should_retrain` history: no per-feature statistics, no prose."""
        return {
            "batch_key": self.batch_key,
            "status": self.status,
            "n_rows": self.n_rows,
            "judged": self.judged,
            "drift_share": round(self.drift_share, 4),
            "drift_detected": self.drift_detected,
            "drifted_features": list(self.drifted_features),
            "quality_issues": list(self.quality_issues),
        }

    def to_dict(self) -> dict[str, Any]:
        """The record plus the reasons, for metadata and JSON assets."""
        return {**self.to_record(), "reasons": list(self.reasons)}

    def evidence(self) -> BatchEvidence:
        """What the features showed, as the batch's evidence (the estimate and the labels join it later)."""
        return BatchEvidence(
            batch_key=self.batch_key,
            n_rows=self.n_rows,
            judged=self.judged,
            feature_status=self.status,
            feature_drift=self.drift_detected,
            drift_share=self.drift_share,
            drifted_features=self.drifted_features,
            quality_issues=self.quality_issues,
        )


def assess_batch(results: DriftResults, policy: DriftPolicy) -> BatchAssessment:
    """Judge one batch's drift under `policy`.

    error: a feature cannot be measured or its missing rate jumped (data
    quality), or the weighted share of drifted features reaches
    `policy.drift_share`. warn: some feature is at warn or alert level but the
    share stays below, or the batch is smaller than `policy.min_batch_size`
    (then nothing is judged). pass: otherwise.
    """
    check_policy(policy)
    if results.n_rows < policy.min_batch_size:
        reason = f"too small to judge: {results.n_rows} rows < min_batch_size {policy.min_batch_size}"
        return BatchAssessment(results.batch_key, "warn", results.n_rows, 0.0, False, (), (), (reason,), judged=False)
    verdicts = _verdicts(results, policy)
    drifted = tuple(v.name for v in verdicts if v.level == "alert")
    quality = tuple(v.name for v in verdicts if v.quality)
    share = _weighted_share(drifted, [f.name for f in results.features], policy)
    detected = share >= policy.drift_share and share > 0
    reasons = [reason for v in verdicts for reason in v.reasons]
    if detected:
        reasons.insert(0, f"drift share {share:.2f} >= {policy.drift_share:g} ({', '.join(drifted)})")
    return BatchAssessment(
        batch_key=results.batch_key,
        status=_status(detected, quality, verdicts),
        n_rows=results.n_rows,
        drift_share=share,
        drift_detected=detected,
        drifted_features=drifted,
        quality_issues=quality,
        reasons=tuple(reasons),
        verdicts=verdicts,
    )


def _verdicts(results: DriftResults, policy: DriftPolicy) -> tuple[FeatureVerdict, ...]:
    adjusted: dict[str, float] = {}
    if policy.p_value_alpha is not None:
        tested = [f for f in results.features if f.p_value is not None]
        from asset_platform.drift.statistics import adjust_p_values

        corrected = adjust_p_values([f.p_value for f in tested], policy.p_value_correction)
        adjusted = {f.name: float(p) for f, p in zip(tested, corrected, strict=True)}
    return tuple(judge_feature(f, policy, adjusted.get(f.name)) for f in results.features)


def _weighted_share(drifted: Iterable[str], features: list[str], policy: DriftPolicy) -> float:
    total = sum(policy.weight(name) for name in features)
    return sum(policy.weight(name) for name in drifted) / total if total > 0 else 0.0


def _status(detected: bool, quality: tuple[str, ...], verdicts: tuple[FeatureVerdict, ...]) -> Status:
    if detected or quality:
        return "error"
    return "warn" if any(v.level != "pass" for v in verdicts) else "pass"
