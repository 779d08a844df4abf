"""One Chromium for the whole test session, shared by every browser test (tests/ui, tests/access).

Playwright's sync API allows one running instance per thread: two module- or
folder-level browsers alive at once fail with "using Playwright Sync API inside
the asyncio loop", depending on the order the tests run in. So the browser is a
session fixture here, registered in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.ui.pages import UI_TIMEOUT_MS

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser download is not used: Debian's Chromium, without the
# services that would reach out to the network or need a GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (as root)"
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=UI_TIMEOUT_MS)
        yield browser
        browser.close()
