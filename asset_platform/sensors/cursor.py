"""Sensor cursors as small JSON documents, so a restarted daemon resumes exactly where it stopped."""

from __future__ import annotations

import json
from typing import Any


def load_cursor(raw: str | None) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def dump_cursor(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))
