"""Runs the demo launched are re-executed from the UI, as any daemon-launched run.

Issue 11, degraded case: runs the demo or the CLI executed in-process carried no
code-location origin, and the UI's re-execute answered "CheckError: Expected
non-None value". The demo now launches its runs through the code location
(app/launcher.py).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from asset_platform.registry.trigger import TRIGGER_TAG
from tests.browser import requires_chromium
from tests.ui.conftest import NAMES, Demo
from tests.ui.pages import UI_TIMEOUT_MS, save_screenshot
from tests.ui.queries import runs_with_tag
from tests.ui.webserver import Webserver

pytestmark = requires_chromium


def test_the_demos_baseline_training_run_is_re_executed_from_its_run_page(page: Page, webserver: Webserver, demo: Demo):
    [parent] = [run for run in runs_with_tag(webserver, TRIGGER_TAG, "demo") if run["jobName"] == NAMES.training_job]
    page.goto(f"{webserver.url}/runs/{parent['runId']}")
    expect(page.get_by_text(f"Run of {parent['jobName']}")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name=re.compile(r"^Re-execute all")).click()
    # The UI opens the new run's page: the re-execution was created, not refused.
    expect(page).not_to_have_url(re.compile(parent["runId"]), timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text(f"Run of {parent['jobName']}")).to_be_visible(timeout=UI_TIMEOUT_MS)
    save_screenshot(page, "reexecuted_demo_run")
    [child] = runs_with_tag(webserver, "dagster/parent_run_id", parent["runId"])
    assert child["jobName"] == parent["jobName"]
    assert child["runId"] in page.url
    # The served instance queues runs for a daemon, which this test does not run: it stays queued.
    assert child["status"] == "QUEUED"
    assert child["tags"][TRIGGER_TAG] == "demo"  # the parent's tags are kept, as Dagster does for any re-execution
