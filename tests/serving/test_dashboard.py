"""The Grafana dashboard (deployments/grafana/serving.json) queries only metrics serve-model exposes."""

from __future__ import annotations

import json
import re

from asset_platform.serving import metrics
from tests import REPO_ROOT

DASHBOARD = REPO_ROOT / "deployments" / "grafana" / "serving.json"
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def _exposed() -> dict[str, set[str]]:
    """Each sample name the platform's serving metrics expose, with its labels."""
    exposed = {}
    for metric in (metrics.REQUESTS, metrics.ERRORS, metrics.ROWS, metrics.LATENCY, metrics.BATCHES):
        for family in metric.collect():
            labels = set(metric._labelnames)  # prometheus_client keeps declared label names only there
            for suffix in _SUFFIXES[family.type]:
                exposed[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return exposed


def test_every_panel_queries_exposed_metrics_by_their_labels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exposed = _exposed()
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Requests per second", "Latency p50 and p99", "Errors per second by status"} <= titles
    for expression in expressions:
        names = re.findall(r"asset_platform_serving_\w+", expression)
        assert names and set(names) <= set(exposed), expression
        for grouping in re.findall(r"by \(([^)]*)\)", expression):
            wanted = {label.strip() for label in grouping.split(",")}
            assert all(wanted <= exposed[name] for name in names), expression
    assert any("histogram_quantile(0.99" in expression for expression in expressions)
