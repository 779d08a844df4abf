"""The lineage UI as the audit trail: what an auditor looks for, found in a real browser.

Every expectation is read from the webserver's GraphQL API first, so each test
proves the page shows what Dagster recorded, not just that some text is there.
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser import requires_chromium
from tests.ui.conftest import NAMES
from tests.ui.pages import (
    UI_TIMEOUT_MS,
    close_dialog,
    expand_all_groups,
    expect_image_loaded,
    filter_lineage,
    materialize_buttons,
    metadata_row,
    open_markdown,
    save_screenshot,
)
from tests.ui.queries import asset, asset_names
from tests.ui.webserver import Webserver

pytestmark = requires_chromium

GRAPH_ASSETS = tuple(
    NAMES.key(asset).to_user_string()
    for asset in (
        "raw_data",
        "dataset",
        "feature_pipeline",
        "training_set",
        "holdout_set",
        "lgbm_model",
        "sklearn_model",
        "torch_model",
        "evaluation",
        "champion",
        "reference_profile",
        "batches",
        "predictions",
        "drift",
        "performance",
    )
)
MODEL = NAMES.key("lgbm_model").to_user_string()
CHAMPION = NAMES.champion.to_user_string()
DRIFT = NAMES.key("drift").to_user_string()
TRIGGER_TAGS = (
    "asset_platform/trigger",
    "asset_platform/evidence",
    "asset_platform/drift_reason",
    "asset_platform/reference_version",
)


def test_lineage_shows_every_asset(page: Page, webserver: Webserver):
    names = asset_names(webserver)
    assert set(GRAPH_ASSETS) <= set(names), f"assets missing from the code location: {set(GRAPH_ASSETS) - set(names)}"
    # Every model's lineage, as an auditor reads it with several models declared: filtered to the model's
    # key prefix (the whole location's graph is larger than the window, and only what is in view is drawn).
    by_model: dict[str, list[str]] = {}
    for name in names:
        prefix, _, _ = name.rpartition("/")
        by_model.setdefault(prefix, []).append(name)
    # The example model last: the screenshot shows its graph.
    for prefix in sorted(by_model, key=lambda p: (p == NAMES.model, p)):
        selection = f'key:"{prefix}/*"' if prefix else " or ".join(f'key:"{name}"' for name in by_model[prefix])
        page.goto(f"{webserver.url}/asset-groups")
        filter_lineage(page, selection)
        expand_all_groups(page)
        # A node shows the last part of its key; its group names the model.
        graph = page.locator("svg")
        for name in by_model[prefix]:
            expect(graph.get_by_text(name.split("/")[-1], exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)


def test_model_page_shows_version_metrics_and_learning_curve(page: Page, webserver: Webserver):
    recorded = asset(webserver, MODEL)
    metadata = recorded["assetMaterializations"][0]["metadata"]
    page.goto(f"{webserver.url}/assets/{MODEL}")
    expect(page.get_by_text(recorded["description"])).to_be_visible(timeout=UI_TIMEOUT_MS)
    # The DVC md5 shown is the data version Dagster tracks staleness and lineage by.
    expect(metadata_row(page, "dvc/md5")).to_contain_text(recorded["dataVersion"], timeout=UI_TIMEOUT_MS)
    for key in ("metrics/train_auc", "metrics/valid_auc", "metrics/holdout_auc", "metrics/holdout_ece"):
        expect(metadata_row(page, key)).to_contain_text(str(metadata[key]))
    # What README's docs/ui-model-page.png shows: the page with its metadata filtered to the holdout metrics.
    metadata_filter = page.get_by_placeholder("Filter metadata keys")
    metadata_filter.fill("holdout")
    expect(metadata_row(page, "metrics/train_auc")).to_be_hidden()
    save_screenshot(page, "model-holdout-metrics")
    metadata_filter.fill("")
    expect(metadata_row(page, "params")).to_contain_text('"learning_rate"')
    # The writable webserver offers to materialize: the read-only test's selector finds a real button.
    expect(materialize_buttons(page)).to_be_enabled()
    curve = open_markdown(page, "learning_curve")
    assert expect_image_loaded(curve.get_by_role("img", name=re.compile("learning curve"))) > 0


def test_retraining_run_shows_its_trigger(page: Page, webserver: Webserver, retraining_run: dict[str, Any]):
    tags = retraining_run["tags"]
    page.goto(f"{webserver.url}/runs/{retraining_run['runId']}")
    expect(page.get_by_text(f"Run of {retraining_run['jobName']}")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="View tags and config").click()
    dialog = page.get_by_role("dialog").filter(has_text="Run configuration")
    for key in TRIGGER_TAGS:
        expect(dialog).to_contain_text(f"{key}: {tags[key]}", timeout=UI_TIMEOUT_MS)
    expect(dialog).to_contain_text(tags["dagster/sensor_name"])
    expect(dialog).to_contain_text(tags["dagster/run_key"])


def test_champion_history_lists_every_decision(page: Page, webserver: Webserver, retraining_run: dict[str, Any]):
    history = asset(webserver, CHAMPION)["assetMaterializations"]
    decisions = {event["runId"]: event["metadata"]["decision"] for event in history}
    assert "promoted" in decisions.values(), f"no promotion in the champion's history: {decisions}"
    assert retraining_run["runId"] in decisions, f"the retraining run left no decision on {CHAMPION}"
    # Oldest first, so the page is left on the latest decision for the screenshot.
    for event in reversed(history):
        page.goto(f"{webserver.url}/assets/{CHAMPION}?view=events&time={event['timestamp']}")
        expect(page.get_by_text(f"Materialized in run {event['runId'][:8]}")).to_be_visible(timeout=UI_TIMEOUT_MS)
        for key in ("decision", "reason", "changed_by", "champion_version"):
            expect(metadata_row(page, key)).to_contain_text(str(event["metadata"][key]))


def test_drift_evidence_shows_feature_table_and_histograms(
    page: Page, webserver: Webserver, retraining_run: dict[str, Any]
):
    batch = retraining_run["tags"]["asset_platform/evidence"].split(",")[0]
    (event,) = asset(webserver, DRIFT, partition=batch)["assetMaterializations"]
    drifted = json.loads(event["metadata"]["assessment"])["drifted_features"]
    page.goto(f"{webserver.url}/assets/{DRIFT}?view=partitions&partition={batch}")
    expect(metadata_row(page, "status")).to_contain_text(event["metadata"]["status"], timeout=UI_TIMEOUT_MS)
    features = open_markdown(page, "features")
    expect(features.get_by_role("columnheader", name="PSI")).to_be_visible()
    for name in drifted:
        expect(features.get_by_role("row").filter(has=page.get_by_text(name, exact=True))).to_be_visible()
    save_screenshot(page, "drift-features")
    close_dialog(page, features)
    histograms = open_markdown(page, "histograms")
    # The most drifted feature comes first; its alt text names it.
    first = histograms.get_by_role("img", name=re.compile(r" reference vs batch$")).first
    assert expect_image_loaded(first) > 0
    assert first.get_attribute("alt").removesuffix(" reference vs batch") in drifted


def test_fleet_overview_lists_every_declared_model(page: Page, webserver: Webserver):
    from asset_platform.lifecycle.overview import OVERVIEW_KEY

    key = OVERVIEW_KEY.to_user_string()
    assert asset(webserver, key)["assetMaterializations"], "the demo's daemon ticks never refreshed the overview"
    page.goto(f"{webserver.url}/assets/{key}")
    models = metadata_row(page, "models")
    # Two declared models in one code location: the trained example and the YAML one with no champion yet.
    for model, expected in (("ecommerce", "binary classification (auc)"), ("deliveries", "none yet")):
        row = models.get_by_role("row").filter(has=page.get_by_role("cell", name=model, exact=True))
        expect(row).to_contain_text(expected, timeout=UI_TIMEOUT_MS)
    save_screenshot(page, "fleet-overview")
