"""How fast the model page with 100 versions and the drift page with 500 batches render, in Chromium.

The event log is built synthetically: runless materializations, in an ephemeral instance, with the
metadata the pages read (a model version's params, metrics, learning curve and usage; a gate decision;
a batch's evidence and per-feature drift table), and each batch's drift results stored in a DVC store
for its histograms. The pages' own functions build each page from it (`model_page_parts`,
`drift_page_parts`); Chromium loads it as from `serve` (tests/ui/offline.py) and the test prints the
time to build the page and the time until every chart is drawn. A figure, not a threshold.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import dagster as dg
from playwright.sync_api import Browser, Page, expect

from asset_platform.app.pages.drift_page import drift_page_parts
from asset_platform.app.pages.figures import drift_page, model_page, render_page
from asset_platform.app.pages.model_page import model_page_parts
from asset_platform.drift.evidence import BatchEvidence
from asset_platform.drift.measure import DriftResults, FeatureDrift
from asset_platform.drift.report import drift_table_markdown
from asset_platform.lifecycle.build import lifecycle_names
from asset_platform.storage.store import AssetStore
from assets.ecommerce import ecommerce
from tests.browser import requires_chromium
from tests.ui.offline import ORIGIN, offline_page

pytestmark = requires_chromium
NAMES = lifecycle_names(ecommerce)
VERSIONS, BATCHES, FEATURES = 100, 500, 10
_DAY = 86_400.0


def _model_versions(instance: dg.DagsterInstance, count: int, rng: random.Random) -> None:
    """`count` versions alternating between the model assets, a gate decision after each."""
    champion = ""
    for index in range(count):
        version = f"{index:08x}" + "ab" * 12
        key = NAMES.model_keys[index % len(NAMES.model_keys)]
        auc = 0.7 + 0.1 * rng.random()
        metadata = {
            "flavor": key.path[-1].removesuffix("_model"),
            "params": dg.MetadataValue.json({"learning_rate": 0.05, "num_leaves": 16 + index % 32, "seed": index}),
            "metrics/holdout_roc_auc": auc,
            "metrics/valid_roc_auc": auc + 0.01,
            "training/wall_s": 5.0 + rng.random(),
            "training/cpu_s": 9.0,
            "training/peak_rss_mb": 400.0,
            "learning_curve_values": dg.MetadataValue.json(
                {"valid auc": [round(0.6 + 0.002 * step + 0.01 * rng.random(), 4) for step in range(100)]}
            ),
        }
        instance.report_runless_asset_event(
            dg.AssetMaterialization(key, metadata=metadata, tags={"dagster/data_version": version})
        )
        decision = "promoted" if not champion or rng.random() < 0.3 else "rejected"
        champion = version if decision == "promoted" else champion
        decided = {"decision": decision, "reason": "synthetic", "champion_version": champion}
        decided["challenger_version"] = version
        instance.report_runless_asset_event(dg.AssetMaterialization(NAMES.champion, metadata=decided))


def _batches(instance: dg.DagsterInstance, store: AssetStore, count: int, rng: random.Random) -> None:
    """`count` daily batches, each with its drift results stored and its evidence recorded."""
    for index in range(count):
        batch = f"b{index:04d}"
        features = tuple(
            FeatureDrift(
                f"feature_{number}",
                "numeric",
                1000,
                1000,
                0.0,
                0.0,
                psi=round(rng.random() * 0.4, 4),
                bin_labels=tuple(f"bin {bin_}" for bin_ in range(10)),
                reference_shares=(0.1,) * 10,
                batch_shares=tuple(round(rng.random() / 5, 4) for _ in range(10)),
            )  # fmt: skip
            for number in range(FEATURES)
        )
        results = DriftResults(batch, 1000, features)
        stored = store.put(NAMES.path("drift"), results.to_dict(), partition=batch).record
        evidence = BatchEvidence(batch, 1000, judged=True, estimated_metric=round(0.75 + 0.05 * rng.random(), 4))
        metadata = {**evidence.to_metadata(), "features": dg.MetadataValue.md(drift_table_markdown(results))}
        tags = {"dagster/data_version": stored.md5}
        instance.report_runless_asset_event(
            dg.AssetMaterialization(NAMES.key("drift"), partition=batch, metadata=metadata, tags=tags)
        )


def _drawn(page: Page, address: str) -> dict[str, int]:
    """Load the page twice (the second with plotly.js cached as a browser keeps it); for each, milliseconds
    from navigation to the parsed document (plotly.js run, the figures' data read) and to every chart drawn."""
    times = {}
    for load in ("first", "again"):
        page.goto(address)
        figures = json.loads(page.locator("script#figures").text_content() or "{}")
        for name in figures:
            expect(page.locator(f"#{name} .main-svg").first).to_be_visible()
        drawn = float(page.evaluate("performance.now()"))
        parsed = float(page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"))
        times |= {f"{load}_parsed_ms": round(parsed), f"{load}_drawn_ms": round(drawn)}
    return times


def test_how_fast_a_model_page_of_100_versions_and_a_drift_page_of_500_batches_render(
    browser: Browser, tmp_path: Path
) -> None:
    rng = random.Random(0)
    started = time.perf_counter()
    instance = dg.DagsterInstance.ephemeral()
    store = AssetStore(tmp_path / "dvc", push=False)
    _model_versions(instance, VERSIONS, rng)
    _batches(instance, store, BATCHES, rng)
    built = time.perf_counter() - started

    started = time.perf_counter()
    model_parts = model_page_parts(instance, ecommerce, NAMES, {})
    model_build = time.perf_counter() - started
    started = time.perf_counter()
    title, body, figures, script = drift_page_parts(instance, ecommerce, NAMES, {"last": [str(BATCHES)]}, store)
    drift_build = time.perf_counter() - started
    assert len(figures["drift"]["data"][0]["x"]) == BATCHES

    with offline_page(browser, "pages-speed") as (page, served):
        served[model_page(NAMES.model)] = render_page(*model_parts)
        served[drift_page(NAMES.model)] = render_page(title, body, figures, script)
        model_ms = _drawn(page, f"{ORIGIN}{model_page(NAMES.model)}")
        expect(page.locator("#versions tbody tr")).to_have_count(VERSIONS)
        drift_ms = _drawn(page, f"{ORIGIN}{drift_page(NAMES.model)}")
        expect(page.locator("#histogram .main-svg").first).to_be_visible()
        sizes = {name: len(text) for name, text in served.items()}
    figures_line = {
        "event_log_built_s": round(built, 2),
        "model_page": {"versions": VERSIONS, "built_s": round(model_build, 3), **model_ms},
        "drift_page": {"batches": BATCHES, "built_s": round(drift_build, 3), **drift_ms},
        "html_bytes": sizes,
    }
    print("\npage speed (Chromium, this machine): " + json.dumps(figures_line))
