"""Every DriftPolicy field matters: for each, a case where changing only that field changes a decision.

A decision is `assess_batch` (a feature drifted or not, a quality issue or not,
the batch judged or not, drift detected or not) or `should_retrain`. A new
field without a case here fails `test_every_policy_field_has_a_case`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from asset_platform.drift import (
    DriftPolicy,
    DriftResults,
    FeatureDrift,
    FeatureOverride,
    Thresholds,
    assess_batch,
    should_retrain,
)

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def _numeric(name: str, **stats: Any) -> FeatureDrift:
    return FeatureDrift(name, "numeric", 1_000, 1_000, 0.0, 0.0, **stats)


def _categorical(name: str, **stats: Any) -> FeatureDrift:
    return FeatureDrift(name, "categorical", 1_000, 1_000, 0.0, 0.0, **stats)


def _batch(*features: FeatureDrift, rows: int = 1_000) -> DriftResults:
    calm = [_numeric(f"calm_{i}", psi=0.0) for i in range(12 - len(features))]
    return DriftResults("b1", rows, (*features, *calm))


def _drifted(results: DriftResults) -> Callable[[DriftPolicy], Any]:
    return lambda policy: assess_batch(results, policy).drifted_features


def _record(key: str, drift: bool = True) -> dict[str, Any]:
    return {
        "batch_key": key,
        "n_rows": 2_000,
        "judged": True,
        "drift_detected": drift,
        "drifted_features": ["price"] if drift else [],
        "quality_issues": [],
    }


def _retrain(history: list[dict[str, Any]], **since: Any) -> Callable[[DriftPolicy], bool]:
    return lambda policy: should_retrain(history, policy, **since).retrain


@dataclass(frozen=True)
class Case:
    changed: Any
    decide: Callable[[DriftPolicy], Any]
    by_default: Any
    after_change: Any


TEN_P_VALUES = DriftResults("b1", 1_000, tuple(_numeric(f"f{i}", psi=0.0, ks_pvalue=0.004) for i in range(10)))
ALL_TEN = tuple(f"f{i}" for i in range(10))
RETRAINED_5H_AGO = {"last_retrain_at": NOW - dt.timedelta(hours=5), "now": NOW}

CASES: dict[str, Case] = {
    "psi": Case(Thresholds(warn=0.4, alert=0.5), _drifted(_batch(_numeric("x", psi=0.3))), ("x",), ()),
    "js_distance": Case(Thresholds(warn=0.1, alert=0.3), _drifted(_batch(_numeric("x", js_distance=0.25))), ("x",), ()),
    "wasserstein": Case(Thresholds(warn=0.1, alert=0.3), _drifted(_batch(_numeric("x", wasserstein=0.25))), ("x",), ()),
    "unseen_share": Case(
        Thresholds(warn=0.05, alert=0.1), _drifted(_batch(_categorical("c", unseen_share=0.06))), ("c",), ()
    ),
    "category_shift": Case(
        Thresholds(warn=0.3, alert=0.5), _drifted(_batch(_categorical("c", category_shift=0.44))), ("c",), ()
    ),
    "missing_rate_increase": Case(
        Thresholds(warn=0.2, alert=0.3),
        lambda policy: (
            assess_batch(_batch(FeatureDrift("x", "numeric", 1_000, 800, 0.2, 0.02, psi=0.0)), policy).quality_issues
        ),
        ("x",),
        (),
    ),
    "drift_statistics": Case(["js_distance"], _drifted(_batch(_numeric("x", psi=0.3, js_distance=0.05))), ("x",), ()),
    "p_value_alpha": Case(0.01, _drifted(_batch(_numeric("x", psi=0.0, ks_pvalue=1e-6))), (), ("x",)),
    # BH keeps ten p-values of 0.004 at alpha 0.01; Bonferroni (0.04 each) keeps none.
    "p_value_correction": Case(
        "bonferroni",
        lambda policy: assess_batch(TEN_P_VALUES, policy.model_copy(update={"p_value_alpha": 0.01})).drifted_features,
        ALL_TEN,
        (),
    ),
    "features": Case(
        {"x": FeatureOverride(psi=Thresholds(warn=0.5, alert=1.0))},
        _drifted(_batch(_numeric("x", psi=0.3))),
        ("x",),
        (),
    ),
    "min_batch_size": Case(
        300, lambda policy: assess_batch(_batch(_numeric("x", psi=0.5), rows=400), policy).judged, False, True
    ),
    "drift_share": Case(
        0.05, lambda policy: assess_batch(_batch(_numeric("x", psi=0.5)), policy).drift_detected, False, True
    ),
    "consecutive_batches": Case(3, _retrain([_record("d1", False), _record("d2"), _record("d3")]), True, False),
    "cooldown_batches": Case(
        2, _retrain([_record("d1"), _record("d2"), _record("d3"), _record("d4")], last_retrain_batch="d2"), False, True
    ),
    "cooldown_hours": Case(6.0, _retrain([_record(f"d{i}") for i in range(1, 5)], **RETRAINED_5H_AGO), True, False),
}


def test_every_policy_field_has_a_case() -> None:
    assert set(CASES) == set(DriftPolicy.model_fields)


@pytest.mark.parametrize("field", sorted(CASES))
def test_changing_the_field_changes_the_decision(field: str) -> None:
    case = CASES[field]
    default = DriftPolicy()
    assert getattr(default, field) != case.changed
    assert case.decide(default) == case.by_default
    changed = DriftPolicy(**{field: case.changed})
    assert case.decide(changed) == case.after_change


def test_cooldown_hours_counts_from_the_last_retrain_to_now() -> None:
    history = [_record(f"d{i}") for i in range(1, 5)]
    policy = DriftPolicy(cooldown_hours=6.0)
    retrained_at = NOW - dt.timedelta(hours=5)
    blocked = should_retrain(history, policy, last_retrain_at=retrained_at, now=NOW)
    assert not blocked.retrain
    assert "5.0 h since the last retrain < cooldown_hours 6" in blocked.reason
    later = should_retrain(history, policy, last_retrain_at=retrained_at, now=NOW + dt.timedelta(hours=1))
    assert later.retrain
    # Without a time of the last retrain there is nothing to cool down from.
    assert should_retrain(history, policy, now=NOW).retrain
