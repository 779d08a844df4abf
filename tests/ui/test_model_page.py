"""The model page, /platform/models/<model>, on the `serve --auth` port over the demo home, in Chromium.

Its versions are those the event log holds for the model assets; by default it compares the champion
with the latest challenger the gate saw; `?versions=` picks others (the demo's two lightgbm versions give
two learning curves). A bad query value is a 400 naming the parameter, an unknown version a 404 naming
it, a viewer of another team a 403, each audited. The screenshot is README's (docs/screenshots/).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
from playwright.sync_api import Browser, expect

from asset_platform.access.audit import AUDIT_FILE
from asset_platform.app.pages.compare import flatten
from asset_platform.lifecycle.build import lifecycle_names
from assets.ecommerce import ecommerce
from tests import REPO_ROOT
from tests.browser import requires_chromium
from tests.ui.conftest import PROXY_SECRET, Demo
from tests.ui.pages import drawn_figures, signed_in

pytestmark = requires_chromium
NAMES = lifecycle_names(ecommerce)
MODEL_PAGE = f"/platform/models/{NAMES.model}"
_ASSETS = ("lgbm_model", "sklearn_model")
SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "pages-model.png"


@dataclass(frozen=True)
class Recorded:
    """What the demo's event log holds: each model version's asset and params, and the gate's decisions."""

    versions: dict[str, dict[str, Any]]
    decisions: list[dict[str, str]]  # oldest first

    def default_pair(self) -> set[str]:
        """The champion and the newest challenger the gate saw beside it."""
        champion = self.decisions[-1]["champion_version"]
        others = [d["challenger_version"] for d in self.decisions if d["challenger_version"] not in ("", champion)]
        return {champion, *others[-1:]}


@pytest.fixture(scope="module")
def recorded(demo: Demo) -> Recorded:
    versions: dict[str, dict[str, Any]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(demo.home / "dagster"))
        with dg.DagsterInstance.get() as instance:
            for key in NAMES.model_keys:
                for record in instance.fetch_materializations(key, limit=1000).records:
                    materialization = record.asset_materialization
                    params = materialization.metadata["params"].value
                    versions[materialization.tags["dagster/data_version"]] = {"asset": key.path[-1], "params": params}
            champion = instance.fetch_materializations(NAMES.champion, limit=1000, ascending=True).records
            fields = ("decision", "champion_version", "challenger_version")
            decisions = [{f: str(r.asset_materialization.metadata[f].value) for f in fields} for r in champion]
    return Recorded(versions, decisions)


def _get(url: str, user: str | None, method: str = "GET") -> tuple[int, str]:
    headers = {"X-Asset-Platform-Proxy-Secret": PROXY_SECRET, **({"X-Forwarded-User": user} if user else {})}
    request = urllib.request.Request(url, headers=headers, method=method, data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_model_page_lists_the_event_logs_versions_and_compares_them(
    served: str, browser: Browser, recorded: Recorded
) -> None:
    by_asset = {asset: [v for v, seen in recorded.versions.items() if seen["asset"] == asset] for asset in _ASSETS}
    assert len(by_asset["lgbm_model"]) >= 2 and by_asset["sklearn_model"], recorded.versions
    with signed_in(browser, PROXY_SECRET, "auditor", "pages-model") as page:
        response = page.goto(f"{served}{MODEL_PAGE}")
        assert response is not None and response.status == 200
        listed = page.locator("#versions tbody tr").evaluate_all("rows => rows.map(row => row.dataset.version)")
        assert sorted(listed) == sorted(recorded.versions)
        checked = page.locator("#versions input:checked").evaluate_all("boxes => boxes.map(box => box.value)")
        assert set(checked) == recorded.default_pair()
        timeline = {trace["name"] for trace in drawn_figures(page)["timeline"]["data"]}
        assert {"champion", *(d["decision"] for d in recorded.decisions)} <= timeline

        # Two lightgbm versions and a scikit-learn one, checked in the form: two AUC curves overlaid, and
        # every parameter that differs between them (as the event log holds them) highlighted, no other.
        compared = [*by_asset["lgbm_model"][:2], by_asset["sklearn_model"][0]]
        for box in page.locator("#versions input[type=checkbox]").all():
            box.set_checked(box.get_attribute("value") in compared)
        page.get_by_role("button", name="Compare the checked versions").click()
        expect(page.get_by_role("heading", name="Comparing")).to_contain_text(compared[2][:8])
        figures = drawn_figures(page)
        curves = figures["curve_auc"]["data"]
        assert sorted(trace["name"].split()[0] for trace in curves) == sorted(v[:8] for v in compared[:2])
        # Each version's ROC from the evaluation that scored it, overlaid (with the chance line).
        roc = [trace["name"].split()[0] for trace in figures["roc"]["data"]]
        assert sorted(roc[:-1]) == sorted(v[:8] for v in compared) and roc[-1] == "chance"
        assert page.get_by_text("no learning curve recorded").count() == 1  # the scikit-learn version's
        params = [flatten(recorded.versions[version]["params"]) for version in compared]
        names = set().union(*params)
        differing = {name for name in names if len({json.dumps(p.get(name)) for p in params}) > 1}
        assert "C" in differing, params  # scikit-learn's regularization; lightgbm has none
        marked = page.locator("#diff tr.differs").evaluate_all("rows => rows.map(row => row.dataset.name)")
        assert {name for name in marked if name.startswith("params/")} == {f"params/{name}" for name in differing}
        page.set_viewport_size({"width": 1400, "height": 1700})
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, animations="disabled")


def test_the_model_page_refuses_bad_queries_unknown_names_and_other_teams_and_audits_them(
    served: str, demo: Demo
) -> None:
    page = f"{served}{MODEL_PAGE}"
    champion = demo.summary["baseline_champion"]
    assert _get(page, "auditor", "HEAD")[0] == 200
    status, body = _get(f"{served}/platform/models/no_such_model", "auditor")
    assert status == 404 and "'no_such_model'" in body
    status, body = _get(f"{page}?versions=abcdef12,{champion[:8]}", "auditor")
    assert status == 404 and "'abcdef12'" in body
    for query, parameter in (("versions=zz", "versions"), ("versions=", "versions"), ("metric=auc", "metric")):
        status, body = _get(f"{page}?{query}", "auditor")
        assert status == 400 and json.loads(body)["parameter"] == parameter, (query, body)
    assert _get(page, "logistics-viewer")[0] == 403
    assert _get(page, "nobody")[0] == 403
    assert _get(page, "auditor", "POST")[0] == 405
    # Linked from the fleet and the drift page.
    assert f'href="{MODEL_PAGE}"' in _get(f"{served}/platform/fleet", "auditor")[1]
    assert f'href="{MODEL_PAGE}"' in _get(f"{page}/drift", "auditor")[1]
    lines = [json.loads(line) for line in (demo.home / AUDIT_FILE).read_text().splitlines()]
    answers = [(line["user"], line["allowed"], line["result"]) for line in lines if line["field"] == MODEL_PAGE[1:]]
    assert answers[-8:] == [
        ("auditor", True, "HTTP 200"),
        ("auditor", False, "HTTP 404"),
        *[("auditor", False, "HTTP 400")] * 3,
        ("logistics-viewer", False, "HTTP 403"),
        ("nobody", False, "PERMISSION_DENIED"),
        ("auditor", False, "HTTP 405"),
    ]
