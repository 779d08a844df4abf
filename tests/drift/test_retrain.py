"""The retrain decision: consecutive confirmation, minimum batch size, quality faults, cooldown."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from asset_platform.drift import (
    BatchEvidence,
    DriftPolicy,
    ReferenceProfile,
    assess_batch,
    compute_drift,
    should_retrain,
)
from asset_platform.drift.retrain import merge_drift, merge_performance, retrain_run_key
from tests.drift.demo_data import BATCH_DAY, demo_batch

POLICY = DriftPolicy()


def _record(key: str, drift: bool, rows: int = 2_000, quality: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "batch_key": key,
        "n_rows": rows,
        "judged": True,
        "drift_detected": drift,
        "drift_share": 0.3 if drift else 0.0,
        "drifted_features": ["price"] if drift else [],
        "quality_issues": list(quality),
    }


def test_one_drifted_batch_is_not_enough_two_in_a_row_are() -> None:
    first = should_retrain([_record("d1", False), _record("d2", True)], POLICY)
    assert (first.retrain, first.evidence) == (False, ("d2",))
    assert "1 of 2 consecutive" in first.reason
    second = should_retrain([_record("d1", False), _record("d2", True), _record("d3", True)], POLICY)
    assert (second.retrain, second.evidence) == (True, ("d2", "d3"))
    assert "price" in second.reason


def test_a_clean_batch_breaks_the_streak() -> None:
    decision = should_retrain([_record("d1", True), _record("d2", False), _record("d3", True)], POLICY)
    assert not decision.retrain
    assert decision.evidence == ("d3",)


def test_small_batches_neither_confirm_nor_break() -> None:
    history = [_record("d1", True), _record("d2", False, rows=100), _record("d3", True), _record("d4", True, rows=10)]
    decision = should_retrain(history, POLICY)
    assert (decision.retrain, decision.evidence) == (True, ("d1", "d3"))


def test_quality_faults_block_retraining() -> None:
    history = [_record("d1", True), _record("d2", True, quality=("device",))]
    decision = should_retrain(history, POLICY)
    assert not decision.retrain
    assert "batch d2 has data-quality problems (device)" in decision.reason


def test_only_batches_after_the_last_retrain_count_and_cooldown_in_batches() -> None:
    history = [_record("d1", True), _record("d2", True), _record("d3", True), _record("d4", True)]
    decision = should_retrain(history, POLICY, last_retrain_batch="d2")
    assert not decision.retrain
    assert decision.reason.startswith("cooldown: 2 judged batches")
    history.append(_record("d5", True))
    assert should_retrain(history, POLICY, last_retrain_batch="d2").evidence == ("d3", "d4", "d5")
    assert should_retrain(history, POLICY, last_retrain_batch="d2").retrain


def test_cooldown_in_hours() -> None:
    history = [_record(f"d{i}", True) for i in range(5)]
    policy = DriftPolicy(cooldown_hours=24, cooldown_batches=0)
    retrained = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    soon = should_retrain(history, policy, last_retrain_at=retrained, now=retrained + dt.timedelta(hours=5))
    assert not soon.retrain
    assert "5.0 h since the last retrain < cooldown_hours 24" in soon.reason
    naive_now = dt.datetime(2026, 3, 2, 13, 0)  # naive datetimes are read as UTC
    assert should_retrain(history, policy, last_retrain_at=retrained, now=naive_now).retrain


def test_empty_history() -> None:
    decision = should_retrain([], POLICY)
    assert not decision.retrain
    assert "no batches" in decision.reason


def test_run_key_is_derived_from_the_model_the_reference_and_the_evidence() -> None:
    history = [_record("d1", True), _record("d2", True)]
    first, again = should_retrain(history, POLICY), should_retrain(list(history), POLICY)
    key = retrain_run_key("ecommerce", "ref1", first.confirming(POLICY))
    assert key == retrain_run_key("ecommerce", "ref1", again.confirming(POLICY))
    assert key.startswith("ecommerce-drift-retrain-")
    other = should_retrain([_record("d1", True), _record("d3", True)], POLICY)
    assert retrain_run_key("ecommerce", "ref1", other.confirming(POLICY)) != key
    assert retrain_run_key("ecommerce", "ref2", first.confirming(POLICY)) != key  # judged against another reference
    assert retrain_run_key("loans", "ref1", first.confirming(POLICY)) != key  # another model's drift
    # A replay that sees a longer streak confirms with the same first batches: the same key.
    longer = should_retrain([*history, _record("d3", True)], POLICY)
    assert longer.evidence == ("d1", "d2", "d3")
    assert retrain_run_key("ecommerce", "ref1", longer.confirming(POLICY)) == key


def test_a_degradation_beyond_max_drop_marks_a_judged_batch_drifted() -> None:
    records: dict[str, BatchEvidence] = {}
    merge_drift(records, "d1", _record("d1", False), "ref1")
    merge_performance(records, "d1", 0.03, max_drop=0.05)  # within the allowed drop
    assert records["d1"].drift_detected is False and "performance" not in records["d1"].drifted
    merge_performance(records, "d1", 0.08, max_drop=0.05)
    assert records["d1"].drift_detected is True and records["d1"].verdict() == "error"
    assert records["d1"].drifted == ("performance",)
    assert records["d1"].reference_version == "ref1"


def test_a_degradation_never_marks_an_unjudged_batch_drifted() -> None:
    records: dict[str, BatchEvidence] = {}
    merge_performance(records, "d1", 0.5, max_drop=0.05)  # labels before the drift assessment
    assert records["d1"].judged is False and not records["d1"].drift_detected
    merge_performance(records, "d2", 0.5, max_drop=0.05)
    assert not should_retrain([records[k] for k in sorted(records)], POLICY).retrain
    # Once the assessment arrives the degradation that came first counts.
    merge_drift(records, "d1", _record("d1", False), "ref1")
    assert records["d1"].drift_detected is True and "performance" in records["d1"].drifted


def test_a_label_shift_beyond_its_limit_marks_a_judged_batch_drifted_in_either_order() -> None:
    records: dict[str, BatchEvidence] = {}
    merge_drift(records, "d1", _record("d1", False), "ref1")
    merge_performance(records, "d1", 0.0, max_drop=0.05, label_shift=0.1, max_label_shift=0.2)
    assert records["d1"].drift_detected is False
    merge_performance(records, "d1", 0.0, max_drop=0.05, label_shift=0.3, max_label_shift=0.2)
    assert records["d1"].drift_detected is True and records["d1"].drifted == ("label_shift",)
    # Labels before the assessment: counted once the batch is judged.
    merge_performance(records, "d2", 0.0, max_drop=0.05, label_shift=0.3, max_label_shift=0.2)
    assert not records["d2"].drift_detected
    merge_drift(records, "d2", _record("d2", False), "ref1")
    assert records["d2"].drift_detected is True and "label_shift" in records["d2"].drifted
    assert should_retrain([records[k] for k in sorted(records)], POLICY).retrain


def test_a_label_shift_is_ignored_when_its_limit_is_off() -> None:
    records: dict[str, BatchEvidence] = {}
    merge_drift(records, "d1", _record("d1", False), "ref1")
    merge_performance(records, "d1", 0.0, max_drop=0.05, label_shift=5.0, max_label_shift=None)
    assert records["d1"].drift_detected is False


def test_bad_records_are_rejected_with_guidance() -> None:
    with pytest.raises(ValueError, match="to_record"):
        should_retrain([{"batch_key": "d1"}], POLICY)


def test_demo_drift_retrains_on_the_second_covariate_day_through_json_records(demo_profile: ReferenceProfile) -> None:
    cursor: list[dict[str, Any]] = []
    decisions = []
    for offset, scenario in enumerate([None, None, "covariate", "covariate"]):
        day = BATCH_DAY + dt.timedelta(days=offset)
        results = compute_drift(demo_profile, demo_batch(day=day, scenario=scenario), day.isoformat())
        cursor.append(assess_batch(results, POLICY).to_record())
        cursor = json.loads(json.dumps(cursor))  # as a sensor cursor would keep it
        decisions.append(should_retrain(cursor, POLICY))
    assert [d.retrain for d in decisions] == [False, False, False, True]
    assert decisions[-1].evidence == ("2026-02-03", "2026-02-04")


def test_a_failed_retrain_does_not_count_for_the_cooldown_but_its_evidence_stays_spent() -> None:
    history = [_record(f"d{i}", True) for i in range(1, 6)]
    # Retrained (successfully) after d1; the retrain asked for after d3 failed; d4 and d5 drifted since.
    counted = should_retrain(history, POLICY, last_retrain_batch="d3")
    assert not counted.retrain and counted.reason.startswith("cooldown: 2 judged batches")  # the failure counted
    decision = should_retrain(history, POLICY, last_retrain_batch="d1", spent_batch="d3")
    assert decision.retrain and decision.evidence == ("d4", "d5")  # never d2, d3 again: their run key is used


def test_the_sensor_takes_back_a_retrain_whose_run_failed_for_good() -> None:
    import dagster as dg

    from asset_platform.sensors.drift_retrain import _settle_pending_retrain

    @dg.op
    def breaks() -> None:
        raise dg.Failure("the history breaks the data contract", allow_retries=False)

    @dg.job
    def retraining() -> None:
        breaks()

    earlier = "2026-03-01T12:00:00+00:00"
    with dg.DagsterInstance.ephemeral() as instance:
        retraining.execute_in_process(instance=instance, tags={"dagster/run_key": "k1"}, raise_on_error=False)
        state = {
            "last_retrain_batch": "d3",
            "last_retrain_at": "2026-03-05T12:00:00+00:00",
            "pending_retrain": {"run_key": "k1", "batch": "d3", "previous_batch": "d1", "previous_at": earlier},
        }
        _settle_pending_retrain(instance, state, dg.AssetKey(["loans", "champion"]))
        assert state == {"last_retrain_batch": "d1", "last_retrain_at": earlier, "spent_batch": "d3"}
        waiting = {"pending_retrain": {"run_key": "not-launched-yet", "batch": "d9"}}
        _settle_pending_retrain(instance, waiting, dg.AssetKey(["loans", "champion"]))
        assert "pending_retrain" in waiting
