"""Per-group evidence and the gate's fairness rule on real trained models (planted bias vs seed-only retrains)."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import roc_auc_score

from asset_platform.fairness import evaluate_groups, group_labels, judge, weighted_metric
from asset_platform.fairness.report import decision_markdown, group_table_markdown
from asset_platform.ml.metrics import auc
from asset_platform.registry.gate import bootstrap_indices
from tests.fairness.conftest import Trained

TOLERANCE = 0.03


def _evidence(trained: Trained, *models: str, min_group_size: int = 50, resamples: int = 200):
    return evaluate_groups(
        trained.groups,
        trained.labels,
        trained.scores(*models),
        task="binary_classification",
        metric="auc",
        min_group_size=min_group_size,
        resamples=resamples,
    )


def test_a_retrain_that_under_represents_a_group_is_blocked_naming_it(trained: Trained) -> None:
    decision = judge(_evidence(trained, "champion", "biased"), "champion", "biased", "auc", TOLERANCE)
    [verdict] = decision.verdicts
    assert decision.blocked and verdict.blocked
    assert verdict.challenger_gap.worst_group == "region=west"
    assert verdict.ci_low > 0 and verdict.ci_high > TOLERANCE
    text = decision.describe()
    assert "region BLOCKS" in text and "worst region=west" in text and "95% CI" in text
    assert "Fairness rule blocks the challenger" in decision_markdown(decision)


@pytest.mark.parametrize("retrain", ["seed_2", "seed_3"])
def test_a_retrain_that_differs_only_by_seed_is_not_blocked(trained: Trained, retrain: str) -> None:
    decision = judge(_evidence(trained, "champion", retrain), "champion", retrain, "auc", TOLERANCE)
    assert not decision.blocked, decision.describe()
    assert decision.verdicts[0].judged


def test_report_only_never_blocks(trained: Trained) -> None:
    decision = judge(_evidence(trained, "champion", "biased"), "champion", "biased", "auc", None)
    assert not decision.blocked and "report only" in decision.describe()


def test_point_figures_match_fairlearn(trained: Trained) -> None:
    scores = trained.scores("champion")["champion"]
    groups = trained.groups["region"]
    evidence = _evidence(trained, "champion", resamples=50)
    predicted = (scores >= 0.5).astype(int)
    frame = MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate},
        y_true=trained.labels,
        y_pred=predicted,
        sensitive_features=groups,
    )
    by_auc = MetricFrame(metrics=roc_auc_score, y_true=trained.labels, y_pred=scores, sensitive_features=groups)
    for group in ("north", "south", "east", "west"):
        ours = evidence.points["champion"]["region"][group]
        for metric in ("tpr", "fpr", "selection_rate"):
            assert ours[metric] == pytest.approx(frame.by_group.loc[group, metric], abs=1e-12)
        assert ours["auc"] == pytest.approx(by_auc.by_group.loc[group], abs=1e-12)


def test_resampled_figures_are_the_gates_resamples() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 400)
    scores = np.round(rng.random(400), 1)  # ties on purpose
    groups = {"g": group_labels(rng.choice(["a", "b"], 400))}
    evidence = evaluate_groups(
        groups, labels, {"m": scores}, task="binary_classification", metric="auc", min_group_size=10, resamples=30
    )
    members = np.flatnonzero(groups["g"] == "a")
    for draw, index in enumerate(bootstrap_indices(400, 30, seed=0)):
        chosen = index[np.isin(index, members)]
        assert evidence.draws["m"]["g"]["a"]["auc"][draw] == pytest.approx(auc(labels[chosen], scores[chosen]))
        expected_rate = (scores[chosen] >= 0.5).mean()
        assert evidence.draws["m"]["g"]["a"]["selection_rate"][draw] == pytest.approx(expected_rate)


def test_small_groups_are_reported_insufficient_never_judged(trained: Trained) -> None:
    west = int((trained.groups["region"] == "west").sum())
    evidence = _evidence(trained, "champion", "biased", min_group_size=west + 1)
    report = evidence.report("biased")
    [small] = [figure for figure in report.groups if figure.group == "west"]
    assert not small.sufficient and small.intervals == {}
    assert "region=west" not in (report.gap("region", "auc").low_group, report.gap("region", "auc").high_group)
    assert "insufficient" in group_table_markdown([report])
    decision = judge(evidence, "champion", "biased", "auc", TOLERANCE)
    assert f"region=west ({west} rows)" in decision.describe()


def test_one_sufficient_group_is_not_judged_and_says_so() -> None:
    labels = np.array([0, 1] * 60)
    groups = {"g": group_labels(np.array(["a"] * 100 + ["b"] * 20))}
    scores = {"old": np.linspace(0, 1, 120), "new": np.linspace(1, 0, 120)}
    evidence = evaluate_groups(groups, labels, scores, task="binary_classification", metric="auc", min_group_size=50)
    decision = judge(evidence, "old", "new", "auc", 0.0)
    assert not decision.blocked and not decision.verdicts[0].judged
    assert "not judged" in decision.describe() and "g=b (20 rows)" in decision.describe()


def test_regression_groups_report_rmse_and_mae() -> None:
    rng = np.random.default_rng(0)
    labels = rng.normal(size=300)
    groups = {"zone": group_labels(np.where(np.arange(300) < 150, "a", None))}
    noisy = labels + np.where(np.arange(300) < 150, 0.1, 1.0) * rng.normal(size=300)
    evidence = evaluate_groups(
        groups, labels, {"m": noisy}, task="regression", metric="rmse", min_group_size=50, resamples=50
    )
    gap = evidence.report("m").gap("zone", "rmse")
    assert gap.worst_group == "zone=missing" and gap.value > 0.5
    assert evidence.metrics == ("rmse", "mae")


def test_unknown_group_metric_is_named() -> None:
    with pytest.raises(ValueError, match="unknown group metric 'precision'"):
        weighted_metric("precision", np.ones(3), np.ones(3), np.ones(3))
