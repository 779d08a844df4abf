"""A plain V2 client for the serving tests: contract rows as V2 inputs, and HTTP with the standard library."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pandas as pd

TIMEOUT_S = 30


def v2_inputs(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One V2 input per column: numbers as FP64/INT64 (missing as null), times as ISO strings, text as BYTES."""
    inputs = []
    for name, values in frame.items():
        if pd.api.types.is_float_dtype(values):
            datatype, data = "FP64", [None if pd.isna(v) else float(v) for v in values]
        elif pd.api.types.is_integer_dtype(values):
            datatype, data = "INT64", [int(v) for v in values]
        elif pd.api.types.is_datetime64_any_dtype(values):
            datatype, data = "BYTES", [v.isoformat() for v in values]
        else:
            datatype, data = "BYTES", [str(v) for v in values]
        inputs.append({"name": name, "shape": [len(values)], "datatype": datatype, "data": data})
    return inputs


def post(
    url: str, payload: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """POST JSON (or raw bytes); the status and the decoded body, also for 4xx and 5xx."""
    data = raw if raw is not None else json.dumps(payload).encode()
    sent = {"content-type": "application/json", **(headers or {})}
    return _send(urllib.request.Request(url, data=data, headers=sent, method="POST"))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return _send(urllib.request.Request(url, headers=headers or {}))


def _send(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = response.read()
            return response.status, json.loads(body) if body else {}
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, {"error": body.decode(errors="replace")}
