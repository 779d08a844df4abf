"""Prometheus metrics of a served model, per model and answering version, on MLServer's metrics server.

MLServer serves `prometheus_client`'s default registry at `/metrics` on its own port (`metrics_port`)
when it runs in one process, beside its REST metrics (`rest_server_requests_total`, a latency
histogram per path and status). Its model metrics do not fit: they are labelled with the version in
the model's settings (here always empty, as the champion changes under one name) and its duration is
a Summary, which Prometheus cannot turn into p50/p99 across servers. So the runtime counts here, with
the champion version that answered: requests, refused requests by status, rows, a latency histogram,
and the batches of served traffic landed; for a canary (canary.py) its assigned share and the requests it
failed (which the champion answered). Registered on the default registry, served by MLServer.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

_LABELS = ("model", "version")
# Inference from the request's arrival at the runtime to its answer (contract check, scoring, capture's fsync).
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("asset_platform_serving_requests", "Inference requests received, answered or refused.", _LABELS)
ERRORS = Counter(
    "asset_platform_serving_request_errors",
    "Inference requests refused, by HTTP status (4xx: the request; 503: capture could not keep up; 500: a bug).",
    (*_LABELS, "code"),
)
ROWS = Counter("asset_platform_serving_rows", "Rows scored in answered requests.", _LABELS)
LATENCY = Histogram(
    "asset_platform_serving_request_duration_seconds",
    "Time to answer an inference request in the runtime (contract check, scoring, capture).",
    _LABELS,
    buckets=LATENCY_BUCKETS_S,
)
BATCHES = Counter(
    "asset_platform_serving_batches_landed", "Batches of served traffic landed in production.", ("model",)
)

CANARY = Gauge(
    "asset_platform_serving_canary_fraction",
    "The share of requests a canary (the challenger in shadow) is assigned; 0 once it ended or was withdrawn.",
    _LABELS,
)
CANARY_FAILURES = Counter(
    "asset_platform_serving_canary_failures",
    "Requests a canary failed to score; the champion answered them (and they count in its requests).",
    _LABELS,
)


_ANSWERED: dict[tuple[str, str], tuple[Any, Any, Any]] = {}  # per (model, version): its three children


def answered(model: str, version: str, rows: int, seconds: float) -> None:
    # The children are looked up once per version: `labels()` validates and locks on every call, three times
    # per answered request otherwise.
    children = _ANSWERED.get((model, version))
    if children is None:
        labels = (model, version)
        children = _ANSWERED[labels] = (REQUESTS.labels(*labels), ROWS.labels(*labels), LATENCY.labels(*labels))
    requests, counted_rows, latency = children
    requests.inc()
    counted_rows.inc(rows)
    latency.observe(seconds)


def refused(model: str, version: str, code: int) -> None:
    REQUESTS.labels(model, version).inc()
    ERRORS.labels(model, version, str(code)).inc()


def canary(model: str, version: str, fraction: float) -> None:
    CANARY.labels(model, version).set(fraction)


def canary_failed(model: str, version: str) -> None:
    CANARY_FAILURES.labels(model, version).inc()


def batch_landed(model: str) -> None:
    BATCHES.labels(model).inc()
