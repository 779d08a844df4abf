"""Sample events shared by the notify tests, with numbers chosen to be recognisable in payloads."""

import datetime as dt

from asset_platform.notify import DriftConfirmed, RetrainingOutcome, RetrainingStarted

SENT_AT = dt.datetime(2026, 2, 1, 12, 30, tzinfo=dt.UTC)

DRIFT = DriftConfirmed(
    asset="production_batch",
    batch_keys=("2026-01-15", "2026-01-16"),
    drifted_features=("amount", "session_length"),
    drift_share=0.4,
    max_psi=0.3172,
    run_id="run-drift",
)
STARTED = RetrainingStarted(
    asset="challenger_model",
    run_id="run-retrain",
    trigger="drift_retrain_sensor",
    evidence={"drift_report": "md5:abc123", "batch_keys": ["2026-01-15"]},
)
PROMOTED = RetrainingOutcome(
    asset="champion_model",
    promoted=True,
    metric="auc",
    champion_value=0.8112,
    challenger_value=0.8431,
    improvement=0.0319,
    improvement_ci=(0.0121, 0.0502),
    reason="the CI's lower bound is above 0",
    run_id="run-retrain",
)
