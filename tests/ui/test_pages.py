"""The platform's pages under /platform/ on the `serve --auth` port: drift heat map and fleet, in Chromium.

Read over the demo home (the covariate scenario drifting from day 1), served with the
session's policy: the auditor (viewer) sees both pages, a caller without any grant
and a viewer of another team's model are refused and audited, and nothing but GET
is answered. The screenshots are README's (docs/screenshots/).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from playwright.sync_api import Browser, expect

from asset_platform.access.audit import AUDIT_FILE
from asset_platform.app.pages.figures import LEVELS
from asset_platform.drift import DriftPolicy
from tests.browser import requires_chromium
from tests.ui.conftest import DEMO_ARGS, NAMES, PROXY_SECRET, Demo
from tests.ui.pages import drawn_figures, keep_screenshot, signed_in

pytestmark = requires_chromium
DRIFT_PAGE = f"/platform/models/{NAMES.model}/drift"
DRIFT_DAY = int(DEMO_ARGS[DEMO_ARGS.index("--drift-day") + 1])


def _request(url: str, user: str | None, method: str = "GET") -> int:
    headers = {"X-Asset-Platform-Proxy-Secret": PROXY_SECRET, **({"X-Forwarded-User": user} if user else {})}
    request = urllib.request.Request(url, headers=headers, method=method, data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_drift_page_shows_the_covariate_batches_drifted_cells(served: str, browser: Browser) -> None:
    with signed_in(browser, PROXY_SECRET, "auditor", "pages-drift") as page:
        response = page.goto(f"{served}{DRIFT_PAGE}")
        assert response is not None and response.status == 200
        heatmap = drawn_figures(page)["drift"]["data"][0]
        expect(page.get_by_role("link", name=f"{NAMES.model}/drift in Dagster")).to_have_attribute(
            "href", f"/assets/{NAMES.model}/drift"
        )
    # Columns are the batches, oldest first; the covariate shift starts on the drift day's batch.
    alert, threshold = LEVELS.index("alert"), DriftPolicy().psi.alert
    batches = heatmap["x"]
    assert len(batches) >= DRIFT_DAY + 2, batches

    def drifted(column: int) -> list[str]:
        psi, levels = heatmap["customdata"], heatmap["z"]
        return [
            feature
            for row, feature in enumerate(heatmap["y"])
            if levels[row][column] == alert and (psi[row][column] or 0) > threshold
        ]

    assert not drifted(0), f"the batch before the drift day has drifted cells: {drifted(0)}"
    for column in range(DRIFT_DAY, len(batches)):
        assert drifted(column), f"batch {batches[column]} shows no feature over PSI {threshold}"
    keep_screenshot("pages-drift")


def test_the_fleet_page_lists_the_model_with_its_champion(served: str, browser: Browser, demo: Demo) -> None:
    with signed_in(browser, PROXY_SECRET, "auditor", "pages-fleet") as page:
        page.goto(f"{served}/platform/fleet")
        row = page.locator(f'tr[data-model="{NAMES.model}"]')
        expect(row).to_be_visible()
        strip = drawn_figures(page)["verdicts"]["data"][0]
        champion = row.locator("td").nth(2).inner_text()
        # Checked by its address, not followed: the screenshot is of the fleet page.
        expect(row.get_by_role("link", name=NAMES.model)).to_have_attribute("href", DRIFT_PAGE)
    versions = {demo.summary["baseline_champion"]}
    versions |= {r.get(k) for r in demo.summary["retrains"] for k in ("champion_version", "challenger_version")}
    assert any(v and v.startswith(champion) for v in versions) and len(champion) == 12, (champion, versions)
    assert NAMES.model in strip["y"]
    keep_screenshot("pages-fleet")


def test_pages_need_the_viewer_role_on_the_model_answer_get_only_and_are_audited(served: str, demo: Demo) -> None:
    drift = f"{served}{DRIFT_PAGE}"
    assert _request(drift, "auditor") == 200
    assert _request(drift, "nobody") == 403  # no grant at all
    assert _request(drift, "logistics-viewer") == 403  # a viewer of another team's model only
    assert _request(f"{served}/platform/fleet", "logistics-viewer") == 200  # sees the models it may
    assert _request(drift, None) == 401
    assert _request(drift, "auditor", method="POST") == 405
    lines = [json.loads(line) for line in (demo.home / AUDIT_FILE).read_text().splitlines()]
    pages = [(line["user"], line["allowed"], line["result"]) for line in lines if line["field"] == DRIFT_PAGE[1:]]
    assert pages[-5:] == [
        ("auditor", True, "HTTP 200"),
        ("nobody", False, "PERMISSION_DENIED"),
        ("logistics-viewer", False, "HTTP 403"),
        (None, False, "PERMISSION_DENIED"),
        ("auditor", False, "HTTP 405"),
    ]
