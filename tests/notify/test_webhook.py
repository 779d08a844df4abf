"""The webhook channel against a real local HTTP server: content, headers, retries, failures."""

from __future__ import annotations

import logging

import pytest

from asset_platform.notify import PAYLOAD_FIELDS, Notifier
from tests.notify.samples import DRIFT, PROMOTED, STARTED

LOGGER = "tests.notify.webhook"
FAST = {"initial_backoff_s": 0.01, "backoff_multiplier": 2.0, "timeout_s": 2.0}


def _notifier(url: str, **settings) -> Notifier:
    return Notifier(webhook_url=url, **{**FAST, **settings})


@pytest.mark.parametrize("event", [DRIFT, STARTED, PROMOTED], ids=lambda e: e.kind)
def test_each_event_is_posted_as_json_with_the_configured_headers(http_server, event) -> None:
    notifier = _notifier(f"{http_server.url}/hooks/ml", webhook_headers={"Authorization": "Bearer s3cret"})
    report = notifier.notify(event, log=logging.getLogger(LOGGER))

    assert report.all_delivered and report.succeeded == ["run_log", "webhook"]
    [request] = http_server.requests
    assert request.path == "/hooks/ml"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer s3cret"
    body = request.json()
    assert tuple(body) == PAYLOAD_FIELDS
    assert body["event"] == event.kind and body["asset"] == event.asset and body["run_id"] == event.run_id
    assert body["details"] == event.details()


def test_drift_numbers_reach_the_receiver(http_server) -> None:
    _notifier(http_server.url).notify(DRIFT, log=logging.getLogger(LOGGER))
    details = http_server.requests[0].json()["details"]
    assert details["drift_share"] == 0.4 and details["max_psi"] == 0.3172
    assert details["batch_keys"] == ["2026-01-15", "2026-01-16"]


def test_promotion_comparison_reaches_the_receiver(http_server) -> None:
    _notifier(http_server.url).notify(PROMOTED, log=logging.getLogger(LOGGER))
    details = http_server.requests[0].json()["details"]
    assert (details["champion_value"], details["challenger_value"]) == (0.8112, 0.8431)
    assert details["improvement"] == 0.0319 and details["improvement_ci"] == [0.0121, 0.0502]


def test_server_errors_are_retried_until_delivered(http_server) -> None:
    http_server.script = [(500, {}), (500, {}), (200, {"ok": True})]
    report = _notifier(http_server.url, max_attempts=3).notify(STARTED, log=logging.getLogger(LOGGER))

    assert report.all_delivered
    [webhook] = [d for d in report.deliveries if d.channel == "webhook"]
    assert webhook.attempts == 3 and len(http_server.requests) == 3
    assert len({r.body for r in http_server.requests}) == 1  # the same message each time


def test_a_server_that_always_fails_is_reported_not_raised(http_server, caplog) -> None:
    http_server.script = [(503, {})]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        report = _notifier(f"{http_server.url}/t0ken-in-path", max_attempts=4).notify(
            DRIFT, log=logging.getLogger(LOGGER)
        )

    assert report.failed == ["webhook"] and report.succeeded == ["run_log"]
    assert len(http_server.requests) == 4 and report.deliveries[1].attempts == 4
    [warning] = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "not delivered" in r.getMessage()
    ]
    assert "'webhook'" in warning and f"127.0.0.1:{http_server.port}" in warning and "503" in warning
    assert "t0ken-in-path" not in warning


def test_a_closed_port_is_reported_not_raised(closed_port_url, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        report = _notifier(closed_port_url, max_attempts=3).notify(DRIFT, log=logging.getLogger(LOGGER))

    assert report.failed == ["webhook"]
    assert report.deliveries[1].attempts == 3
    assert report.deliveries[1].error.startswith("URLError")
    assert any("not delivered to channel 'webhook'" in r.getMessage() for r in caplog.records)


def test_client_errors_are_not_retried(http_server) -> None:
    http_server.script = [(401, {"error": "bad token"})]
    report = _notifier(http_server.url, max_attempts=3).notify(STARTED, log=logging.getLogger(LOGGER))

    assert report.failed == ["webhook"] and len(http_server.requests) == 1
    assert "HTTP 401" in report.deliveries[1].error


def test_a_hanging_server_is_bounded_by_the_request_timeout(http_server) -> None:
    http_server.hang = True
    report = _notifier(http_server.url, max_attempts=2, timeout_s=0.2).notify(STARTED, log=logging.getLogger(LOGGER))

    assert report.failed == ["webhook"]
    assert report.deliveries[1].attempts == 2 and len(http_server.requests) == 2
    assert "timed out" in report.deliveries[1].error


def test_without_a_logger_the_notifier_still_reports(closed_port_url) -> None:
    report = _notifier(closed_port_url, max_attempts=1).notify(DRIFT)
    assert report.as_dict()["failed"] == ["webhook"]
