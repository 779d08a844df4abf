"""Browser tests against a real webserver on a demo platform home.

The session runs the headless closed loop once (`asset-platform demo`), serves
its home with a writable and a read-only dagster-webserver, and drives Debian's
Chromium through Playwright as an auditor would.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from asset_platform.lifecycle import LifecycleNames
from tests import REPO_ROOT
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port, running, tail, wait_for
from tests.ui.pages import UI_TIMEOUT_MS, VIEWPORT, save_screenshot
from tests.ui.queries import runs_with_tag
from tests.ui.webserver import Webserver, start_webserver, stop_webserver

# The demo runs the ecommerce example model: its names, as the lifecycle gives them.
NAMES = LifecycleNames("ecommerce")
# Small enough for about a minute on a laptop, drifting early enough that the
# sensor's two-consecutive-batches policy launches a retraining on day 2.
DEMO_ARGS = ["--model", "ecommerce", "--scenario", "covariate", "--days", "4", "--drift-day", "1"]
DEMO_ARGS += ["--rows-per-day", "1500"]
DEMO_ARGS += ["--history-days", "8"]
# The last day's labels never land: the freshness test shows labels_fresh failing on it (test_checks.py).
DEMO_ARGS += ["--labels-stop-day", "3"]
DEMO_TIMEOUT_S = 400
# `serve --auth` over the demo home (test_access_roles.py, test_pages.py): the proxy's secret and the policy.
PROXY_SECRET = "ui-test-proxy-secret"
OWNER = "team:ml-platform"  # assets/ecommerce.py
POLICY = f"""\
grants:
  - role: viewer
    users: [auditor]
  - role: launcher
    users: [ml-launcher]
    scope: owner:{OWNER}
  - role: viewer
    users: [logistics-viewer]
    scope: owner:team:logistics
"""
SERVE_STARTUP_S = 240


@dataclass(frozen=True)
class Demo:
    home: Path
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """A platform home after the closed loop: baseline, batches, drift, at least one retraining."""
    root = tmp_path_factory.mktemp("ui")
    log = root / "demo.log"
    command = [str(VENV_BIN / "asset-platform"), "demo", *DEMO_ARGS, "--home", str(root / "home")]
    with open(log, "w") as out:
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=subprocess_env(), stdout=out, stderr=subprocess.STDOUT, timeout=DEMO_TIMEOUT_S
        )
    lines = log.read_text(errors="replace").splitlines()
    assert result.returncode == 0, "asset-platform demo failed:\n" + "\n".join(lines[-40:])
    summary = json.loads(lines[-1])
    assert summary["retrains_triggered"] >= 1, f"the demo triggered no retraining; tune DEMO_ARGS: {summary}"
    return Demo(root / "home", summary)


@pytest.fixture(scope="session")
def webserver(demo: Demo) -> Iterator[Webserver]:
    server = start_webserver(demo.home, demo.home.parent / "webserver.log")
    yield server
    stop_webserver(server)


@pytest.fixture(scope="session")
def viewer(demo: Demo) -> Iterator[Webserver]:
    """The same home served read-only, as `make viewer` does."""
    server = start_webserver(demo.home, demo.home.parent / "viewer.log", read_only=True)
    yield server
    stop_webserver(server)


@pytest.fixture(scope="session")
def served(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo home behind `asset-platform serve --auth`; yields its URL once the platform's graph is loaded."""
    import urllib.request

    folder = tmp_path_factory.mktemp("served")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    command = [str(VENV_BIN / "asset-platform"), "serve", "--auth", str(policy)]
    command += ["-w", str(REPO_ROOT / "workspace.yaml"), "--port", str(port)]
    env = subprocess_env(
        DAGSTER_HOME=str(demo.home / "dagster"),
        ASSET_PLATFORM_HOME=str(demo.home),
        ASSET_PLATFORM_PROXY_SECRET=PROXY_SECRET,
    )
    url, log = f"http://127.0.0.1:{port}", folder / "serve.log"

    def post(query: str) -> dict:
        request = urllib.request.Request(
            f"{url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json", "X-Asset-Platform-Proxy-Secret": PROXY_SECRET,
                     "X-Forwarded-User": "auditor"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["data"]

    def loaded() -> bool:
        try:
            return bool(post("{ assetNodes { id } }")["assetNodes"])
        except OSError:
            return False

    with running(command, log, env, REPO_ROOT) as process:
        try:
            wait_for(loaded, SERVE_STARTUP_S, "serve --auth with the platform's code location", [process], interval_s=2)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{tail(log)}") from None
        # The "join the community" dialog would cover the pages; dismissing it is a viewer's right.
        post("mutation { setNuxSeen }")
        yield url


@pytest.fixture(scope="session")
def retraining_run(webserver: Webserver, demo: Demo) -> dict[str, Any]:
    """The first run the drift sensor launched, found as an auditor would: by its tags."""
    runs = runs_with_tag(webserver, "dagster/sensor_name", NAMES.drift_retrain_sensor)
    assert {run["runId"] for run in runs} == {retrain["run_id"] for retrain in demo.summary["retrains"]}
    return runs[0]


def first_visit(browser: Browser, server: Webserver) -> dict[str, Any]:
    """The browser state after a first visit on which the community dialog was skipped."""
    # The dialog shows until someone skips it on this instance; the API says whether it will.
    expect_dialog = server.graphql("{ shouldShowNux }")["shouldShowNux"]
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/overview", timeout=UI_TIMEOUT_MS)
        expect(page.get_by_role("link", name="Lineage")).to_be_visible(timeout=UI_TIMEOUT_MS)
        if expect_dialog:
            dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
            dialog.get_by_role("button", name="Skip").click(timeout=UI_TIMEOUT_MS)
            expect(dialog).to_be_hidden(timeout=UI_TIMEOUT_MS)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="session")
def visited(browser: Browser, webserver: Webserver) -> dict[str, Any]:
    return first_visit(browser, webserver)


@pytest.fixture(scope="session")
def viewer_visited(browser: Browser, viewer: Webserver) -> dict[str, Any]:
    return first_visit(browser, viewer)


def _open_page(browser: Browser, state: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, storage_state=state, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        # Taken on failure too: the page as the test left it is the first thing to look at.
        save_screenshot(page, request.node.name)
        context.close()


@pytest.fixture
def page(browser: Browser, visited: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab on the writable webserver; its screenshot goes to artifacts/ui/<test>.png."""
    yield from _open_page(browser, visited, request)


@pytest.fixture
def viewer_page(browser: Browser, viewer_visited: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab on the read-only webserver; its screenshot goes to artifacts/ui/<test>.png."""
    yield from _open_page(browser, viewer_visited, request)
