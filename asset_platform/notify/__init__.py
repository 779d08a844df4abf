"""Notifications: platform events to the run log, a JSON webhook and Slack, best effort."""

from asset_platform.notify.channels import ChannelDelivery
from asset_platform.notify.events import (
    PAYLOAD_FIELDS,
    CanaryWithdrawn,
    DataStale,
    DriftConfirmed,
    NotificationEvent,
    RetrainingOutcome,
    RetrainingStarted,
    Severity,
    to_payload,
)
from asset_platform.notify.notifier import (
    SLACK_CHANNEL_ENV,
    SLACK_TOKEN_ENV,
    WEBHOOK_AUTH_ENV,
    WEBHOOK_URL_ENV,
    DeliveryReport,
    Notifier,
    notifier_from_env,
)
from asset_platform.notify.retry import RetryPolicy

__all__ = [
    "PAYLOAD_FIELDS",
    "SLACK_CHANNEL_ENV",
    "SLACK_TOKEN_ENV",
    "WEBHOOK_AUTH_ENV",
    "WEBHOOK_URL_ENV",
    "CanaryWithdrawn",
    "ChannelDelivery",
    "DataStale",
    "DeliveryReport",
    "DriftConfirmed",
    "NotificationEvent",
    "Notifier",
    "RetrainingOutcome",
    "RetrainingStarted",
    "RetryPolicy",
    "Severity",
    "SlackApiResource",
    "notifier_from_env",
    "to_payload",
]


def __getattr__(name: str):
    # Imported on first use: dagster-slack is not needed unless Slack is configured.
    if name == "SlackApiResource":
        from asset_platform.notify.slack import SlackApiResource

        return SlackApiResource
    raise AttributeError(name)
