"""The audit log: one JSON line per mutation attempt, allowed or denied, appended to a file (and stdout).

A line holds the time (UTC, ISO 8601), the user and groups, the GraphQL operation
and mutation field, the sha256 of the request's variables (the variables
themselves may hold configuration or cursors that are nobody's business in a
log), the decision and its reason, the result type and the id of a launched run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

AUDIT_FILE = Path("audit") / "access.jsonl"


def variables_sha256(variables: Mapping[str, Any] | None) -> str:
    canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """Appends records; one lock per process so concurrent requests never interleave a line."""

    def __init__(self, path: Path, to_stdout: bool = False):
        self.path = Path(path)
        self.to_stdout = to_stdout
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record: Any) -> dict[str, Any]:
        line = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **record}
        text = json.dumps(line, default=str, sort_keys=False) + "\n"
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(text)
            if self.to_stdout:
                sys.stdout.write("audit " + text)
                sys.stdout.flush()
        return line


def read_audit(path: Path, user: str | None = None, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    """The records of `path`, oldest first, filtered by user and time; a damaged line raises naming it."""
    if not path.exists():
        return
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    with open(path, encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"{path}:{number}: not a JSON line; the audit log is damaged there") from None
            if user is not None and record.get("user") != user:
                continue
            if since is not None and dt.datetime.fromisoformat(record["time"]) < since:
                continue
            yield record
