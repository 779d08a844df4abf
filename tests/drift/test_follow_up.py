"""Recovery after a drift-triggered retrain: follow-up retrains on the growing post-drift window."""

from __future__ import annotations

import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.errors import DeclarationError
from asset_platform.drift.evidence import BatchEvidence
from asset_platform.drift.retrain import Recovery, merge_performance, recovery_after, should_follow_up

RULES = {"metric": "auc", "max_drop": 0.03, "max_follow_ups": 2, "min_new_rows": 1500, "cooldown_batches": 2}


def _batch(key: str, realized: float | None, drifted: bool = False, rows: int = 1000) -> BatchEvidence:
    return BatchEvidence(
        key, rows, judged=True, feature_drift=drifted, realized_metric=realized, batch_start=f"2026-01-{key[1:]}"
    )


STABLE = [_batch("d01", 0.80), _batch("d02", 0.82), _batch("d03", 0.81), _batch("d04", 0.79)]
DRIFTED = [_batch("d05", 0.70, drifted=True), _batch("d06", 0.69, drifted=True)]


def test_a_retrain_on_drift_remembers_the_pre_drift_level_its_band_and_where_the_drift_began() -> None:
    recovery = recovery_after([*STABLE, *DRIFTED], ("d05", "d06"), "auc")
    level = (0.82 + 0.81 + 0.79) / 3  # the last three stable batches
    assert recovery.level == pytest.approx(level)
    assert recovery.band == pytest.approx(level - 0.79)  # the worst of them
    assert recovery.since == "2026-01-05"
    assert Recovery.from_dict(recovery.to_dict()) == recovery


def test_an_error_metrics_band_is_the_relative_rise_of_its_worst_stable_batch() -> None:
    stable = [_batch("d01", 8.0), _batch("d02", 8.4), _batch("d03", 7.6)]
    recovery = recovery_after([*stable, _batch("d04", 11.0, drifted=True)], ("d04",), "rmse")
    assert recovery.level == pytest.approx(8.0) and recovery.band == pytest.approx(0.4 / 8.0)


def test_a_cursor_written_before_the_band_was_kept_still_reads() -> None:
    recovery = Recovery.from_dict({"level": 0.8, "since": "2026-01-05", "follow_ups": 1})
    assert recovery == Recovery(0.8, "2026-01-05", follow_ups=1) and recovery.band is None


def test_no_recovery_without_a_labeled_stable_batch_before_the_drift() -> None:
    unlabeled = [_batch("d01", None), *DRIFTED]
    assert recovery_after(unlabeled, ("d05", "d06"), "auc") is None
    assert recovery_after([*STABLE, *DRIFTED], (), "auc") is None


def test_still_below_the_pre_drift_level_after_enough_labeled_rows_retrains_again() -> None:
    recovery = Recovery(0.80, "2026-01-05")
    after = [*STABLE, *DRIFTED, _batch("d07", 0.74), _batch("d08", 0.75)]
    decision = should_follow_up(after, recovery, last_retrain_batch="d06", **RULES)
    assert decision.retrain and not decision.finished
    assert decision.evidence == ("d07", "d08")
    assert "follow-up 1 of 2" in decision.reason and "since 2026-01-05" in decision.reason


def test_it_waits_for_enough_labeled_batches_and_rows() -> None:
    recovery = Recovery(0.80, "2026-01-05")
    one = should_follow_up([*DRIFTED, _batch("d07", 0.70)], recovery, last_retrain_batch="d06", **RULES)
    assert not one.retrain and not one.finished and "needs 2 and 1500" in one.reason
    small = [*DRIFTED, _batch("d07", 0.70, rows=500), _batch("d08", 0.70, rows=500)]
    assert not should_follow_up(small, recovery, last_retrain_batch="d06", **RULES).retrain
    unlabeled = [*DRIFTED, _batch("d07", None), _batch("d08", None)]
    assert not should_follow_up(unlabeled, recovery, last_retrain_batch="d06", **RULES).retrain


def _after(*realized: float) -> list[BatchEvidence]:
    """The drifted batches, then batches labeled since the retrain on them with these realized metrics."""
    return [*DRIFTED, *(_batch(f"d{day:02d}", value) for day, value in enumerate(realized, start=7))]


def test_back_in_band_ends_the_recovery_once_six_batches_say_so() -> None:
    recovery = Recovery(0.80, "2026-01-05")
    decision = should_follow_up(_after(0.78, 0.79, 0.80, 0.79, 0.78, 0.79), recovery, last_retrain_batch="d06", **RULES)
    assert not decision.retrain and decision.finished and decision.reason.startswith("recovered")
    assert "over 6 batch(es)" in decision.reason


def test_in_band_on_a_few_batches_keeps_watching_and_a_later_shortfall_retrains() -> None:
    """Two lucky batches are no recovery: a fraud model retrained on two days of a new pattern answered 0.45 and
    0.47 average precision against a pre-drift 0.455, then held 0.42."""
    recovery = Recovery(0.455, "2026-01-05", band=0.0157)
    rules = {**RULES, "metric": "average_precision", "max_drop": 0.1}
    lucky = should_follow_up(_after(0.428, 0.472), recovery, last_retrain_batch="d06", **rules)
    assert not lucky.retrain and not lucky.finished and lucky.reason.startswith("watching")
    later = should_follow_up(_after(0.428, 0.472, 0.443, 0.418, 0.399), recovery, last_retrain_batch="d06", **rules)
    assert later.retrain and "follow-up 1 of 2" in later.reason


def test_no_level_to_compare_with_ends_the_recovery_at_once() -> None:
    decision = should_follow_up(
        _after(0.78, 0.79), Recovery(float("nan"), "2026-01-05"), last_retrain_batch="d06", **RULES
    )
    assert not decision.retrain and decision.finished


def test_back_within_the_alarm_but_short_of_the_stable_band_retrains_again() -> None:
    """A first retrain on a day or two of post-drift rows may come back inside the drop alarm and still be well
    short of what the pre-drift model did: the stable batches' own spread, not the alarm, says it is back."""
    after = [*DRIFTED, _batch("d07", 0.78), _batch("d08", 0.78)]  # 0.02 short: inside the 0.03 alarm
    narrow = should_follow_up(after, Recovery(0.80, "2026-01-05", band=0.01), last_retrain_batch="d06", **RULES)
    assert narrow.retrain and "(> 0.01, the band of its stable batches)" in narrow.reason
    wide = should_follow_up(after, Recovery(0.80, "2026-01-05", band=0.025), last_retrain_batch="d06", **RULES)
    assert not wide.retrain and wide.reason.startswith("watching")
    # A band wider than the alarm is cut to it: the alarm already calls such a batch drifted.
    loose = should_follow_up(
        [*DRIFTED, _batch("d07", 0.76), _batch("d08", 0.76)],
        Recovery(0.80, "2026-01-05", band=0.2),
        last_retrain_batch="d06",
        **RULES,
    )
    assert loose.retrain


def test_no_more_than_the_declared_follow_ups() -> None:
    spent = Recovery(0.80, "2026-01-05", follow_ups=2)
    decision = should_follow_up(
        [*DRIFTED, _batch("d07", 0.60), _batch("d08", 0.60)], spent, last_retrain_batch="d06", **RULES
    )
    assert not decision.retrain and decision.finished
    never = should_follow_up(
        [*DRIFTED, _batch("d07", 0.60), _batch("d08", 0.60)],
        Recovery(0.80, "2026-01-05"),
        last_retrain_batch="d06",
        **{**RULES, "max_follow_ups": 0},
    )
    assert not never.retrain and never.finished


def test_an_error_metric_is_judged_by_its_relative_rise() -> None:
    rules = {**RULES, "metric": "rmse", "max_drop": 0.1}
    recovery = Recovery(8.0, "2026-01-05")
    worse = [*DRIFTED, _batch("d07", 9.2), _batch("d08", 9.0)]  # 14 % above 8.0
    assert should_follow_up(worse, recovery, last_retrain_batch="d06", **rules).retrain
    close = _after(8.5, 8.6, 8.5, 8.6, 8.5, 8.6)  # 7 % above
    assert should_follow_up(close, recovery, last_retrain_batch="d06", **rules).finished


def test_the_labels_realized_metric_reaches_the_sensors_history() -> None:
    records = {"d07": BatchEvidence("d07", 1000, judged=True)}
    merge_performance(records, "d07", 0.05, 0.03, realized_metric=0.75)
    assert records["d07"].realized_metric == 0.75


@pytest.mark.parametrize(
    ("follow_up", "field"),
    [
        ({"max_follow_ups": -1}, "max_follow_ups"),
        ({"cooldown_batches": 0}, "cooldown_batches"),
        ({"every": 2}, "every"),
    ],
)
def test_a_bad_follow_up_declaration_is_refused_naming_the_field(follow_up, field) -> None:
    from assets.ecommerce import ecommerce

    declared = ecommerce.model_dump(mode="python")
    declared["retraining"]["follow_up"] = follow_up
    with pytest.raises((DeclarationError, ValueError), match=field):
        ModelDeclaration.model_validate(declared)
