"""The tuning page and the drift page's histograms, in Chromium.

On the `serve --auth` port over the demo home: ecommerce declares no tuning and deliveries has no
study there, so each tuning page says which (200, not an error); a drift cell clicked shows that
feature's reference and batch histograms from the drift asset's stored results. A tuning page with
trials is rendered from a small study in a temporary storage (tests/ui/offline.py). The screenshots
are README's (docs/screenshots/).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, expect

from asset_platform.app.pages.figures import drift_page, render_page, tuning_page
from asset_platform.app.pages.tuning_page import NO_STUDY, NO_TUNING, tuning_page_parts
from tests.browser import requires_chromium
from tests.ui.conftest import NAMES, PROXY_SECRET
from tests.ui.offline import ORIGIN, offline_page
from tests.ui.pages import drawn_figures, keep_screenshot, signed_in
from tests.ui.test_tuning_page_figures import DELIVERIES, VERSION, event_log, write_study
from tests.ui.test_tuning_page_figures import NAMES as DELIVERIES_NAMES

pytestmark = requires_chromium


def test_a_model_without_tuning_or_without_a_study_gets_a_page_saying_so(served: str, browser: Browser) -> None:
    with signed_in(browser, PROXY_SECRET, "auditor", "pages-tuning-none") as page:
        response = page.goto(f"{served}{tuning_page(NAMES.model)}")
        assert response is not None and response.status == 200
        expect(page.locator("p.empty")).to_contain_text(NO_TUNING)
        response = page.goto(f"{served}{tuning_page('deliveries')}")
        assert response is not None and response.status == 200
        expect(page.locator("p.empty")).to_contain_text(NO_STUDY)
        expect(page.get_by_role("link", name="deliveries/lightgbm_tuning in Dagster")).to_have_attribute(
            "href", "/assets/deliveries/lightgbm_tuning"
        )


def test_the_tuning_page_draws_the_trials_and_the_importances(browser: Browser, tmp_path: Path) -> None:
    url = write_study(tmp_path)
    title, body, figures = tuning_page_parts(event_log(tmp_path), DELIVERIES, DELIVERIES_NAMES, url)
    with offline_page(browser, "pages-tuning") as (page, served):
        served[tuning_page("deliveries")] = render_page(title, body, figures)
        page.goto(f"{ORIGIN}{tuning_page('deliveries')}")
        drawn = drawn_figures(page)
        assert set(drawn) == {"parcoords_lightgbm_model", "importance_lightgbm_model"}
        # One polyline per complete trial in the parallel coordinates, one bar per parameter.
        expect(page.locator("#parcoords_lightgbm_model .axis-title")).to_have_count(4)
        expect(page.locator("#importance_lightgbm_model .point")).to_have_count(3)
        best = page.locator("table.trials tbody tr").first
        expect(best).to_contain_text("best")
        expect(best.get_by_role("link", name=VERSION[:12])).to_have_attribute("href", "/platform/models/deliveries")
    keep_screenshot("pages-tuning")


def test_a_clicked_drift_cell_shows_that_features_reference_and_batch_histograms(served: str, browser: Browser) -> None:
    with signed_in(browser, PROXY_SECRET, "auditor", "pages-drift-histogram") as page:
        page.goto(f"{served}{drift_page(NAMES.model)}")
        heatmap = drawn_figures(page)["drift"]["data"][0]
        histograms = json.loads(page.locator("script#histograms").text_content() or "{}")
        assert set(histograms) == set(heatmap["x"]), "every batch's stored results give its histograms"
        drawn = page.locator("#histogram")
        expect(drawn.locator(".main-svg").first).to_be_visible()
        # The newest batch's feature of largest PSI is shown first; click the most drifted cell of the second batch.
        rows, columns = len(heatmap["y"]), len(heatmap["x"])
        column = min(1, columns - 1)
        row = max(range(rows), key=lambda index: heatmap["customdata"][index][column] or 0)
        feature, batch = heatmap["y"][row], heatmap["x"][column]
        box = page.locator("#drift .nsewdrag").first.bounding_box()
        assert box is not None
        page.mouse.click(
            box["x"] + box["width"] * (column + 0.5) / columns, box["y"] + box["height"] * (row + 0.5) / rows
        )
        page.mouse.move(0, 0)  # the cell's hover label off the screenshot
        expect(drawn).to_have_attribute("data-shown", f"{feature}|{batch}")
        shares = drawn.evaluate("element => element.data.map(trace => trace.y)")
        assert shares == [histograms[batch][feature]["reference"], histograms[batch][feature]["batch"]]
        expect(page.locator("#estimates tbody tr")).to_have_count(columns)
        # Each batch's estimate with its 95 % interval, as the predictions step recorded it.
        intervals = page.locator("#estimates tbody tr td:nth-child(4)").all_text_contents()
        assert all(" to " in cell for cell in intervals), intervals
        assert page.get_by_text("No interval of the label-free estimate is recorded").count() == 0
    keep_screenshot("pages-drift-histogram")


def test_the_dagster_asset_pages_link_to_the_matching_page(served: str) -> None:
    query = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
        ... on AssetNode { metadataEntries { label ... on UrlMetadataEntry { url } } } } }"""
    expected = {
        "champion": f"/platform/models/{NAMES.model}",
        "lgbm_model": f"/platform/models/{NAMES.model}",
        "drift": drift_page(NAMES.model),
        "deliveries/lightgbm_tuning": tuning_page("deliveries"),
    }
    for asset, url in expected.items():
        request = urllib.request.Request(
            f"{served}/graphql",
            data=json.dumps({"query": query, "variables": {"path": _path(asset)}}).encode(),
            headers={"Content-Type": "application/json", "X-Asset-Platform-Proxy-Secret": PROXY_SECRET,
                     "X-Forwarded-User": "auditor"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            entries = json.loads(response.read())["data"]["assetNodeOrError"]["metadataEntries"]
        assert {"label": "asset_platform/page", "url": url} in entries, (asset, entries)


def _path(asset: str) -> list[str]:
    return asset.split("/") if "/" in asset else [NAMES.model, asset]
