"""A webhook token never reaches the run log: secrets from files are stripped, bad ones refused by name.

Issue 11, failure 8: a trailing newline in $ASSET_PLATFORM_WEBHOOK_AUTH (usual
for Kubernetes secrets created from files) raised `Invalid header value
b'Bearer ...\\n'`, and the notifier logged that text, token included, into the
event log, where read-only viewers see it.

No `from __future__ import annotations` here: Dagster reads the asset's context annotation at runtime.
"""

import logging
import socket

import dagster as dg
import pytest

from asset_platform.notify import WEBHOOK_AUTH_ENV, WEBHOOK_URL_ENV, DriftConfirmed, Notifier, notifier_from_env
from asset_platform.notify.redaction import NotifierSettingError

TOKEN = "tok-5e4d3c2b1a09"
PATH_SECRET = "/hooks/T0009/pathSecret31"


@dg.asset
def drift_alert(context: dg.AssetExecutionContext, notifier: Notifier) -> None:
    event = DriftConfirmed(
        asset="ecommerce/drift",
        batch_keys=("events_2026-01-07",),
        drifted_features=("price",),
        drift_share=0.4,
        max_psi=0.3,
    )
    notifier.notify(event, log=context.log)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_webhook_token_with_a_trailing_newline_is_stripped_and_never_reaches_the_run_log(
    monkeypatch: pytest.MonkeyPatch, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(WEBHOOK_URL_ENV, f"http://127.0.0.1:{closed_port}{PATH_SECRET}\n")
    monkeypatch.setenv(WEBHOOK_AUTH_ENV, f"Bearer {TOKEN}\n")
    notifier = notifier_from_env(max_attempts=2, initial_backoff_s=0.01, timeout_s=2.0)

    with caplog.at_level(logging.DEBUG), dg.instance_for_test() as instance:
        result = dg.materialize([drift_alert], resources={"notifier": notifier}, instance=instance)
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]

    text = "\n".join(logged) + caplog.text
    assert result.success, "a failed delivery never fails the run"
    assert "webhook" in text and f"127.0.0.1:{closed_port}" in text, "the failure is reported, by origin"
    assert TOKEN not in text and "pathSecret31" not in text and "T0009" not in text
    assert "Invalid header value" not in text


def test_a_control_character_inside_the_webhook_token_is_refused_naming_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(WEBHOOK_URL_ENV, f"http://127.0.0.1:9{PATH_SECRET}")
    monkeypatch.setenv(WEBHOOK_AUTH_ENV, f"Bearer {TOKEN}\nX-Injected: 1")

    with pytest.raises(NotifierSettingError) as refused:
        notifier_from_env()

    assert WEBHOOK_AUTH_ENV in str(refused.value) and TOKEN not in str(refused.value)
