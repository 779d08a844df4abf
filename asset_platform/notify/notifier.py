"""The `Notifier` resource: every event to the run log, and to a webhook and Slack when configured."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import dagster as dg
from pydantic import ConfigDict, Field, field_validator

from asset_platform.notify.channels import (
    SLACK_API_URL,
    ChannelDelivery,
    post_json,
)
from asset_platform.notify.events import NotificationEvent, to_payload
from asset_platform.notify.redaction import (
    NotifierSettingError,
    clean_header_value,
    clean_text,
    clean_url,
    redact,
    url_origin,
    url_secrets,
)
from asset_platform.notify.retry import AttemptOutcome, RetryPolicy, call_with_retries

WEBHOOK_URL_ENV = "ASSET_PLATFORM_WEBHOOK_URL"
WEBHOOK_AUTH_ENV = "ASSET_PLATFORM_WEBHOOK_AUTH"
SLACK_TOKEN_ENV = "ASSET_PLATFORM_SLACK_TOKEN"
SLACK_CHANNEL_ENV = "ASSET_PLATFORM_SLACK_CHANNEL"

_MAX_ERROR_CHARS = 300
# dagster.get_dagster_logger output is captured into the run log when called inside a run.
_DEFAULT_LOGGER_NAME = "asset_platform.notify"
# How errors name a setting: the field, and the variable notifier_from_env binds it to.
_WEBHOOK_URL_NAME = f"Notifier webhook_url (${WEBHOOK_URL_ENV} with notifier_from_env)"
_SLACK_TOKEN_NAME = f"Notifier slack_token (${SLACK_TOKEN_ENV} with notifier_from_env)"
_SLACK_CHANNEL_NAME = f"Notifier slack_channel (${SLACK_CHANNEL_ENV} with notifier_from_env)"


@dataclass(frozen=True)
class DeliveryReport:
    """Which channels got one event; returned by `Notifier.notify`, never raised."""

    event: str
    deliveries: tuple[ChannelDelivery, ...]

    @property
    def succeeded(self) -> list[str]:
        return [d.channel for d in self.deliveries if d.delivered]

    @property
    def failed(self) -> list[str]:
        return [d.channel for d in self.deliveries if not d.delivered]

    @property
    def all_delivered(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, e.g. for `dg.MetadataValue.json` on the asset that sent the event."""
        return {
            "event": self.event,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "deliveries": [asdict(d) for d in self.deliveries],
        }


def _resolved(value: str | None) -> str | None:
    # Inside a run Dagster has already replaced EnvVar fields by their values; outside
    # one (a script, a test calling the resource directly) the field still holds the
    # EnvVar, whose str() is the variable's *name*.
    return value.get_value() if isinstance(value, dg.EnvVar) else value


def _header_name(name: str) -> str:
    hint = f" (${WEBHOOK_AUTH_ENV} with notifier_from_env)" if name.lower() == "authorization" else ""
    return f"Notifier webhook_headers[{name!r}]{hint}"


def _error_text(error: Exception, secrets: list[str | None]) -> str:
    """One line for logs and reports, with every secret removed *before* it is shortened."""
    text = redact(" ".join(f"{type(error).__name__}: {error}".split()), secrets)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


class Notifier(dg.ConfigurableResource):
    """Announces platform events: always to the run log, and to a JSON webhook and Slack when configured.

    Delivery is best effort: failed webhook or Slack calls are retried with
    exponential backoff, then reported with a warning in the log and in the
    returned `DeliveryReport`, and never raise. Nothing touches the network
    until `notify` is called.
    """

    webhook_url: str | None = Field(default=None, description="URL that receives each event as a JSON POST.")
    webhook_headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra webhook request headers, e.g. {'Authorization': EnvVar('ASSET_PLATFORM_WEBHOOK_AUTH')}.",
    )
    slack_token: str | None = Field(default=None, description="Slack bot token; Slack is used only with a channel.")
    slack_channel: str | None = Field(default=None, description="Slack channel to post to, e.g. '#ml-alerts'.")
    slack_api_url: str = Field(default=SLACK_API_URL, description="Slack Web API base URL (a gateway, or a test).")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts per channel before giving up.")
    initial_backoff_s: float = Field(default=0.5, ge=0, description="Sleep before the second attempt.")
    backoff_multiplier: float = Field(default=2.0, ge=1, description="Growth of the sleep at each further attempt.")
    timeout_s: float = Field(default=5.0, gt=0, description="Seconds to wait for each HTTP request.")

    # pydantic quotes the rejected input in its errors by default: these inputs are secrets.
    model_config = ConfigDict(hide_input_in_errors=True)

    # Values are cleaned when the resource is built: from literals at definition time,
    # from resolved environment variables when a run starts. An EnvVar still unresolved
    # holds only the variable's name and is cleaned where it is read (`_webhook_request`).
    @field_validator("webhook_url", mode="before")
    @classmethod
    def _clean_webhook_url(cls, value: Any) -> Any:
        return value if not value or isinstance(value, dg.EnvVar) else clean_url(value, _WEBHOOK_URL_NAME)

    @field_validator("webhook_headers", mode="before")
    @classmethod
    def _clean_webhook_headers(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            clean_header_value(name, "a Notifier webhook_headers name"): (
                header if isinstance(header, dg.EnvVar) else clean_header_value(header, _header_name(name))
            )
            for name, header in value.items()
        }

    @field_validator("slack_token", mode="before")
    @classmethod
    def _clean_slack_token(cls, value: Any) -> Any:
        return value if not value or isinstance(value, dg.EnvVar) else clean_header_value(value, _SLACK_TOKEN_NAME)

    @field_validator("slack_channel", mode="before")
    @classmethod
    def _clean_slack_channel(cls, value: Any) -> Any:
        return value if not value or isinstance(value, dg.EnvVar) else clean_text(value, _SLACK_CHANNEL_NAME)

    @field_validator("slack_api_url", mode="before")
    @classmethod
    def _clean_slack_api_url(cls, value: Any) -> Any:
        return value if isinstance(value, dg.EnvVar) else clean_url(value, "Notifier slack_api_url")

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.initial_backoff_s, self.backoff_multiplier)

    @property
    def channels(self) -> list[str]:
        """The channels an event goes to with this configuration."""
        active = ["run_log"]
        if _resolved(self.webhook_url):
            active.append("webhook")
        if _resolved(self.slack_token) and _resolved(self.slack_channel):
            active.append("slack")
        return active

    def notify(self, event: NotificationEvent, log: Any = None) -> DeliveryReport:
        """Send `event` to every configured channel; `log` is `context.log` or any logging.Logger."""
        logger = log if log is not None else dg.get_dagster_logger(_DEFAULT_LOGGER_NAME)
        payload = to_payload(event)
        deliveries = [self._to_run_log(payload, logger)]
        channels = self.channels
        if "webhook" in channels:
            deliveries.append(self._to_webhook(payload))
        if "slack" in channels:
            deliveries.append(self._to_slack(payload))
        for delivery in deliveries:
            if not delivery.delivered:
                logger.warning(
                    f"notification {payload['event']!r} not delivered to channel {delivery.channel!r} "
                    f"({delivery.target}) after {delivery.attempts} attempt(s): {delivery.error}; the run goes on"
                )
        return DeliveryReport(event=payload["event"], deliveries=tuple(deliveries))

    def _to_run_log(self, payload: dict[str, Any], logger: Any) -> ChannelDelivery:
        write = logger.info if payload["severity"] == "info" else logger.warning
        write(f"[{payload['event']}] {payload['title']}: {payload['text']}")
        return ChannelDelivery(channel="run_log", delivered=True, attempts=1)

    def _to_webhook(self, payload: dict[str, Any]) -> ChannelDelivery:
        raw_url = _resolved(self.webhook_url) or ""
        raw_headers = [_resolved(value) for value in self.webhook_headers.values()]
        secrets = [*url_secrets(raw_url), *raw_headers]
        try:
            url, headers = self._webhook_request()
        except NotifierSettingError as error:
            return ChannelDelivery("webhook", False, 0, url_origin(raw_url), _error_text(error, secrets))
        send = partial(post_json, url, payload, headers, self.timeout_s)
        return self._delivery("webhook", url_origin(url), call_with_retries(send, self.retry_policy), secrets)

    def _webhook_request(self) -> tuple[str, dict[str, str]]:
        """The URL and headers to send with, cleaned: the fields may still hold EnvVars outside a run."""
        url = clean_url(_resolved(self.webhook_url) or "", _WEBHOOK_URL_NAME)
        headers = {
            name: clean_header_value(_resolved(value) or "", _header_name(name))
            for name, value in self.webhook_headers.items()
        }
        return url, headers

    def _to_slack(self, payload: dict[str, Any]) -> ChannelDelivery:
        raw_token = _resolved(self.slack_token) or ""
        secrets = [raw_token, *url_secrets(self.slack_api_url)]
        try:
            channel = clean_text(_resolved(self.slack_channel) or "", _SLACK_CHANNEL_NAME)
            token = clean_header_value(raw_token, _SLACK_TOKEN_NAME)
        except NotifierSettingError as error:
            return ChannelDelivery("slack", False, 0, url_origin(self.slack_api_url), _error_text(error, secrets))
        target = f"{channel} at {url_origin(self.slack_api_url)}"
        from asset_platform.notify.slack import SlackApiResource, post_slack

        slack = SlackApiResource(token=token, base_url=self.slack_api_url, timeout_s=self.timeout_s)
        send = partial(post_slack, slack.get_client(), channel, payload)
        return self._delivery("slack", target, call_with_retries(send, self.retry_policy), secrets)

    @staticmethod
    def _delivery(channel: str, target: str, outcome: AttemptOutcome, secrets: list[str | None]) -> ChannelDelivery:
        error = None if outcome.error is None else _error_text(outcome.error, secrets)
        return ChannelDelivery(channel, outcome.delivered, outcome.attempts, target, error)


def notifier_from_env(**settings: Any) -> Notifier:
    """A Notifier with the channels whose environment variables are set.

    Set variables are bound as `dg.EnvVar`, so their values are read in the run
    and the UI shows names, not secrets; unset ones leave the channel off instead
    of failing the run's config. `settings` are other `Notifier` fields.

    The values are checked here too, so a malformed secret fails when the
    definitions load, with the variable's name and without its value.
    """
    env = os.environ
    fields: dict[str, Any] = {}
    if env.get(WEBHOOK_URL_ENV):
        fields["webhook_url"] = _checked_env_var(WEBHOOK_URL_ENV, clean_url)
        if env.get(WEBHOOK_AUTH_ENV):
            fields["webhook_headers"] = {"Authorization": _checked_env_var(WEBHOOK_AUTH_ENV, clean_header_value)}
    if env.get(SLACK_TOKEN_ENV) and env.get(SLACK_CHANNEL_ENV):
        fields["slack_token"] = _checked_env_var(SLACK_TOKEN_ENV, clean_header_value)
        fields["slack_channel"] = _checked_env_var(SLACK_CHANNEL_ENV, clean_text)
    return Notifier(**{**fields, **settings})


def _checked_env_var(variable: str, clean: Callable[[str, str], str]) -> dg.EnvVar:
    """The variable bound as an EnvVar, after checking its value (errors name it, never show the value)."""
    clean(os.environ[variable], f"${variable}")
    return dg.EnvVar(variable)
