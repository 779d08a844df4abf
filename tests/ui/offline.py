"""A page the pages' functions rendered, opened in Chromium without a webserver.

Playwright answers the page's address with the HTML and /platform/static/plotly.min.js with the
installed plotly's file, as `serve` does: for pages drawn from data no demo home holds (a tuning
study, hundreds of versions), with no process to start.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, Route

from asset_platform.app.pages.figures import PLOTLY_JS
from tests.ui.pages import UI_TIMEOUT_MS, VIEWPORT, save_screenshot

ORIGIN = "http://pages.test"
_PLOTLY = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"


@contextmanager
def offline_page(browser: Browser, screenshot: str) -> Iterator[tuple[Page, dict[str, str]]]:
    """A tab on which `goto(ORIGIN + path)` shows `served[path]`; its screenshot goes to artifacts/ui/."""
    served: dict[str, str] = {}
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(UI_TIMEOUT_MS)

    def answer(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?", 1)[0]
        if path == PLOTLY_JS:
            route.fulfill(path=str(_PLOTLY), content_type="text/javascript")
        elif path in served:
            route.fulfill(body=served[path], content_type="text/html")
        else:
            route.fulfill(status=404, body="not served in this test")

    context.route(f"{ORIGIN}/**", answer)
    page = context.new_page()
    try:
        yield page, served
    finally:
        save_screenshot(page, screenshot)
        context.close()
