"""Ways of reading Dagster's pages the tests share: metadata rows, markdown dialogs, images."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests import REPO_ROOT

UI_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1400, "height": 900}
ARTIFACTS = REPO_ROOT / "artifacts" / "ui"
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


def save_screenshot(page: Page, name: str) -> None:
    """artifacts/ui/<name>.png: what the page showed, for a person to look at (and for docs/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    file_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"
    # Dialogs fade in: fast-forward the transition so the picture is of the settled page.
    page.screenshot(path=ARTIFACTS / file_name, full_page=True, animations="disabled")


@contextmanager
def signed_in(browser: Browser, secret: str, user: str, screenshot: str) -> Iterator[Page]:
    """A tab that sends an authenticating proxy's headers (as oauth2-proxy adds them) on every request."""
    headers = {"X-Asset-Platform-Proxy-Secret": secret, "X-Forwarded-User": user}
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=headers, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        save_screenshot(page, screenshot)
        context.close()


def metadata_row(page: Page, key: str) -> Locator:
    """The row of a metadata table whose key is exactly `key`."""
    # A cell, not any text: a table-valued entry (the champion's history) has column headers with these names.
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))


def open_markdown(page: Page, key: str) -> Locator:
    """Open a markdown metadata value (shown as "[Show Markdown]") and return its dialog."""
    metadata_row(page, key).get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog").filter(has_text=key)
    expect(dialog).to_be_visible(timeout=UI_TIMEOUT_MS)
    return dialog


def close_dialog(page: Page, dialog: Locator) -> None:
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden(timeout=UI_TIMEOUT_MS)


def expect_image_loaded(image: Locator) -> int:
    """Wait until the <img> has decoded pixels; returns its natural width."""
    expect(image).to_be_visible(timeout=UI_TIMEOUT_MS)
    image.page.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=image.element_handle(), timeout=UI_TIMEOUT_MS
    )
    return image.evaluate("image => image.naturalWidth")


def materialize_buttons(page: Page) -> Locator:
    """The buttons that launch a materialization: "Materialize", "Materialize all…", "Materialize…"."""
    return page.get_by_role("button").filter(has_text=re.compile(r"^Materialize"))


def filter_lineage(page: Page, selection: str) -> None:
    """Type an asset selection (`key:"ecommerce/*"`) into the lineage page's filter, as a user does."""
    # The filter is a CodeMirror editor: its input takes the keys once the editor has the focus.
    page.locator(".CodeMirror").first.click()
    page.keyboard.type(selection)
    page.keyboard.press("Enter")
    # The lineage page keeps the selection in its path (`/asset-groups~<selection>/`).
    expect(page).to_have_url(re.compile(r"/asset-groups~"), timeout=UI_TIMEOUT_MS)


def expand_all_groups(page: Page) -> None:
    """Expand the lineage graph's groups from its settings menu (a graph of one group has none to expand)."""
    # The graph starts with its groups collapsed; a user expands them from this menu. After a graph
    # without groups the menu may offer "Collapse all groups" first: reset, then expand.
    settings = page.get_by_role("button", name="settings", exact=True)
    _choose_from_menu(page, settings, "Collapse all groups")
    _choose_from_menu(page, settings, "Expand all groups")


def _choose_from_menu(page: Page, opener: Locator, item_name: str) -> bool:
    """Open the menu and click `item_name` if it offers it; False when it does not.

    The graph re-renders while it lays out, which can replace the open menu under
    the pointer: then the menu is closed and opened again (three tries at most).
    """
    for _attempt in range(3):
        opener.click()
        expect(page.get_by_role("menuitem").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        item = page.get_by_role("menuitem", name=re.compile(item_name))
        if not item.count():
            page.keyboard.press("Escape")
            return False
        try:
            item.click(timeout=5_000)
            return True
        except PlaywrightError:
            page.keyboard.press("Escape")
    raise AssertionError(f"the menu item {item_name!r} kept moving away from the pointer")


def drawn_figures(page: Page) -> dict[str, Any]:
    """The Plotly figures a platform page embeds, once plotly.js has drawn each of them."""
    figures = json.loads(page.locator("script#figures").text_content() or "{}")
    for name in figures:
        expect(page.locator(f"#{name} .main-svg").first).to_be_visible()
    return figures


def keep_screenshot(name: str) -> None:
    """Keep the screenshot `name` (saved under ARTIFACTS) in the README's folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ARTIFACTS / f"{name}.png", SCREENSHOTS / f"{name}.png")
