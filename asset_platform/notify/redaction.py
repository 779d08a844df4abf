"""Keeping secrets out of text: settings cleaned before use, URLs shown by origin, errors redacted.

Webhook URLs often carry their token in the path or query (Slack's do), header
values are credentials, and secrets mounted from files end in a newline. A value
with a control character inside makes `http.client` raise an error that quotes
it, so values are checked before any request, and every error text that leaves
the notifier has them removed.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

REDACTED = "<redacted>"
# Visible ASCII and space: what an HTTP header value or a token may hold.
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")
# Control characters (C0, DEL, C1): never part of a URL, a channel name or a token.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class NotifierSettingError(ValueError):
    """A webhook or Slack setting that cannot be used; the message names it, never its value."""


def _refuse(what: str, problem: str) -> NotifierSettingError:
    return NotifierSettingError(
        f"{what} {problem}; leading and trailing whitespace (the newline at the end of a secret file) is "
        "removed, so this is inside the value: fix the secret or variable it comes from (its value is not shown)"
    )


def clean_header_value(value: str, what: str) -> str:
    """`value` without surrounding whitespace; raises if it is not visible ASCII and spaces."""
    cleaned = value.strip()
    if not _HEADER_VALUE.match(cleaned):
        raise _refuse(what, "contains a control character or non-ASCII text, which HTTP headers cannot carry")
    return cleaned


def clean_text(value: str, what: str) -> str:
    """`value` without surrounding whitespace; raises if a control character is left inside."""
    cleaned = value.strip()
    if _CONTROL.search(cleaned):
        raise _refuse(what, "contains a control character")
    return cleaned


def clean_url(value: str, what: str) -> str:
    """An http(s) URL without surrounding whitespace; raises if it has no host or contains spaces or controls."""
    cleaned = value.strip()
    if _CONTROL.search(cleaned) or " " in cleaned or not cleaned.isascii():
        raise _refuse(what, "contains a space, a control character or non-ASCII text (percent-encode them)")
    parts = urllib.parse.urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifierSettingError(f"{what} must be an http:// or https:// URL with a host, got {url_origin(cleaned)}")
    return cleaned


def url_origin(url: str) -> str:
    """`scheme://host[:port]` of a URL: what logs may show of it (no userinfo, path, query or fragment)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<unparsable URL>"
    if not host:
        return "<URL without a host>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may hold a token: everything but its origin."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    after_origin = url.split(parts.netloc, 1)[-1] if parts.netloc else url
    userinfo = parts.netloc.rpartition("@")[0]
    return [url, after_origin, parts.path, parts.query, parts.fragment, userinfo]


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (and its escaped form, as reprs and bytes show it) replaced by `REDACTED`."""
    forms: set[str] = set()
    for secret in secrets:
        for part in (secret or "", (secret or "").strip()):
            # "/" alone is no secret, and replacing it would garble the rest of the message.
            if len(part) > 1:
                forms.update({part, part.encode("unicode_escape").decode("ascii")})
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text
