"""Roles on the platform's own code location: `asset-platform serve --auth` over the demo home, in Chromium.

The same home the other browser tests read (the example model trained, drifted and
retrained by the demo), served with a policy: an auditor with the viewer role, and a
launcher scoped to the e-commerce model's owners (`team:ml-platform`). The browser
sends the proxy's headers itself, as oauth2-proxy adds them. tests/access/ covers
every mutation and transport against a small location; this checks what people see
on the real lineage and model pages.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from asset_platform.lifecycle import LifecycleNames
from tests.browser import requires_chromium
from tests.ui.conftest import NAMES, PROXY_SECRET, VIEWPORT
from tests.ui.pages import materialize_buttons, metadata_row, signed_in

pytestmark = requires_chromium
OTHER = LifecycleNames("deliveries")  # assets/deliveries/defs.yaml, owned by team:logistics


def _open_asset(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/assets/{key}")
    # Filled in (its data version shown), so a disabled button is disabled, not yet drawn.
    expect(metadata_row(page, "dvc/md5")).to_be_visible()


def _materialize_states(page: Page) -> list[bool]:
    buttons = materialize_buttons(page)
    expect(buttons.first).to_be_visible()
    return [buttons.nth(index).is_enabled() for index in range(buttons.count())]


def test_an_auditor_with_the_viewer_role_browses_the_model_and_its_lineage_but_launches_nothing(
    served: str, browser: Browser
) -> None:
    with signed_in(browser, PROXY_SECRET, "auditor", "access_roles_viewer") as page:
        for asset in ("lgbm_model", "champion", "evaluation"):
            _open_asset(page, served, NAMES.key(asset).to_user_string())
            expect(materialize_buttons(page).first).to_be_disabled()
            assert not any(_materialize_states(page)), f"an enabled launch button on {asset} for a viewer"
        page.goto(f"{served}/asset-groups")
        expect(page.get_by_text(NAMES.group("registry"), exact=True).first).to_be_visible()
        expect(materialize_buttons(page).first).to_be_disabled()
        assert not any(_materialize_states(page))


def test_a_launcher_of_the_owning_team_may_launch_its_model_and_not_another_teams(
    served: str, browser: Browser
) -> None:
    with signed_in(browser, PROXY_SECRET, "ml-launcher", "access_roles_launcher") as page:
        _open_asset(page, served, NAMES.key("lgbm_model").to_user_string())
        expect(materialize_buttons(page).first).to_be_enabled()
        # The other team's model (never trained in the demo): its page is filled in once it names its job.
        page.goto(f"{served}/assets/{OTHER.key('raw_data').to_user_string()}")
        expect(page.get_by_text(OTHER.training_job, exact=True).first).to_be_visible()
        expect(materialize_buttons(page).first).to_be_disabled()


def test_a_request_without_the_proxy_identity_is_refused(served: str, browser: Browser) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        response = context.new_page().goto(f"{served}/assets")
        assert response is not None and response.status == 401
    finally:
        context.close()
