"""The `Notifier` resource: every event to the run log, and to a webhook and Slack when configured."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import dagster as dg
from pydantic import Field

from asset_platform.notify.channels import (
    SLACK_API_URL,
    ChannelDelivery,
    SlackApiResource,
    post_json,
    post_slack,
    url_host,
)
from asset_platform.notify.events import NotificationEvent, to_payload
from asset_platform.notify.retry import AttemptOutcome, RetryPolicy, call_with_retries

WEBHOOK_URL_ENV = "ASSET_PLATFORM_WEBHOOK_URL"
WEBHOOK_AUTH_ENV = "ASSET_PLATFORM_WEBHOOK_AUTH"
SLACK_TOKEN_ENV = "ASSET_PLATFORM_SLACK_TOKEN"
SLACK_CHANNEL_ENV = "ASSET_PLATFORM_SLACK_CHANNEL"

_MAX_ERROR_CHARS = 300
# dagster.get_dagster_logger output is captured into the run log when called inside a run.
_DEFAULT_LOGGER_NAME = "asset_platform.notify"


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


def _error_text(error: Exception) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
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
        url = _resolved(self.webhook_url) or ""
        headers = {name: _resolved(value) or "" for name, value in self.webhook_headers.items()}
        send = partial(post_json, url, payload, headers, self.timeout_s)
        return self._delivery("webhook", url_host(url), call_with_retries(send, self.retry_policy))

    def _to_slack(self, payload: dict[str, Any]) -> ChannelDelivery:
        channel = _resolved(self.slack_channel) or ""
        slack = SlackApiResource(
            token=_resolved(self.slack_token), base_url=self.slack_api_url, timeout_s=self.timeout_s
        )
        send = partial(post_slack, slack.get_client(), channel, payload)
        target = f"{channel} at {url_host(self.slack_api_url)}"
        return self._delivery("slack", target, call_with_retries(send, self.retry_policy))

    @staticmethod
    def _delivery(channel: str, target: str, outcome: AttemptOutcome) -> ChannelDelivery:
        error = None if outcome.error is None else _error_text(outcome.error)
        return ChannelDelivery(channel, outcome.delivered, outcome.attempts, target, error)


def notifier_from_env(**settings: Any) -> Notifier:
    """A Notifier with the channels whose environment variables are set.

    Set variables are bound as `dg.EnvVar`, so their values are read in the run
    and the UI shows names, not secrets; unset ones leave the channel off instead
    of failing the run's config. `settings` are other `Notifier` fields.
    """
    env = os.environ
    fields: dict[str, Any] = {}
    if env.get(WEBHOOK_URL_ENV):
        fields["webhook_url"] = dg.EnvVar(WEBHOOK_URL_ENV)
        if env.get(WEBHOOK_AUTH_ENV):
            fields["webhook_headers"] = {"Authorization": dg.EnvVar(WEBHOOK_AUTH_ENV)}
    if env.get(SLACK_TOKEN_ENV) and env.get(SLACK_CHANNEL_ENV):
        fields["slack_token"] = dg.EnvVar(SLACK_TOKEN_ENV)
        fields["slack_channel"] = dg.EnvVar(SLACK_CHANNEL_ENV)
    return Notifier(**{**fields, **settings})
