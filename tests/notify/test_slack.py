"""The Slack channel through dagster-slack, with the Web API pointed at a local server."""

from __future__ import annotations

import logging

from asset_platform.notify import Notifier, SlackApiResource
from tests.notify.conftest import SLACK_OK
from tests.notify.samples import DRIFT, PROMOTED

LOGGER = "tests.notify.slack"
FAST = {"initial_backoff_s": 0.01, "timeout_s": 2.0}


def _notifier(server, **settings) -> Notifier:
    return Notifier(
        slack_token="xoxb-test-token",
        slack_channel="#ml-alerts",
        slack_api_url=f"{server.url}/api/",
        **{**FAST, **settings},
    )


def test_the_resource_is_a_dagster_slack_resource_with_a_base_url() -> None:
    client = SlackApiResource(token="xoxb-t", base_url="http://127.0.0.1:9/api").get_client()
    assert client.base_url == "http://127.0.0.1:9/api/"
    assert client.retry_handlers == []


def test_drift_is_posted_with_chat_post_message(http_server) -> None:
    http_server.script = [SLACK_OK]
    report = _notifier(http_server).notify(DRIFT, log=logging.getLogger(LOGGER))

    assert report.succeeded == ["run_log", "slack"]
    [request] = http_server.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-test-token"
    body = request.json()
    assert body["channel"] == "#ml-alerts"
    assert "*Drift confirmed on production_batch*" in body["text"]
    assert "drift share 0.400, max PSI 0.317" in body["text"]
    assert "run `run-drift`" in body["text"]


def test_promotion_text_carries_the_comparison(http_server) -> None:
    http_server.script = [SLACK_OK]
    _notifier(http_server).notify(PROMOTED, log=logging.getLogger(LOGGER))
    text = http_server.requests[0].json()["text"]
    assert "auc champion 0.8112 vs challenger 0.8431, improvement 0.0319 (CI 0.0121 to 0.0502)" in text


def test_slack_server_errors_are_retried(http_server) -> None:
    http_server.script = [(500, {"ok": False}), SLACK_OK]
    report = _notifier(http_server, max_attempts=3).notify(DRIFT, log=logging.getLogger(LOGGER))

    assert report.all_delivered
    assert report.deliveries[-1].attempts == 2 and len(http_server.requests) == 2


def test_slack_refusals_are_reported_once_not_raised(http_server, caplog) -> None:
    http_server.script = [(200, {"ok": False, "error": "channel_not_found"})]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        report = _notifier(http_server, max_attempts=3).notify(DRIFT, log=logging.getLogger(LOGGER))

    assert report.failed == ["slack"] and len(http_server.requests) == 1
    assert "channel_not_found" in report.deliveries[-1].error
    warnings = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(warnings) == 1 and "'slack'" in warnings[0] and "#ml-alerts" in warnings[0]
    assert "xoxb-test-token" not in warnings[0]


def test_an_unreachable_slack_is_reported_not_raised(closed_port_url) -> None:
    notifier = Notifier(
        slack_token="xoxb-t", slack_channel="#ml-alerts", slack_api_url=closed_port_url, max_attempts=2, **FAST
    )
    report = notifier.notify(DRIFT, log=logging.getLogger(LOGGER))
    assert report.failed == ["slack"] and report.deliveries[-1].attempts == 2


def test_slack_is_off_unless_token_and_channel_are_both_set(http_server) -> None:
    assert Notifier(slack_token="xoxb-t").channels == ["run_log"]
    assert Notifier(slack_channel="#ml-alerts").channels == ["run_log"]
    Notifier(slack_channel="#ml-alerts", slack_api_url=f"{http_server.url}/api/").notify(DRIFT)
    assert http_server.requests == []


def test_one_channel_failing_does_not_stop_the_other(http_server, closed_port_url) -> None:
    http_server.script = [SLACK_OK]
    report = _notifier(http_server, webhook_url=closed_port_url, max_attempts=2).notify(
        DRIFT, log=logging.getLogger(LOGGER)
    )
    assert report.succeeded == ["run_log", "slack"] and report.failed == ["webhook"]
