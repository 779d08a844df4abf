"""What the asset checks tell an on-call engineer in the UI: which feature of which batch drifted, and whose
labels stopped arriving.

The demo drifts from day 1 (the covariate scenario moves the prices) and its last
day's labels never land (`--labels-stop-day`, conftest.py). The freshness sensor's
look is made here with the clock moved past the declared `labels_hours`, by the
function the sensor calls (`evaluate_freshness`), and its check evaluations are
recorded as the daemon records them.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from asset_platform.declaration.names import DRIFT, PREDICTIONS, feature_check_names
from asset_platform.home import PlatformHome
from asset_platform.lifecycle.freshness import LABELS_CHECK, evaluate_freshness
from asset_platform.notify import Notifier
from asset_platform.resources.local import local_resources
from assets.ecommerce import ecommerce
from tests import REPO_ROOT
from tests.monitoring.loop import open_instance
from tests.ui.conftest import NAMES, Demo
from tests.ui.pages import UI_TIMEOUT_MS
from tests.ui.webserver import Webserver

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def labels_late(demo: Demo) -> str:
    """The freshness sensor's look at the demo home hours after its last day; the batch whose labels are late."""
    home = PlatformHome(demo.home)
    hours = ecommerce.monitoring.freshness.labels_hours
    with open_instance(home) as instance:
        landing = local_resources(home)["landing"].for_model(ecommerce)
        later = time.time() + (hours + 1) * 3600
        result = evaluate_freshness(ecommerce, NAMES, instance, landing, Notifier(), None, later)
        for event in result.asset_events or []:
            instance.report_runless_asset_event(event)
        [late] = [e for e in result.asset_events or [] if e.check_name == LABELS_CHECK and not e.passed]
        # Only the last day's batch went without labels: the one the check names.
        assert late.metadata["late_batches"].value == instance.get_dynamic_partitions(NAMES.partitions)[-1:]
        return late.metadata["late_batches"].value[0]


def test_a_model_whose_labels_stopped_shows_a_failing_freshness_check(
    page: Page, webserver: Webserver, labels_late: str
):
    page.goto(f"{webserver.url}/assets/{NAMES.key(PREDICTIONS).to_user_string()}?view=checks")
    check = page.get_by_text(LABELS_CHECK, exact=True).first
    expect(check).to_be_visible(timeout=UI_TIMEOUT_MS)
    check.click()
    expect(page.get_by_text("Labels stopped arriving").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text(labels_late).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=SCREENSHOTS / "checks-labels-freshness.png", animations="disabled")


def test_a_drifted_batch_names_its_drifted_feature_among_the_checks(page: Page, webserver: Webserver, demo: Demo):
    [price] = feature_check_names(["price"]).values()
    page.goto(f"{webserver.url}/assets/{NAMES.key(DRIFT).to_user_string()}?view=checks")
    check = page.get_by_text(price, exact=True).first
    expect(check).to_be_visible(timeout=UI_TIMEOUT_MS)
    check.click()
    expect(page.get_by_text("drifted: price").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=SCREENSHOTS / "checks-feature-drift.png", animations="disabled")
