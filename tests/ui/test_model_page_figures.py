"""The model page's data, choices, tables and figures from recorded metadata: pure functions, no webserver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asset_platform.app.pages.compare import BadQuery, UnknownVersion, chosen_versions, diff_rows
from asset_platform.app.pages.model_figures import (
    DECISION_MARKERS,
    curve_figures,
    evaluation_figures,
    segment_figure,
    timeline,
)
from asset_platform.app.pages.model_html import diff_table, versions_table
from asset_platform.app.pages.model_page import comparison_notes
from asset_platform.app.pages.versions import Evaluated, GateDecision, evaluated, version_from_metadata
from asset_platform.reports.evaluation import curve_values, evaluation_charts

LGBM_OLD, SKLEARN, LGBM_NEW = (
    "d0f8c61d25f07ecab76d1ef3f0dc87f1",
    "e6cea4b582b9e9a3418f8f79025473dc",
    "b1512497" + "0" * 24,
)


def _version(version: str, asset: str, at: float, auc: float, params: dict, curve: dict | None = None):
    metadata = {
        "flavor": asset.split("_")[0],
        "params": params,
        "metrics/holdout_auc": auc,
        "metrics/valid_auc": auc + 0.05,
        "metrics/best_iteration": 24,
        "training/wall_s": 1.5,
        "seed": 7,
        "library_versions": {"lightgbm": "4.7.0"},
        "fairness/blocked": True,  # a flag, not a number: not a metric
    }
    if curve is not None:
        metadata["learning_curve_values"] = curve
    return version_from_metadata(f"shop/{asset}", version, at, f"run-{version[:4]}", metadata)


VERSIONS = [
    _version(LGBM_OLD, "lgbm_model", 100.0, 0.70, {"num_leaves": 31, "nested": {"a": 1}}, {"valid AUC": [0.6, 0.7]}),
    _version(SKLEARN, "sklearn_model", 101.0, 0.72, {"C": 1.0}),
    _version(LGBM_NEW, "lgbm_model", 200.0, 0.75, {"num_leaves": 31, "nested": {"a": 2}}, {"valid AUC": [0.65, 0.74]}),
]
DECISIONS = [
    GateDecision(102.0, "promoted", SKLEARN, SKLEARN, "first model", "run-e6ce"),
    GateDecision(201.0, "rejected", LGBM_NEW, SKLEARN, "rejected lgbm_model b1512497: does not beat", "run-b151"),
]


def test_a_version_reads_params_metrics_usage_curve_and_facts_from_its_metadata() -> None:
    version = VERSIONS[0]
    assert version.metrics == {"holdout_auc": 0.70, "valid_auc": pytest.approx(0.75), "best_iteration": 24.0}
    assert version.usage == {"wall_s": 1.5} and version.curve == {"valid AUC": [0.6, 0.7]}
    assert version.facts == {"seed": "7", "library/lightgbm": "4.7.0"} and version.flavor == "lgbm"


def test_an_evaluation_gives_each_model_asset_its_segments_and_confusion_counts() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = {"lgbm_model": np.array([0.1, 0.6, 0.7, 0.2, 0.3, 0.9]), "sklearn_model": np.full(6, 0.4)}
    confusion = evaluation_charts("binary_classification", labels, scores, 0.5)["confusion_matrices"].value
    segments = pd.DataFrame({"segment": ["device=mobile", "device=tablet"], "rows": [4, 2]})
    segments["lgbm_model auc"], segments["sklearn_model auc"] = [0.81, 0.5], [0.7, 0.6]
    metadata = {"segments": segments.to_markdown(index=False), "confusion_matrices": confusion}
    found = evaluated("lgbm_model", "run-1", metadata)
    assert found.segments == {"device=mobile": 0.81, "device=tablet": 0.5}
    assert found.confusion == {"tn": 2, "fp": 1, "fn": 1, "tp": 2}
    assert evaluated("sklearn_model", "run-1", metadata).confusion == {"tn": 3, "fp": 0, "fn": 3, "tp": 0}
    assert evaluated("torch_model", "run-1", metadata) == Evaluated("run-1")


def test_the_default_comparison_is_the_champion_and_the_latest_challenger() -> None:
    assert [v.version for v in chosen_versions("shop", {}, VERSIONS, DECISIONS)] == [SKLEARN, LGBM_NEW]
    # Before any gate decision: the two newest versions.
    assert [v.version for v in chosen_versions("shop", {}, VERSIONS, [])] == [LGBM_NEW, SKLEARN]
    assert chosen_versions("shop", {}, [], []) == []


def test_the_query_names_versions_by_prefix_and_a_bad_one_is_refused_naming_it() -> None:
    query = {"versions": [f"{LGBM_OLD[:6]}, {LGBM_NEW[:8]}", SKLEARN]}
    assert [v.version for v in chosen_versions("shop", query, VERSIONS, DECISIONS)] == [LGBM_OLD, LGBM_NEW, SKLEARN]
    with pytest.raises(UnknownVersion, match="'abcdef'"):
        chosen_versions("shop", {"versions": ["abcdef,d0f8"]}, VERSIONS, DECISIONS)
    bad = {
        "d0f8,zz!x": "'zz!x' is not a version",
        "d0f,e6ce": "'d0f' is not a version",
        "d0f8,d0f8c6": "two or more distinct",
        "": "two or more distinct",
    }
    for value, message in bad.items():
        with pytest.raises(BadQuery, match=message) as error:
            chosen_versions("shop", {"versions": [value]}, VERSIONS, DECISIONS)
        assert error.value.parameter == "versions"
    ambiguous = [*VERSIONS, _version(LGBM_OLD[:6] + "ff" * 13, "lgbm_model", 300.0, 0.7, {})]
    with pytest.raises(BadQuery, match="ambiguous"):
        chosen_versions("shop", {"versions": ["d0f8c6,e6ce"]}, ambiguous, DECISIONS)
    with pytest.raises(BadQuery, match="'metric'") as error:
        chosen_versions("shop", {"metric": ["auc"]}, VERSIONS, DECISIONS)
    assert error.value.parameter == "metric"


def test_the_diff_table_highlights_what_differs_only() -> None:
    chosen = [VERSIONS[0], VERSIONS[2]]
    rows = diff_rows(chosen, DECISIONS, {LGBM_NEW: Evaluated("r", confusion={"tp": 3})})
    by_name = {f"{section}/{name}": values for section, name, values in rows}
    assert by_name["params/nested.a"] == [1, 2] and by_name["params/num_leaves"] == [31, 31]
    assert by_name["model/gate"] == ["", "rejected"] and by_name["confusion/tp"] == [None, 3]
    assert [name for _s, name, _v in rows if _s == "metrics"][:2] == ["holdout_auc", "valid_auc"]
    table = diff_table(chosen, rows)
    assert '<tr class="differs" data-name="params/nested.a">' in table
    assert '<tr data-name="params/num_leaves">' in table
    assert '<td title="0.75">0.75</td>' in table and '<td title="">—</td>' in table


def test_the_versions_table_lists_every_version_newest_first_with_its_decisions() -> None:
    table = versions_table("shop", "holdout_auc", VERSIONS, DECISIONS, [VERSIONS[1], VERSIONS[2]])
    listed = [table.index(f'data-version="{v}"') for v in (LGBM_NEW, SKLEARN, LGBM_OLD)]
    assert listed == sorted(listed)
    assert f'value="{SKLEARN}" checked' in table and f'value="{LGBM_OLD}">' in table
    assert "<strong>champion</strong>" in table and 'action="/platform/models/shop"' in table


def test_the_timeline_draws_each_asset_the_champion_and_each_decision_on_the_decided_versions_metric() -> None:
    figure = timeline("shop", "holdout_auc", VERSIONS, DECISIONS)
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(traces) == {"lgbm_model", "sklearn_model", "champion", "promoted", "rejected"}
    assert traces["lgbm_model"]["y"] == [0.70, 0.75] and traces["champion"]["y"] == [0.72, 0.72]
    assert (
        traces["rejected"]["y"] == [0.75] and traces["rejected"]["marker"]["symbol"] == DECISION_MARKERS["rejected"][0]
    )
    menu = figure["layout"]["updatemenus"][0]
    valid = next(button for button in menu["buttons"] if button["label"] == "valid_auc")
    assert valid["args"][0]["y"][0] == [pytest.approx(0.75), pytest.approx(0.80)]
    assert menu["buttons"][menu["active"]]["label"] == "holdout_auc"


def test_learning_curves_overlay_by_quantity_and_segments_group_by_version() -> None:
    torch = _version("aa" * 16, "torch_model", 5.0, 0.7, {}, {"train loss": [0.6, 0.5], "valid loss": [0.7, 0.65]})
    figures = curve_figures("shop", [VERSIONS[0], VERSIONS[2], torch])
    assert set(figures) == {"curve_auc", "curve_loss"}
    assert [t["name"] for t in figures["curve_auc"]["data"]] == [
        "d0f8c61d lgbm_model valid AUC",
        "b1512497 lgbm_model valid AUC",
    ]
    assert [t["line"]["dash"] for t in figures["curve_loss"]["data"]] == ["dot", "solid"]
    evaluations = {LGBM_NEW: Evaluated("r", {"device=mobile": 0.8, "device=tablet": 0.6})}
    bars = segment_figure("shop", "auc", [VERSIONS[0], VERSIONS[2]], evaluations)["data"]
    assert bars[0]["y"] == [None, None] and bars[1]["y"] == [0.8, 0.6]
    assert segment_figure("shop", "auc", VERSIONS, {}) is None
    notes = " ".join(
        comparison_notes([VERSIONS[1], VERSIONS[2]], evaluations, "shop/evaluation", "binary_classification")
    )
    assert "e6cea4b5 sklearn_model: no learning curve recorded" in notes and "ROC and calibration" in notes
    assert "b1512497 lgbm_model: validation curve only" in notes and 'href="/runs/r"' in notes


def test_evaluation_curves_recorded_as_numbers_overlay_the_compared_versions() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(400) < 0.3).astype(int)
    scores = {"lgbm_model": np.clip(labels * 0.4 + rng.random(400) * 0.6, 0, 1), "sklearn_model": rng.random(400)}
    recorded = curve_values("binary_classification", labels, scores)
    roc = recorded["lgbm_model"]["roc"]
    assert roc["fpr"][0] == 0.0 and roc["fpr"][-1] == 1.0 and len(roc["fpr"]) <= 60
    assert len(recorded["lgbm_model"]["calibration"]["predicted"]) == 10
    evaluations = {
        LGBM_OLD: Evaluated("r1", curves=recorded["sklearn_model"]),
        LGBM_NEW: Evaluated("r2", curves=recorded["lgbm_model"]),
    }
    figures = evaluation_figures("shop", "binary_classification", [VERSIONS[0], VERSIONS[2]], evaluations)
    assert set(figures) == {"roc", "calibration"}
    assert [t["name"] for t in figures["roc"]["data"]] == [
        "d0f8c61d lgbm_model",
        "b1512497 lgbm_model",
        "chance / ideal",
    ]
    assert figures["roc"]["data"][1]["y"] == roc["tpr"]
    # A version evaluated before curves were recorded is left out and named in the notes.
    older = {LGBM_OLD: Evaluated("r1"), LGBM_NEW: evaluations[LGBM_NEW]}
    assert len(evaluation_figures("shop", "binary_classification", VERSIONS, older)["roc"]["data"]) == 2
    notes = " ".join(comparison_notes(VERSIONS, older, "shop/evaluation", "binary_classification"))
    assert "d0f8c61d lgbm_model: its evaluation in shop/evaluation predates recorded curve values" in notes
    assert evaluation_figures("shop", "binary_classification", VERSIONS, {}) == {}


def test_a_regression_comparison_overlays_predicted_vs_actual_and_residuals_on_shared_bins() -> None:
    rng = np.random.default_rng(1)
    labels = rng.normal(30, 8, 500)
    scores = {"lgbm_model": labels + rng.normal(0, 2, 500), "sklearn_model": labels + rng.normal(3, 6, 500)}
    recorded = curve_values("regression", labels, scores)
    good, poor = recorded["lgbm_model"]["residuals"], recorded["sklearn_model"]["residuals"]
    assert good["edges"] == poor["edges"] and sum(good["counts"]) == sum(poor["counts"]) == 500
    evaluations = {
        LGBM_OLD: Evaluated("r1", curves=recorded["sklearn_model"]),
        LGBM_NEW: Evaluated("r2", curves=recorded["lgbm_model"]),
    }
    figures = evaluation_figures("trips", "regression", [VERSIONS[0], VERSIONS[2]], evaluations)
    assert set(figures) == {"predicted_vs_actual", "residuals"}
    assert [len(t["y"]) for t in figures["residuals"]["data"]] == [30, 30]
    assert curve_values("regression", labels[:0], {"m": labels[:0]}) == {}
    assert curve_values("binary_classification", np.zeros(5), {"m": np.full(5, 0.2)}) == {}
