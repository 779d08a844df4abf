"""The pages' figures and HTML from recorded drift: pure functions, no webserver."""

from __future__ import annotations

import json
import re

from asset_platform.app.pages.figures import (
    LEVELS,
    PLOTLY_JS,
    DriftBatch,
    drift_heatmap,
    fleet_table,
    metric_figure,
    render_page,
    verdict_strip,
)


def test_the_heat_map_colours_each_cell_by_its_level_and_carries_its_psi() -> None:
    batches = [
        DriftBatch("2026-01-01", "pass", {"price": (0.02, "pass"), "device": (0.01, "pass")}, 0.8, 0.79),
        DriftBatch("2026-01-02", "error", {"price": (0.9, "alert"), "device": (None, "error: missing")}, 0.7),
    ]
    figure = drift_heatmap("shop", batches)["data"][0]
    assert figure["x"] == ["2026-01-01", "2026-01-02"] and figure["y"] == ["device", "price"]
    assert figure["z"] == [[0, LEVELS.index("error")], [0, LEVELS.index("alert")]]
    assert figure["customdata"][1] == [0.02, 0.9]
    metric = metric_figure("shop", "roc_auc", batches)
    assert [trace["name"] for trace in metric["data"]] == ["estimated roc_auc", "realized roc_auc"]
    assert metric_figure("shop", "roc_auc", [DriftBatch("b", "warn")]) is None


def test_the_strip_puts_each_models_newest_batch_last() -> None:
    strip = verdict_strip(
        [("a", [DriftBatch("1", "pass"), DriftBatch("2", "error")]), ("b", [DriftBatch("9", "warn")])]
    )
    data = strip["data"][0]
    assert data["y"] == ["a", "b"] and data["x"][-1] == "last"
    assert data["z"] == [[0, 3], [None, 1]]


def test_a_page_embeds_its_figures_as_json_and_loads_plotly_from_this_server() -> None:
    row = {"model": "shop<x>", "task": "t", "champion": "abc", "champion_since": "", "realized": "", "estimated": ""}
    row |= {"open_retrains": 0, "last_decision": "promoted: better"}
    page = render_page("Fleet", fleet_table([row]), {"verdicts": {"data": [{"text": "</script>"}], "layout": {}}})
    assert f'<script src="{PLOTLY_JS}">' in page and "cdn" not in page.lower()
    assert "shop&lt;x&gt;" in page and 'href="/platform/models/shop<x>/drift"' not in page
    figures = json.loads(re.search(r'<script id="figures" type="application/json">(.*?)</script>', page, re.S)[1])
    assert figures["verdicts"]["data"][0]["text"] == "</script>"
