"""The delivery channels beyond the run log: a generic JSON webhook and Slack."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster_slack import SlackResource
from pydantic import Field
from slack_sdk.errors import SlackApiError
from slack_sdk.web.client import WebClient

from asset_platform.notify.redaction import url_origin
from asset_platform.notify.retry import PermanentDeliveryError

SLACK_API_URL = "https://slack.com/api/"
USER_AGENT = "asset-platform-notifier/1"
_SEVERITY_ICON = {"info": ":information_source:", "warning": ":warning:", "error": ":rotating_light:"}


@dataclass(frozen=True)
class ChannelDelivery:
    """How one channel fared. `target` is a URL's origin (scheme://host[:port]) or a Slack
    channel, never a full URL: webhook URLs often carry their secret in the path."""

    channel: str
    delivered: bool
    attempts: int
    target: str | None = None
    error: str | None = None


def _is_retryable_status(status: int) -> bool:
    # Other 4xx mean the request itself is wrong; repeating it only adds latency.
    return status >= 500 or status in (408, 429)


def url_host(url: str) -> str:
    """The host (and port) of a URL, safe to put in logs (`url_origin` adds the scheme)."""
    return url_origin(url).partition("://")[2] or "<no host>"


def post_json(url: str, payload: Mapping[str, Any], headers: Mapping[str, str], timeout_s: float) -> None:
    """POST `payload` as JSON; raise on anything but a 2xx answer."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PermanentDeliveryError(f"webhook URL must be http:// or https://, got {url_origin(url)!r}")
    body = json.dumps(payload, default=str).encode("utf-8")
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as error:
        error.close()
        if not _is_retryable_status(error.code):
            raise PermanentDeliveryError(f"HTTP {error.code} {error.reason}") from error
        raise


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
        if not _is_retryable_status(status):
            raise PermanentDeliveryError(f"Slack answered {status}: {error.response.get('error')}") from error
        raise
