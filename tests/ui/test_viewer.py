"""Viewer mode (`make viewer`): a read-only webserver shows the audit trail but launches nothing."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser import requires_chromium
from tests.ui.conftest import NAMES
from tests.ui.pages import UI_TIMEOUT_MS, materialize_buttons, metadata_row
from tests.ui.queries import asset
from tests.ui.webserver import Webserver

pytestmark = requires_chromium
MODEL = NAMES.key("lgbm_model").to_user_string()


def test_viewer_cannot_launch_a_materialization(viewer_page: Page, viewer: Webserver):
    recorded = asset(viewer, MODEL)
    viewer_page.goto(f"{viewer.url}/assets/{MODEL}")
    # Wait for the page to be filled in, so an absent button means absent rather than not yet drawn.
    expect(viewer_page.get_by_text(recorded["description"])).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(metadata_row(viewer_page, "dvc/md5")).to_contain_text(recorded["dataVersion"], timeout=UI_TIMEOUT_MS)
    _expect_no_enabled_materialize(viewer_page)

    viewer_page.goto(f"{viewer.url}/asset-groups")
    expect(viewer_page.get_by_text(NAMES.group("registry"), exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    _expect_no_enabled_materialize(viewer_page)


def _expect_no_enabled_materialize(page: Page) -> None:
    buttons = materialize_buttons(page)
    for index in range(buttons.count()):
        expect(buttons.nth(index)).to_be_disabled(timeout=UI_TIMEOUT_MS)
