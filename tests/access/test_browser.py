"""The UI through `serve --auth`, in Chromium: what each role sees and can do, and the audit of a refusal.

The browser sends the proxy's headers itself (Playwright's extra HTTP headers), as
oauth2-proxy would add them; the server is the module's own, over the two tiny
test code locations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from asset_platform.access.mutations import LAUNCHED_BY_TAG
from tests.access.server import SECRET, Server, access_server
from tests.browser import requires_chromium
from tests.processes import wait_for
from tests.ui.pages import materialize_buttons, signed_in

pytestmark = requires_chromium
SENSOR = {"repositoryLocationName": "teams", "repositoryName": "__repository__", "sensorName": "growth_sensor"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with access_server(tmp_path_factory.mktemp("access-ui")) as running_server:
        # The "join the community" dialog would cover the pages: seen, once, for this instance.
        running_server.data("admin", "mutation { setNuxSeen }")
        yield running_server


def _expect_every_materialize_button_disabled(page: Page) -> None:
    buttons = materialize_buttons(page)
    expect(buttons.first).to_be_visible()
    for index in range(buttons.count()):
        expect(buttons.nth(index)).to_be_disabled()


def test_a_viewer_sees_lineage_and_the_model_page_with_every_launch_button_disabled(
    server: Server, browser: Browser
) -> None:
    with signed_in(browser, SECRET, "viewer", "access_viewer") as page:
        page.goto(f"http://127.0.0.1:{server.port}/assets/growth_model")
        expect(page.get_by_text("growth_model").first).to_be_visible()
        _expect_every_materialize_button_disabled(page)
        page.goto(f"http://127.0.0.1:{server.port}/asset-groups")
        expect(page.get_by_text("ops_model").first).to_be_visible()
        _expect_every_materialize_button_disabled(page)


def _runs_launched_by(server: Server, user: str) -> list[dict]:
    query = """query Runs($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) {
        ... on Runs { results { runId jobName } } } }"""
    tags = [{"key": LAUNCHED_BY_TAG, "value": user}]
    return server.data("admin", query, variables={"tags": tags})["runsOrError"]["results"]


def test_a_launcher_materializes_the_model(server: Server, browser: Browser) -> None:
    with signed_in(browser, SECRET, "launcher", "access_launcher") as page:
        page.goto(f"http://127.0.0.1:{server.port}/assets/growth_model")
        button = materialize_buttons(page).first
        expect(button).to_be_enabled()
        button.click()
        runs = wait_for(lambda: _runs_launched_by(server, "launcher"), 60, "the run the launcher started")
    assert runs[0]["jobName"] == "__ASSET_JOB"


def _sensor_status(server: Server) -> str:
    query = """query S($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {
        ... on Sensor { sensorState { status } } } }"""
    return server.data("admin", query, variables={"s": SENSOR})["sensorOrError"]["sensorState"]["status"]


def test_an_editor_turns_a_sensor_off_which_a_viewer_cannot(server: Server, browser: Browser) -> None:
    start = "mutation Start($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename } }"
    server.data("admin", start, variables={"s": SENSOR})
    url = f"http://127.0.0.1:{server.port}/locations/teams/sensors/growth_sensor"
    with signed_in(browser, SECRET, "viewer", "access_viewer_sensor") as page:
        page.goto(url)
        toggle = page.get_by_role("checkbox").first
        expect(toggle).to_be_checked()
        expect(toggle).to_be_disabled()
    with signed_in(browser, SECRET, "editor", "access_editor_sensor") as page:
        page.goto(url)
        toggle = page.get_by_role("checkbox").first
        expect(toggle).to_be_checked()
        # The switch's input is hidden under its drawn label: click what a person clicks.
        toggle.locator("xpath=ancestor::label[1]").click()
        expect(toggle).not_to_be_checked()
    assert wait_for(lambda: _sensor_status(server) == "STOPPED", 30, "the sensor to stop")


def test_a_denied_attempt_from_the_browser_is_in_the_audit_log_with_the_users_name(
    server: Server, browser: Browser
) -> None:
    with signed_in(browser, SECRET, "viewer", "access_viewer_denied") as page:
        page.goto(f"http://127.0.0.1:{server.port}/overview")
        # What a crafted request from the viewer's own session does when the button is disabled.
        body = page.evaluate(
            """async () => (await fetch('/graphql', {method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({query: 'mutation Wipe { wipeAssets(assetPartitionRanges: []) { __typename } }'})
            })).json()"""
        )
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    lines = [json.loads(line) for line in server.audit_path.read_text().splitlines()]
    denied = [line for line in lines if line["user"] == "viewer" and line["field"] == "wipeAssets"]
    assert denied and denied[-1]["allowed"] is False and denied[-1]["operation"] == "Wipe"


def test_an_owner_scoped_editor_opens_the_launchpad_of_its_teams_promotion_job(
    server: Server, browser: Browser
) -> None:
    with signed_in(browser, SECRET, "growth-editor", "access_owner_editor_launchpad") as page:
        page.goto(f"http://127.0.0.1:{server.port}/locations/teams/jobs/growth_promote")
        # Shift+click opens the launchpad, as the button's tooltip says (how a promotion's config is given).
        materialize_buttons(page).first.click(modifiers=["Shift"])
        launchpad = page.get_by_role("dialog").filter(has_text="Launchpad (configure assets)")
        expect(launchpad.get_by_role("button", name="Materialize")).to_be_enabled()


def test_a_launcher_is_told_it_may_not_launch_a_promotion_job_before_clicking(server: Server, browser: Browser) -> None:
    with signed_in(browser, SECRET, "launcher", "access_launcher_promotion_refused") as page:
        page.goto(f"http://127.0.0.1:{server.port}/locations/teams/jobs/growth_promote")
        button = materialize_buttons(page).first
        expect(button).to_be_disabled()
        button.hover(force=True)
        expect(page.get_by_text("You do not have permission to materialize assets for this job")).to_be_visible()
