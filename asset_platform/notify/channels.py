"""The delivery channel beyond the run log that needs no client library: a generic JSON webhook.

Slack lives in `slack.py`, imported only when a Slack channel is configured
(slack_sdk and dagster-slack cost a third of a second at load).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asset_platform.notify.redaction import url_origin
from asset_platform.notify.retry import PermanentDeliveryError

SLACK_API_URL = "https://slack.com/api/"
USER_AGENT = "asset-platform-notifier/1"


@dataclass(frozen=True)
class ChannelDelivery:
    """How one channel fared. `target` is a URL's origin (scheme://host[:port]) or a Slack
    channel, never a full URL: webhook URLs often carry their secret in the path."""

    channel: str
    delivered: bool
    attempts: int
    target: str | None = None
    error: str | None = None


def is_retryable_status(status: int) -> bool:
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
        if not is_retryable_status(error.code):
            raise PermanentDeliveryError(f"HTTP {error.code} {error.reason}") from error
        raise
