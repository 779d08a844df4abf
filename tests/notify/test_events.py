"""The payload schema each event kind produces: the contract webhook receivers rely on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asset_platform.notify import PAYLOAD_FIELDS, DriftConfirmed, RetrainingOutcome, to_payload
from tests.notify.samples import DRIFT, PROMOTED, SENT_AT, STARTED


@pytest.mark.parametrize("event", [DRIFT, STARTED, PROMOTED], ids=lambda e: e.kind)
def test_every_event_has_the_same_top_level_schema(event) -> None:
    payload = json.loads(json.dumps(to_payload(event, sent_at=SENT_AT), allow_nan=False))
    assert tuple(payload) == PAYLOAD_FIELDS
    assert payload["event"] == event.kind
    assert payload["asset"] == event.asset
    assert payload["run_id"] == event.run_id
    assert payload["sent_at"] == "2026-02-01T12:30:00+00:00"
    assert isinstance(payload["details"], dict)


def test_drift_confirmed_carries_batches_features_and_numbers() -> None:
    payload = to_payload(DRIFT)
    assert payload["severity"] == "warning"
    assert payload["details"] == {
        "batch_keys": ["2026-01-15", "2026-01-16"],
        "drifted_features": ["amount", "session_length"],
        "drift_share": 0.4,
        "max_psi": 0.3172,
    }
    assert "amount, session_length" in payload["text"]
    assert "drift share 0.400" in payload["text"] and "max PSI 0.317" in payload["text"]


def test_retraining_started_carries_trigger_and_evidence() -> None:
    payload = to_payload(STARTED)
    assert payload["severity"] == "info"
    assert payload["run_id"] == "run-retrain"
    assert payload["details"] == {"trigger": "drift_retrain_sensor", "evidence": STARTED.evidence}


def test_promotion_carries_the_metric_comparison() -> None:
    payload = to_payload(PROMOTED)
    assert payload["severity"] == "info"
    assert payload["title"] == "Challenger promoted for champion_model"
    assert payload["details"] == {
        "outcome": "promoted",
        "metric": "auc",
        "champion_value": 0.8112,
        "challenger_value": 0.8431,
        "improvement": 0.0319,
        "improvement_ci": [0.0121, 0.0502],
        "reason": "the CI's lower bound is above 0",
    }
    assert "0.8112" in payload["text"] and "0.8431" in payload["text"] and "0.0121 to 0.0502" in payload["text"]


def test_rejection_without_a_champion_is_a_warning_with_empty_comparison() -> None:
    event = RetrainingOutcome(
        asset="champion_model",
        promoted=False,
        metric="auc",
        challenger_value=0.51,
        champion_value=None,
        improvement=None,
        improvement_ci=None,
        reason="challenger AUC below the 0.6 floor",
    )
    payload = to_payload(event)
    assert payload["severity"] == "warning"
    assert payload["details"]["outcome"] == "rejected"
    assert payload["details"]["champion_value"] is None
    assert payload["details"]["improvement_ci"] is None
    assert "n/a" in payload["text"]


def test_numpy_and_non_finite_numbers_become_valid_json() -> None:
    event = DriftConfirmed(
        asset="production_batch",
        batch_keys=(np.int64(7),),
        drifted_features=(),
        drift_share=np.float32(0.25),
        max_psi=float("nan"),
    )
    details = json.loads(json.dumps(to_payload(event), allow_nan=False))["details"]
    assert details == {"batch_keys": ["7"], "drifted_features": [], "drift_share": 0.25, "max_psi": None}
