"""The drift page's parts: its query, the histograms read back from stored drift results, the estimate
with its interval. A real AssetStore in a temporary folder, an ephemeral Dagster instance; no browser."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from asset_platform.app.pages.compare import BadQuery
from asset_platform.app.pages.data import estimate_interval
from asset_platform.app.pages.drift_page import (
    DEFAULT_LAST,
    MAX_LAST,
    chosen_last,
    drift_page_parts,
    estimate_table,
    initial_cell,
    stored_histograms,
)
from asset_platform.app.pages.figures import DriftBatch, metric_figure
from asset_platform.drift.evidence import BatchEvidence
from asset_platform.drift.measure import DriftResults, FeatureDrift
from asset_platform.lifecycle.build import lifecycle_names
from asset_platform.storage.store import AssetStore
from assets.ecommerce import ecommerce

NAMES = lifecycle_names(ecommerce)


def _results(batch: str, shift: float) -> DriftResults:
    price = FeatureDrift(
        "price", "numeric", 100, 100, 0.0, 0.0, psi=shift, bin_labels=("(-inf, 10]", "(10, inf)"),
        reference_shares=(0.5, 0.5), batch_shares=(0.5 - shift / 2, 0.5 + shift / 2),
    )  # fmt: skip
    unmeasured = FeatureDrift("note", "categorical", 100, 0, 1.0, 0.0, error="all missing")
    return DriftResults(batch, 100, (price, unmeasured))


def test_the_query_takes_a_number_of_batches_and_names_a_bad_one() -> None:
    assert chosen_last({}) == DEFAULT_LAST and chosen_last({"last": ["500"]}) == 500
    for bad in ("0", "-3", "ten", str(MAX_LAST + 1)):
        with pytest.raises(BadQuery, match="'last'") as raised:
            chosen_last({"last": [bad]})
        assert raised.value.parameter == "last"
    with pytest.raises(BadQuery, match="'batch'"):
        chosen_last({"batch": ["x"]})


def test_histograms_come_from_the_stored_version_each_materialization_names(tmp_path: Path) -> None:
    store = AssetStore(tmp_path / "dvc", push=False)
    path = NAMES.path("drift")
    first = store.put(path, _results("2026-01-01", 0.1).to_dict(), partition="2026-01-01").record.md5
    store.put(path, _results("2026-01-01", 0.4).to_dict(), partition="2026-01-01")  # measured again later
    batches = [
        DriftBatch("2026-01-01", "warn", {"price": (0.1, "warn")}, data_version=first),
        DriftBatch("2026-01-02", "pass", data_version="feedbeef"),  # not in this store
        DriftBatch("2026-01-03", "pass"),  # no data version recorded
    ]
    histograms = stored_histograms(store, NAMES, batches)
    assert list(histograms) == ["2026-01-01"]
    assert histograms["2026-01-01"] == {
        "price": {"labels": ["(-inf, 10]", "(10, inf)"], "reference": [0.5, 0.5], "batch": [0.45, 0.55]}
    }
    assert initial_cell(batches, histograms) == ("price", "2026-01-01")
    assert initial_cell(batches, {}) is None and stored_histograms(None, NAMES, batches) == {}


def test_the_estimate_shows_its_interval_where_recorded_and_says_so_where_not() -> None:
    metadata = {"estimated_roc_auc": 0.8, "estimated_roc_auc_ci_low": 0.75, "estimated_roc_auc_ci_high": 0.83}
    assert estimate_interval(metadata) == (0.75, 0.83)
    assert estimate_interval({"estimated_roc_auc": 0.8, "estimated_roc_auc_ci_low": 0.75}) is None
    batches = [
        DriftBatch("b1", "pass", estimated_metric=0.8, realized_metric=0.79, estimate_interval=(0.75, 0.83)),
        DriftBatch("b2", "warn", estimated_metric=0.7, run_id="abcdef0123"),
    ]
    table = estimate_table("roc_auc", batches)
    assert table.index('data-batch="b2"') < table.index('data-batch="b1"')  # newest first
    assert "0.75 to 0.83" in table and "not recorded" in table and 'href="/runs/abcdef0123"' in table
    estimated = metric_figure("shop", "roc_auc", batches)["data"][0]
    assert estimated["error_y"]["array"][0] == pytest.approx(0.03)
    assert estimated["error_y"]["arrayminus"][0] == pytest.approx(0.05) and estimated["error_y"]["array"][1] is None


def test_the_page_says_the_estimate_has_no_interval_when_no_batch_records_one(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    store = AssetStore(tmp_path / "dvc", push=False)
    stored = store.put(NAMES.path("drift"), _results("2026-01-01", 0.3).to_dict(), partition="2026-01-01")
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            NAMES.key("drift"),
            partition="2026-01-01",
            metadata=BatchEvidence("2026-01-01", 100, judged=True, estimated_metric=0.7).to_metadata(),
            tags={"dagster/data_version": stored.record.md5},
        )
    )
    _title, body, figures, script = drift_page_parts(instance, ecommerce, NAMES, {}, store)
    assert "No interval of the label-free estimate is recorded" in body
    assert '"2026-01-01": {"price"' in body and "plotly_click" in script
    assert set(figures) == {"drift", "metric"}
