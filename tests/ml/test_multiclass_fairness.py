"""A multiclass model audited per group and explained per class: each group's declared metric (and accuracy
and macro F1) with its interval, the largest gaps, the gate's fairness verdict, and each class's attributions,
on the ticket router trained for real (tests/ml/conftest.py), audited by region."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from asset_platform.declaration import DeclarationError
from asset_platform.declaration.names import CHAMPION, EVALUATION
from asset_platform.fairness.weighted import group_metric_names, weighted_metric
from asset_platform.ml.metrics import metric
from asset_platform.synthetic.tickets import REGIONS, TEAMS
from tests.ml.router import router_declaration

_METRICS = ("macro_auc", "log_loss", "accuracy", "macro_f1")


def _sample(rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.dirichlet(np.ones(4), rows)
    # Labels that follow the scores, so every metric is far from chance; class 3 is rare.
    labels = np.array([rng.choice(4, p=(p + np.eye(4)[p.argmax()]) / 2) for p in scores])
    return labels, scores


@pytest.mark.parametrize("name", _METRICS)
def test_each_weighted_multiclass_metric_is_the_metric_of_the_rows_it_weighs(name) -> None:
    labels, scores = _sample()
    point = weighted_metric(name, labels, scores, np.ones(len(labels)))[0]
    assert point == pytest.approx(metric(name, labels, scores), abs=1e-9)
    if name == "macro_f1":
        assert point == pytest.approx(f1_score(labels, scores.argmax(axis=1), average="macro"), abs=1e-9)
    # A bootstrap resample (row counts) equals the metric of the rows it draws, repeated as often.
    rng = np.random.default_rng(1)
    counts = np.vstack([np.bincount(rng.integers(0, len(labels), len(labels)), minlength=len(labels)) for _ in "ab"])
    for weights, value in zip(counts, weighted_metric(name, labels, scores, counts), strict=True):
        drawn = np.repeat(np.arange(len(labels)), weights)
        assert value == pytest.approx(metric(name, labels[drawn], scores[drawn]), abs=1e-9)


def test_a_multiclass_group_metric_of_a_binary_kind_is_refused_naming_the_metrics() -> None:
    labels, scores = _sample(20)
    with pytest.raises(ValueError, match="unknown multiclass group metric 'tpr'; use one of macro_auc, log_loss"):
        weighted_metric("tpr", labels, scores, np.ones(20))
    assert group_metric_names("multiclass", "macro_auc") == ("macro_auc", "accuracy", "macro_f1")
    assert group_metric_names("multiclass", "accuracy") == ("accuracy", "macro_f1")


@pytest.mark.parametrize(
    ("fairness", "field", "message"),
    [
        ({"attributes": ["region"], "metric": "tpr"}, "fairness.metric", "use one of ('macro_auc', 'log_loss'"),
        ({"attributes": ["region"], "threshold": 0.3}, "fairness.threshold", "no threshold (0.3 was declared)"),
        ({"attributes": ["message_words"]}, "fairness.attributes", "'message_words' has dtype int"),
    ],
)
def test_a_multiclass_fairness_part_that_cannot_apply_is_refused_naming_the_field(fairness, field, message) -> None:
    with pytest.raises(DeclarationError) as caught:
        router_declaration(fairness=fairness)
    assert f"field '{field}'" in str(caught.value) and message in str(caught.value)


def _metadata(record) -> dict:
    return {name: entry.value for name, entry in record.asset_materialization.metadata.items()}


def _table(markdown: str) -> list[dict[str, str]]:
    from asset_platform.app.pages.versions import markdown_rows

    return markdown_rows(markdown)


def test_the_evaluation_reports_each_regions_figures_and_each_teams_attributions(trained_router) -> None:
    from asset_platform.ml.scoring import label_values, score_rows
    from asset_platform.registry.holdout import newest_holdout
    from asset_platform.registry.models import lineup_for

    router = trained_router
    evaluation = _metadata(router.instance.fetch_materializations(router.names.key(EVALUATION), limit=1).records[0])
    rows = {row["group"]: row for row in _table(evaluation["fairness/groups"]) if row["model"] == "lightgbm_model"}
    assert set(rows) == {f"region={region}" for region in REGIONS}
    # Each region's accuracy and macro F1, as the evaluation reports them, are those of its holdout rows.
    lineup = lineup_for(router.resources["registry"], router.names)
    holdout = newest_holdout(lineup, router.names).rows
    scores = score_rows(lineup.load("tickets/lightgbm_model", router.versions[1]), holdout)
    codes, predicted = label_values(router.declaration, holdout), scores.argmax(axis=1)
    for region in REGIONS:
        mine = (holdout["region"] == region).to_numpy()
        row = rows[f"region={region}"]
        assert int(row["rows"]) == mine.sum() and row["status"] == "ok"
        assert float(row["accuracy"].split()[0]) == pytest.approx(np.mean(predicted[mine] == codes[mine]), abs=6e-4)
        expected_f1 = f1_score(codes[mine], predicted[mine], average="macro")
        assert float(row["macro_f1"].split()[0]) == pytest.approx(expected_f1, abs=6e-4)
        low, high = (float(x) for x in row["macro_auc"].split(" ", 1)[1].strip("[]").split(","))
        assert low < float(row["macro_auc"].split()[0]) < high
    gaps = {row["metric"]: row for row in _table(evaluation["fairness/gaps"]) if row["model"] == "lightgbm_model"}
    assert set(gaps) == {"macro_auc", "accuracy", "macro_f1"} and all("region=" in g["between"] for g in gaps.values())
    # Each team's attributions of its own margin, beside the predicted team's (the global figure).
    by_class = evaluation["explanations/by_class_values"]["lightgbm_model"]
    assert set(by_class) == set(TEAMS) and all(set(found) == set(by_class[TEAMS[0]]) for found in by_class.values())
    assert "lightgbm_model" in evaluation["explanations/by_class"]
    assert "data:image/png;base64," in evaluation["explanations/by_class_chart"]
    model = _metadata(router.instance.fetch_materializations(router.names.key("lightgbm_model"), limit=1).records[0])
    assert "TreeSHAP" in model["explanations/method"] and "billing" in model["explanations/by_class"]


def test_the_gate_judged_the_challengers_regions_on_the_raw_holdout(trained_router) -> None:
    router = trained_router
    records = router.instance.fetch_materializations(router.names.key(CHAMPION), limit=50, ascending=True).records
    gated = next(_metadata(r) for r in records if _metadata(r).get("decision") == "shadowed")
    assert "region" in gated["fairness"] and "Fairness rule passes" in gated["fairness"]
    assert gated["fairness/blocked"] is False and "largest macro_auc gap" in gated["fairness"]
    assert -1 <= gated["explanations/rank_correlation"] <= 1
