"""Fairness and explanations where an auditor looks: the model, evaluation and champion pages."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser import requires_chromium
from tests.ui.conftest import NAMES
from tests.ui.pages import (
    UI_TIMEOUT_MS,
    close_dialog,
    expect_image_loaded,
    metadata_row,
    open_markdown,
    save_screenshot,
)
from tests.ui.webserver import Webserver

pytestmark = requires_chromium

MODEL = NAMES.key("lgbm_model").to_user_string()
EVALUATION = NAMES.key("evaluation").to_user_string()
CHAMPION = NAMES.champion.to_user_string()
# Markdown and text values of each materialization, newest first: what the pages must show.
_MATERIALIZATIONS = """
query Materializations($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetMaterializations {
        runId
        timestamp
        metadataEntries {
          label
          ... on MarkdownMetadataEntry { mdStr }
          ... on TextMetadataEntry { text }
        }
      }
    }
  }
}"""


def _materializations(webserver: Webserver, key: str) -> list[dict[str, Any]]:
    node = webserver.graphql(_MATERIALIZATIONS, {"key": {"path": key.split("/")}})["assetNodeOrError"]
    return [
        {
            **event,
            "metadata": {e["label"]: e.get("mdStr", e.get("text")) for e in event["metadataEntries"]},
        }
        for event in node["assetMaterializations"]
    ]


def test_model_page_shows_its_attributions(page: Page, webserver: Webserver):
    [latest, *_] = _materializations(webserver, MODEL)
    assert latest["metadata"]["explanations/method"] == "lightgbm pred_contrib (TreeSHAP)"
    page.goto(f"{webserver.url}/assets/{MODEL}")
    chart = open_markdown(page, "explanations/chart")
    assert expect_image_loaded(chart.get_by_role("img", name=re.compile("attribution"))) > 0
    save_screenshot(page, "model-attributions")


def test_evaluation_page_shows_per_group_figures_with_intervals(page: Page, webserver: Webserver):
    [latest, *_] = _materializations(webserver, EVALUATION)
    first_group = re.search(r"\| (device=\S+) ", latest["metadata"]["fairness/groups"]).group(1)
    page.goto(f"{webserver.url}/assets/{EVALUATION}")
    groups = open_markdown(page, "fairness/groups")
    expect(groups).to_contain_text(first_group, timeout=UI_TIMEOUT_MS)
    expect(groups.get_by_role("columnheader", name="selection_rate")).to_be_visible()
    save_screenshot(page, "evaluation-fairness-groups")
    close_dialog(page, groups)
    chart = open_markdown(page, "fairness/chart_device")
    assert expect_image_loaded(chart.get_by_role("img", name=re.compile("by device"))) > 0
    save_screenshot(page, "evaluation-fairness-chart")


def test_champion_page_shows_the_fairness_rule_beside_the_gate(page: Page, webserver: Webserver):
    gated = [event for event in _materializations(webserver, CHAMPION) if "fairness" in event["metadata"]]
    assert gated, "no gate decision compared a challenger with the champion"
    event = gated[0]
    assert "report only" in event["metadata"]["fairness"] and "device" in event["metadata"]["fairness"]
    page.goto(f"{webserver.url}/assets/{CHAMPION}?view=events&time={event['timestamp']}")
    expect(page.get_by_text(f"Materialized in run {event['runId'][:8]}")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(metadata_row(page, "fairness/blocked")).to_contain_text("false")
    # A short markdown value is shown in place: the rule's verdict per attribute, beside the gate's comparison.
    expect(metadata_row(page, "fairness")).to_contain_text("Fairness rule passes", timeout=UI_TIMEOUT_MS)
    expect(metadata_row(page, "fairness")).to_contain_text("largest auc gap")
    save_screenshot(page, "champion-fairness-rule")
    groups = open_markdown(page, "fairness/groups")
    expect(groups.get_by_role("cell", name="challenger").first).to_be_visible()
    close_dialog(page, groups)
    chart = open_markdown(page, "fairness/chart_device")
    assert expect_image_loaded(chart.get_by_role("img", name=re.compile("by device"))) > 0
