"""Delivery to Slack through dagster-slack's resource, with a configurable API base URL."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dagster_slack import SlackResource
from pydantic import Field
from slack_sdk.errors import SlackApiError
from slack_sdk.web.client import WebClient

from asset_platform.notify.channels import SLACK_API_URL, is_retryable_status
from asset_platform.notify.retry import PermanentDeliveryError

_SEVERITY_ICON = {"info": ":information_source:", "warning": ":warning:", "error": ":rotating_light:"}


class SlackApiResource(SlackResource):
    """dagster-slack's `SlackResource` with a configurable API base URL and timeout.

    `SlackResource.get_client()` builds `WebClient(token)`, fixed to Slack's public
    URL; the base URL lets deployments go through a gateway and tests through a
    local server. slack_sdk's own retry handlers are switched off because the
    Notifier retries, and attempts must stay bounded and countable.
    """

    base_url: str = Field(default=SLACK_API_URL, description="Slack Web API base URL.")
    timeout_s: float = Field(default=10.0, gt=0, description="Seconds to wait for each Slack API request.")

    def get_client(self) -> WebClient:
        timeout = max(1, math.ceil(self.timeout_s))
        return WebClient(token=self.token, base_url=self.base_url, timeout=timeout, retry_handlers=[])


def slack_text(payload: Mapping[str, Any]) -> str:
    """The message as Slack mrkdwn: title, sentence, then where it came from."""
    icon = _SEVERITY_ICON.get(payload["severity"], "")
    origin = f"asset `{payload['asset']}`" + (f" · run `{payload['run_id']}`" if payload["run_id"] else "")
    return f"{icon} *{payload['title']}*\n{payload['text']}\n{origin}".strip()


def post_slack(client: WebClient, channel: str, payload: Mapping[str, Any]) -> None:
    """Post the message to `channel`; raise on failure, permanently when Slack refused it."""
    try:
        client.chat_postMessage(channel=channel, text=slack_text(payload), mrkdwn=True, unfurl_links=False)
    except SlackApiError as error:
        status = error.response.status_code
        if not is_retryable_status(status):
            raise PermanentDeliveryError(f"Slack answered {status}: {error.response.get('error')}") from error
        raise
