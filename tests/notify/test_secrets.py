"""Secrets never in text: settings are cleaned before use, and logs and errors show no token or URL path.

Webhook URLs carry tokens in their path and query (Slack's do), and Kubernetes
secrets mounted from files end in a newline; the server here fails on purpose, so
every error path writes its text, which must name things without their values.
The same inside a Dagster run: tests/notify/test_in_dagster.py.
"""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from asset_platform.notify import (
    SLACK_CHANNEL_ENV,
    SLACK_TOKEN_ENV,
    WEBHOOK_AUTH_ENV,
    WEBHOOK_URL_ENV,
    DeliveryReport,
    Notifier,
    notifier_from_env,
)
from asset_platform.notify.redaction import NotifierSettingError, redact, url_origin
from tests.notify.samples import DRIFT

LOGGER = "tests.notify.secrets"
FAST = {"initial_backoff_s": 0.01, "timeout_s": 2.0}
TOKEN = "tok-9f8e7d6c5b4a"
SECRET_PATH = "/services/T0001/B0002/pathSecret42"
SECRET_QUERY = "sig=querySecret77"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (WEBHOOK_URL_ENV, WEBHOOK_AUTH_ENV, SLACK_TOKEN_ENV, SLACK_CHANNEL_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _assert_no_secret(text: str) -> None:
    for secret in (TOKEN, "pathSecret42", "querySecret77", "T0001/B0002"):
        assert secret not in text, f"{secret!r} leaked into: {text}"


def _report_text(report: DeliveryReport) -> str:
    return json.dumps(report.as_dict())


def test_secret_file_newline_in_webhook_auth_is_stripped_and_token_and_path_never_logged(
    clean_env, http_server, caplog
) -> None:
    http_server.script = [(503, {"error": "down"})]
    clean_env.setenv(WEBHOOK_URL_ENV, f"{http_server.url}{SECRET_PATH}?{SECRET_QUERY}\n")
    clean_env.setenv(WEBHOOK_AUTH_ENV, f"Bearer {TOKEN}\n")
    with caplog.at_level(logging.DEBUG):
        report = notifier_from_env(max_attempts=2, **FAST).notify(DRIFT, log=logging.getLogger(LOGGER))

    # The request went out, with the newline gone, and failed only because the server did.
    assert [r.headers["Authorization"] for r in http_server.requests] == [f"Bearer {TOKEN}"] * 2
    assert http_server.requests[0].path == f"{SECRET_PATH}?{SECRET_QUERY}"
    assert report.failed == ["webhook"] and "503" in report.deliveries[1].error
    [warning] = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert f"(http://127.0.0.1:{http_server.port})" in warning
    _assert_no_secret("\n".join(r.getMessage() for r in caplog.records) + _report_text(report))


def test_control_character_inside_a_secret_variable_is_refused_naming_the_variable_not_the_value(clean_env) -> None:
    clean_env.setenv(WEBHOOK_URL_ENV, "https://hooks.example.com/hook")
    clean_env.setenv(WEBHOOK_AUTH_ENV, f"Bearer {TOKEN}\r\nX-Injected: yes")
    with pytest.raises(NotifierSettingError) as refused:
        notifier_from_env()
    assert f"${WEBHOOK_AUTH_ENV}" in str(refused.value) and "control character" in str(refused.value)
    _assert_no_secret(str(refused.value))
    assert "X-Injected" not in str(refused.value)

    clean_env.setenv(WEBHOOK_AUTH_ENV, f"Bearer {TOKEN}")
    clean_env.setenv(WEBHOOK_URL_ENV, f"https://hooks.example.com{SECRET_PATH}\x01")
    with pytest.raises(NotifierSettingError, match=rf"\${WEBHOOK_URL_ENV}") as refused:
        notifier_from_env()
    _assert_no_secret(str(refused.value))


def test_control_character_in_a_configured_header_is_refused_naming_the_field_not_the_value() -> None:
    with pytest.raises(ValidationError) as refused:
        Notifier(webhook_url="https://hooks.example.com/x", webhook_headers={"Authorization": f"Bearer {TOKEN}\x07"})
    assert "webhook_headers['Authorization']" in str(refused.value)
    _assert_no_secret(str(refused.value))
    with pytest.raises(ValidationError, match="slack_token") as refused:
        Notifier(slack_token=f"xoxb-{TOKEN}\nsecond line", slack_channel="#ml-alerts")
    _assert_no_secret(str(refused.value))


def test_literal_settings_are_stripped_when_the_notifier_is_configured(http_server) -> None:
    notifier = Notifier(webhook_url=f"  {http_server.url}/hook\n", webhook_headers={"Authorization": "Bearer x\n"})
    assert notifier.webhook_url == f"{http_server.url}/hook"
    assert notifier.webhook_headers == {"Authorization": "Bearer x"}
    assert notifier.notify(DRIFT, log=logging.getLogger(LOGGER)).all_delivered


def test_secret_changed_after_configuration_fails_delivery_without_sending_or_showing_it(
    clean_env, http_server, caplog
) -> None:
    clean_env.setenv(WEBHOOK_URL_ENV, f"{http_server.url}{SECRET_PATH}")
    clean_env.setenv(WEBHOOK_AUTH_ENV, f"Bearer {TOKEN}")
    notifier = notifier_from_env(**FAST)
    # Outside a run the EnvVar is read when sending, so a value set later is checked there.
    clean_env.setenv(WEBHOOK_AUTH_ENV, f"Bearer {TOKEN}\x7fmore")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        report = notifier.notify(DRIFT, log=logging.getLogger(LOGGER))

    assert http_server.requests == []
    [webhook] = [d for d in report.deliveries if d.channel == "webhook"]
    assert not webhook.delivered and webhook.attempts == 0 and WEBHOOK_AUTH_ENV in webhook.error
    _assert_no_secret("\n".join(r.getMessage() for r in caplog.records) + _report_text(report))


def test_slack_token_from_a_secret_file_is_stripped_and_never_logged(clean_env, http_server, caplog) -> None:
    http_server.script = [(500, {"ok": False})]
    clean_env.setenv(SLACK_TOKEN_ENV, f"xoxb-{TOKEN}\n")
    clean_env.setenv(SLACK_CHANNEL_ENV, "#ml-alerts\n")
    notifier = notifier_from_env(slack_api_url=f"{http_server.url}/api/", max_attempts=2, **FAST)
    with caplog.at_level(logging.DEBUG):
        report = notifier.notify(DRIFT, log=logging.getLogger(LOGGER))

    assert [r.headers["Authorization"] for r in http_server.requests] == [f"Bearer xoxb-{TOKEN}"] * 2
    assert report.failed == ["slack"]
    assert report.deliveries[-1].target == f"#ml-alerts at http://127.0.0.1:{http_server.port}"
    _assert_no_secret("\n".join(r.getMessage() for r in caplog.records) + _report_text(report))


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://hooks.slack.com/services/T0001/B0002/XYZ", "https://hooks.slack.com"),
        ("https://user:pw@hooks.example.com:8443/p?token=1#frag", "https://hooks.example.com:8443"),
        ("http://[::1]:9000/hook", "http://[::1]:9000"),
        ("http://host:notaport/x", "<unparsable URL>"),
    ],
)
def test_urls_are_shown_as_scheme_host_and_port_only(url: str, origin: str) -> None:
    assert url_origin(url) == origin


def test_redaction_covers_the_escaped_forms_errors_print() -> None:
    # http.client quotes a bad header as bytes: b'Bearer tok\n' shows the newline escaped.
    text = "ValueError: Invalid header value b'Bearer tok-9f8e7d6c5b4a\\n'"
    assert TOKEN not in redact(text, [f"Bearer {TOKEN}\n"])
