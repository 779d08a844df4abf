"""Whether the drift seen so far justifies retraining: the whole decision, as pure functions.

The drift -> retrain sensor keeps recent `BatchEvidence` (as `to_record()` dicts) in
its cursor, folds what each batch's labels showed into it with `merge_performance`
(concept drift shows in the realized metric, prior shift in the labels' own
distribution, neither in the features), calls `should_retrain` on each tick and
names the run with `retrain_run_key`. Whether a batch drifted is its evidence's
`drift_detected` (the same judgment as its `verdict()`). Rules, newest batch first:

* batches smaller than `min_batch_size` neither confirm nor break a streak;
* a batch with data-quality problems (a missing column, a jump in missing
  values) breaks it: retraining on a broken feed would teach the model the
  fault, the pipeline needs fixing instead;
* `consecutive_batches` drifted batches in a row are needed;
* after a retrain, only later batches count as evidence, at least
  `cooldown_batches` judged batches must have arrived, and `cooldown_hours`
  must have passed;
* a retrain that failed is no retrain: the cooldown runs from the last one that
  succeeded, but its evidence is spent (`spent_batch`): the same batches would
  derive the same run key, which Dagster never launches twice.

After a drift-triggered retrain the loop keeps going until the model recovers
(`Recovery`, `should_follow_up`): the pre-drift level of the realized metric and
its band (how far the stable batches it is the mean of strayed from it) are
remembered, and while the batches labeled since the last retrain stay below that
band, another retrain learns from the whole post-drift window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asset_platform.drift.evidence import BatchEvidence, as_evidence
from asset_platform.drift.policy import BatchAssessment, DriftPolicy, check_policy


@dataclass(frozen=True)
class Decision:
    """Retrain or not, why, and the keys of the batches that are the evidence (oldest first)."""

    retrain: bool
    reason: str
    evidence: tuple[str, ...] = ()
    # For a follow-up decision: the recovery is over (back in band, or no follow-up left).
    finished: bool = False

    def confirming(self, policy: DriftPolicy) -> tuple[str, ...]:
        """The batches that first met the policy: a replay from an older cursor, which sees
        a longer streak, derives the same evidence and so the same run key."""
        return self.evidence[: policy.consecutive_batches]

    def to_dict(self) -> dict[str, Any]:
        return {"retrain": self.retrain, "reason": self.reason, "evidence": list(self.evidence)}


def should_retrain(
    history: Sequence[BatchEvidence | BatchAssessment | Mapping[str, Any]],
    policy: DriftPolicy,
    *,
    last_retrain_batch: str | None = None,
    last_retrain_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    spent_batch: str | None = None,
) -> Decision:
    """Decide from `history` (oldest first) whether to retrain now.

    `last_retrain_batch` is the newest evidence key of the previous retrain;
    if it is not in `history`, the history is taken to start after it (a
    sensor may trim its cursor at each retrain). Naive datetimes are read as UTC;
    `now` defaults to the current time. `spent_batch`: the newest evidence key of a
    retrain that failed; only later batches are evidence, while the cooldown still
    counts from the last retrain that succeeded.
    """
    check_policy(policy)
    records = _since(list(map(as_evidence, history)), last_retrain_batch)
    streak, stop = _streak(_since(records, spent_batch), policy)
    evidence = tuple(record.batch_key for record in streak)
    if len(streak) < policy.consecutive_batches:
        found = f"{len(streak)} of {policy.consecutive_batches} consecutive drifted batches"
        return Decision(False, f"{found}; {stop}" if stop else found, evidence)
    retrained = last_retrain_batch is not None or last_retrain_at is not None
    blocked = _cooldown(records, policy, last_retrain_at, now) if retrained else None
    if blocked:
        return Decision(False, blocked, evidence)
    features = sorted({name for record in streak for name in record.drifted})
    reason = (
        f"{len(streak)} consecutive drifted batches ({', '.join(evidence)}) >= {policy.consecutive_batches}; "
        f"drifted features: {', '.join(features) or 'n/a'}"
    )
    return Decision(True, reason, evidence)


def _since(records: list[BatchEvidence], last_retrain_batch: str | None) -> list[BatchEvidence]:
    keys = [record.batch_key for record in records]
    if last_retrain_batch is None or last_retrain_batch not in keys:
        return records
    last = len(keys) - 1 - keys[::-1].index(last_retrain_batch)
    return records[last + 1 :]


def _judged(record: BatchEvidence, policy: DriftPolicy) -> bool:
    return record.judged and record.n_rows >= policy.min_batch_size


def _streak(records: list[BatchEvidence], policy: DriftPolicy) -> tuple[list[BatchEvidence], str]:
    """The newest run of drifted batches (oldest first) and what ended it."""
    streak: list[BatchEvidence] = []
    for record in reversed(records):
        key = record.batch_key
        if not _judged(record, policy):
            continue
        if record.quality_issues:
            issues = ", ".join(record.quality_issues)
            return streak[::-1], f"batch {key} has data-quality problems ({issues}); fix the feed, not the model"
        if not record.drift_detected:
            return streak[::-1], f"batch {key} is within policy"
        streak.append(record)
    return streak[::-1], "" if records else "no batches assessed since the last retrain"


def _cooldown(
    records: list[BatchEvidence], policy: DriftPolicy, last_retrain_at: dt.datetime | None, now: dt.datetime | None
) -> str | None:
    judged = sum(1 for record in records if _judged(record, policy))
    if judged < policy.cooldown_batches:
        return f"cooldown: {judged} judged batches since the last retrain < cooldown_batches {policy.cooldown_batches}"
    if last_retrain_at is None or policy.cooldown_hours <= 0:
        return None
    current = _utc(now or dt.datetime.now(dt.UTC))
    hours = (current - _utc(last_retrain_at)).total_seconds() / 3600
    if hours < policy.cooldown_hours:
        return f"cooldown: {hours:.1f} h since the last retrain < cooldown_hours {policy.cooldown_hours:g}"
    return None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def retrain_run_key(model: str, reference_version: str, evidence: Sequence[str]) -> str:
    """Idempotent run key from the model, the reference the evidence was judged against, and the evidence."""
    digest = hashlib.sha256("\n".join([model, reference_version, *evidence]).encode("utf-8")).hexdigest()[:20]
    return f"{model}-drift-retrain-{digest}"


def merge_drift(
    records: dict[str, BatchEvidence], key: str, assessed: BatchEvidence | Mapping[str, Any], reference: str
) -> None:
    """Record a batch's drift assessment, keeping label evidence (degradation, label shift) that arrived first."""
    previous = records.get(key, BatchEvidence(batch_key=key))
    records[key] = previous.with_drift(as_evidence(assessed), reference)


def merge_performance(
    records: dict[str, BatchEvidence],
    key: str,
    degradation: float,
    max_drop: float,
    label_shift: float | None = None,
    max_label_shift: float | None = None,
    realized_metric: float | None = None,
) -> None:
    """Record what a batch's labels showed; the batch counts as drifted when its realized metric
    fell by more than `max_drop`, or its labels moved (prior shift) by more than `max_label_shift`.

    Until its drift assessment has arrived the batch is not judged, so label evidence
    alone never confirms drift on a batch that was never checked for data quality.
    """
    # Until the assessment arrives: evidence of labels only, not judged, so `should_retrain` skips it.
    previous = records.get(key, BatchEvidence(batch_key=key))
    records[key] = previous.with_labels(degradation, max_drop, label_shift, max_label_shift, realized_metric)


# Stable labeled batches before the drift whose mean realized metric is the level to recover to.
_BAND_BATCHES = 3
# Labeled batches since the last retrain whose mean, within the band, ends a recovery. The band is one stable
# batch's spread; a mean of two is nearly as noisy, and rare positives' batches stray by as much as a model
# short of its level: a fraud model retrained on two days came back at 0.45 and 0.47 of a 0.455 average
# precision (in band) and then held 0.42 (the oracle 0.45). Short of this many in band, the loop keeps watching.
_SETTLE_BATCHES = 2 * _BAND_BATCHES


@dataclass(frozen=True)
class Recovery:
    """What a drift-triggered retrain set out to win back, kept in the sensor's cursor until it is won.

    `level`: the mean realized metric of the last stable labeled batches before the drift; `band`: how
    much worse than `level` the worst of them was (`ml.metrics.degradation`'s measure, >= 0), the
    stable model's own batch-to-batch spread (None in a cursor written before it was kept: the declared
    drop alarm then bounds the band alone); `since`: the start of the drift's first batch, where every
    follow-up's learning window begins; `follow_ups`: how many retrains after the drift-triggered one
    were asked for.
    """

    level: float
    since: str
    follow_ups: int = 0
    band: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "since": self.since, "follow_ups": self.follow_ups, "band": self.band}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recovery:
        band = data.get("band")
        follow_ups = int(data.get("follow_ups", 0))
        return cls(float(data["level"]), str(data["since"]), follow_ups, None if band is None else float(band))


def recovery_after(
    history: Sequence[BatchEvidence | BatchAssessment | Mapping[str, Any]], evidence: Sequence[str], metric: str
) -> Recovery | None:
    """The recovery a retrain on `evidence` (batch keys, oldest first) starts; None when there is no
    pre-drift level to recover to (no stable batch before the drift had its labels) or no drift start.
    Its band is read with `metric`'s direction (the declared metric the realized figures are of)."""
    from asset_platform.ml.metrics import degradation

    records = list(map(as_evidence, history))
    keys = [record.batch_key for record in records]
    if not evidence or evidence[0] not in keys:
        return None
    before = records[: keys.index(evidence[0])]
    stable = [r.realized_metric for r in before if r.judged and not r.drift_detected and r.realized_metric is not None]
    starts = [r.batch_start for r in records if r.batch_key in evidence and r.batch_start]
    if not stable or not starts:
        return None
    last = stable[-_BAND_BATCHES:]
    level = sum(last) / len(last)
    band = max(0.0, *(degradation(metric, level, realized) for realized in last))
    return Recovery(level, min(starts), band=band)


def should_follow_up(
    history: Sequence[BatchEvidence | BatchAssessment | Mapping[str, Any]],
    recovery: Recovery,
    *,
    metric: str,
    max_drop: float,
    max_follow_ups: int,
    min_new_rows: int,
    cooldown_batches: int,
    last_retrain_batch: str | None,
) -> Decision:
    """Whether to retrain again on the post-drift window: the batches labeled since the last retrain
    (at least `cooldown_batches` of them, `min_new_rows` rows in all) still fall short of the pre-drift
    level, on their mean realized metric, by more than its band (`ml.metrics.degradation`'s measure).

    The band is the stable batches' own spread, at most `max_drop` (the drop alarm): the alarm says when a
    model has gone wrong, and is too wide to say it is right again. After a concept drift a first retrain
    learns from a day or two of post-drift rows; back within the alarm, it may still be well short of what
    the post-drift rows allow, and only a stop at the stable spread lets the follow-ups learn from the
    grown window (each through the gate, at most `max_follow_ups`). Back in band, it is over only once
    `_SETTLE_BATCHES` labeled batches say so: until then a later shortfall still retrains. The evidence is
    those batches' keys; `finished` says the recovery is over."""
    from asset_platform.ml.metrics import degradation

    if recovery.follow_ups >= max_follow_ups:
        made = f"recovery: {recovery.follow_ups} of {max_follow_ups} follow-up retrains made"
        return Decision(False, made, finished=True)
    records = _since(list(map(as_evidence, history)), last_retrain_batch)
    labeled = [record for record in records if record.judged and record.realized_metric is not None]
    evidence = tuple(record.batch_key for record in labeled)
    rows = sum(record.n_rows for record in labeled)
    if len(labeled) < cooldown_batches or rows < min_new_rows:
        return Decision(
            False,
            f"recovery: {len(labeled)} labeled batch(es), {rows} rows since the last retrain; a follow-up needs "
            f"{cooldown_batches} and {min_new_rows}",
            evidence,
        )
    realized = sum(record.realized_metric for record in labeled) / len(labeled)
    gap = degradation(metric, recovery.level, realized)
    shown = f"{metric} {realized:.4g} over {len(labeled)} batch(es) since the last retrain"
    band = max_drop if recovery.band is None else min(max_drop, recovery.band)
    if not gap > band:
        within = f"{shown}, within {band:.4g} of the pre-drift {recovery.level:.4g}"
        if len(labeled) < _SETTLE_BATCHES and not math.isnan(gap):  # a NaN gap (no level to compare with) ends it
            return Decision(False, f"watching: {within}; recovered once {_SETTLE_BATCHES} batches are", evidence)
        return Decision(False, f"recovered: {within}", evidence, finished=True)
    reason = (
        f"follow-up {recovery.follow_ups + 1} of {max_follow_ups}: {shown} is {gap:.4g} worse than the pre-drift "
        f"{recovery.level:.4g} (> {band:.4g}, the band of its stable batches); learning from the post-drift "
        f"window since {recovery.since}"
    )
    return Decision(True, reason, evidence)
