"""Rare positives (issue 29, part 2): average precision and precision at a declared recall as metrics,
a gate that will not decide on a holdout with a handful of positives, and a split that keeps them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve

from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.fairness.weighted import weighted_metric
from asset_platform.lifecycle.features import SplitConfig, learning_window
from asset_platform.ml.estimation import estimate_all, estimated_average_precision, fit_estimator
from asset_platform.ml.features import time_split
from asset_platform.ml.metrics import average_precision, metric, precision_at_recall, task_metrics
from asset_platform.registry.gate import class_shortage, compare
from tests.declaration.loans import generate_loans, loans_declaration

START = dt.date(2026, 7, 1)


def _declaration(**changes) -> ModelDeclaration:
    fields = loans_declaration().model_dump(exclude_none=True)
    fields.update(changes)
    return ModelDeclaration(**fields)


def _rare(rows: int, positive_rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < positive_rate).astype(np.int64)
    scores = np.clip(rng.normal(0.2 + 0.3 * labels, 0.15), 0, 1).round(3)  # rounded: ties, as real scores have
    return labels, scores


# -- the metrics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_and_precision_at_recall_match_scikit_learn(seed: int) -> None:
    labels, scores = _rare(3000, 0.015, seed)
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    precision, recall, _ = precision_recall_curve(labels, scores)
    for target in (0.5, 0.8, 0.95):
        expected = precision[recall >= target].max()
        assert precision_at_recall(labels, scores, target) == pytest.approx(expected, abs=1e-12)
        assert metric("precision_at_recall", labels, scores, target) == pytest.approx(expected, abs=1e-12)
    found = task_metrics("binary_classification", labels, scores, recall=0.8)
    assert found["average_precision"] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert "precision_at_recall" in found
    assert "precision_at_recall" not in task_metrics("binary_classification", labels, scores)
    # AP's baseline is the positive rate: a useless ranking scores about that, not 0.5 as AUC does.
    assert average_precision(labels, np.zeros(len(labels))) == pytest.approx(labels.mean())


def test_the_metrics_are_undefined_without_positives_and_precision_at_recall_needs_its_recall() -> None:
    labels = np.zeros(50)
    assert np.isnan(average_precision(labels, np.linspace(0, 1, 50)))
    with pytest.raises(ValueError, match="metric_recall"):
        metric("precision_at_recall", labels, np.linspace(0, 1, 50))


def test_weighted_average_precision_matches_scikit_learn_with_sample_weights() -> None:
    labels, scores = _rare(800, 0.05, 3)
    weights = np.random.default_rng(4).integers(0, 3, (6, len(labels))).astype(np.float64)
    found = weighted_metric("average_precision", labels, scores, weights)
    for row, value in zip(weights, found, strict=True):
        assert value == pytest.approx(average_precision_score(labels, scores, sample_weight=row), abs=1e-9)


def test_average_precision_is_estimated_from_calibrated_scores() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.beta(0.3, 15, 20_000)
    realized = [
        average_precision_score(rng.random(len(probabilities)) < probabilities, probabilities) for _ in range(20)
    ]
    # Calibrated scores: the expected AP is close to what labels drawn from them give.
    assert estimated_average_precision(probabilities) == pytest.approx(np.mean(realized), abs=0.02)
    labels = (rng.random(len(probabilities)) < probabilities).astype(np.int64)
    estimator = fit_estimator("binary_classification", np.zeros((len(labels), 1)), probabilities, labels)
    assert set(estimator["holdout"]) == {"auc", "average_precision"}
    assert set(estimate_all(estimator, probabilities[:500])) == {"auc", "average_precision"}


# -- the declaration -----------------------------------------------------------------------------


def test_a_declaration_judged_by_average_precision_loads() -> None:
    declaration = _declaration(metric="average_precision", gate={"resamples": 60, "min_positives": 15})
    assert declaration.gate_metric == "average_precision"
    assert declaration.metric_drop_alarm == 0.05  # absolute, like AUC's
    assert declaration.gate.min_positives == 15 and declaration.gate.min_negatives == 20
    recall = _declaration(metric="precision_at_recall", metric_recall=0.8)
    assert recall.metric_recall == 0.8


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"task": "regression", "metric": "average_precision"}, "metric"),
        ({"task": "regression", "metric": "rmse", "gate": {"metric": "precision_at_recall"}}, "gate.metric"),
        ({"metric": "precision_at_recall"}, "metric_recall"),
        ({"metric": "average_precision", "metric_recall": 0.8}, "metric_recall"),
        ({"metric": "precision_at_recall", "metric_recall": 1.2}, "metric_recall"),
        ({"gate": {"min_positives": 0}}, "gate.min_positives"),
        (
            {"gate": {"metric": "precision_at_recall"}, "metric_recall": 0.8, "fairness": {"attributes": ["region"]}},
            "fairness.metric",
        ),
        (
            {"metric": "precision_at_recall", "metric_recall": 0.8, "monitoring": {"use_estimated_performance": True}},
            "monitoring.use_estimated_performance",
        ),
    ],
)
def test_a_metric_that_does_not_fit_fails_at_load_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        _declaration(**changes)
    assert raised.value.field == field, str(raised.value)
    assert raised.value.declaration == "loans"


# -- the gate ------------------------------------------------------------------------------------


def test_class_shortage_names_the_counts_and_the_minimums() -> None:
    labels = np.r_[np.ones(7), np.zeros(993)]
    reason = class_shortage(labels, 20, 20)
    assert reason is not None and "7 positives (needs 20)" in reason and "1000 rows" in reason
    assert class_shortage(labels, 5, 20) is None
    assert "0 negatives (needs 20)" in class_shortage(np.ones(30), 20, 20)


def test_compare_on_a_holdout_of_one_class_does_not_pass_or_crash() -> None:
    labels = np.zeros(200)
    rng = np.random.default_rng(0)
    for name in ("auc", "average_precision"):
        comparison = compare("holdout", labels, rng.random(200), rng.random(200), name, resamples=50)
        assert not comparison.passed and np.isnan(comparison.ci_low)


# -- the split and the window --------------------------------------------------------------------


def _timed(rows: int, positive_rate: float, seed: int = 0) -> pd.DataFrame:
    labels, _ = _rare(rows, positive_rate, seed)
    times = pd.Timestamp("2026-07-01", tz="UTC") + pd.to_timedelta(np.arange(rows), unit="min")
    return pd.DataFrame({"at": times, "y": labels})


def test_the_holdout_reaches_back_in_time_for_enough_positives() -> None:
    rows = _timed(5000, 0.01)
    _train, plain, _ = time_split(rows, "at", 0.2)
    train, holdout, cutoff = time_split(rows, "at", 0.2, "y", 20)
    assert plain["y"].sum() < 20 <= holdout["y"].sum()
    assert train["at"].max() < cutoff <= holdout["at"].min()  # still the newest rows
    # Never more than half the rows: a holdout short even then is left for the gate to refuse.
    _train, capped, _ = time_split(rows, "at", 0.2, "y", 10_000)
    assert len(capped) <= len(rows) // 2 + 1


def test_the_retraining_window_reaches_back_for_enough_positives() -> None:
    rows = _timed(10_000, 0.005, 1)  # about 7 days at a row a minute
    plain = learning_window(rows, "at", SplitConfig(window_days=1))
    window = learning_window(rows, "at", SplitConfig(window_days=1), "y", 20)
    assert plain["y"].sum() < 40 <= window["y"].sum()
    assert window["at"].max() == rows["at"].max()
    # The evidence window is used only when it holds them too.
    since = SplitConfig(window_days=None, since=str(rows["at"].iloc[-1500]), min_rows=100)
    assert len(learning_window(rows, "at", since)) == 1500
    assert learning_window(rows, "at", since, "y", 20)["y"].sum() >= 40


# -- end to end ----------------------------------------------------------------------------------


def _write_rare_history(folder: Path, start: dt.date, days: int, rows: int, keep: float = 0.04) -> None:
    """Loan applications with most defaults left out: about 1.5 % positives instead of about 28 %."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(days):
        day = start + dt.timedelta(days=index)
        frame = generate_loans(rows, day, 1)
        rng = np.random.default_rng(day.toordinal())
        kept = (frame["defaulted"] == 0) | (rng.random(len(frame)) < keep)
        frame[kept].to_parquet(folder / f"applications_{day}.parquet")


def _champion_metadata(result, key: dg.AssetKey) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in events[-1].materialization.metadata.items()}


def test_rare_positives_train_gate_on_average_precision_and_refuse_a_thin_holdout(tmp_path, monkeypatch) -> None:
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.registry.models import lineup_for
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    declaration = _declaration(metric="average_precision", gate={"resamples": 60, "min_positives": 20})
    home = PlatformHome(tmp_path).ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    resources = local_resources(home)
    names = lifecycle_names(declaration)
    landing = resources["landing"].for_model(declaration).ensure()
    _write_rare_history(landing.history, START, 4, 2500)
    with dg.DagsterInstance.get() as instance:

        def train(declared: ModelDeclaration):
            job = build_definitions([declared], resources).resolve_job_def(names.training_job)
            result = job.execute_in_process(instance=instance)
            assert result.success
            return result

        first = train(declaration)
        assert _champion_metadata(first, names.champion)["decision"] == "promoted"
        split = _champion_metadata(first, names.key("holdout_set"))
        assert split["holdout_positives"] >= 20 and "holdout_warning" not in split
        evaluation = _champion_metadata(first, names.key("evaluation"))
        assert evaluation["metric"] == "average_precision"
        champion = lineup_for(resources["registry"], names).champion()
        assert 0 < champion.metrics["holdout_average_precision"] < 1

        # A day more: new models, judged against the champion by a paired bootstrap of average precision.
        _write_rare_history(landing.history, START + dt.timedelta(days=4), 1, 2500)
        gated = _champion_metadata(train(declaration), names.champion)
        assert gated["decision"] in ("promoted", "rejected")
        assert "average_precision" in gated["reason"] and "holdout/improvement" in gated

        # A gate asking for more positives than the holdout holds decides nothing and keeps the champion.
        before = lineup_for(resources["registry"], names).champion()
        _write_rare_history(landing.history, START + dt.timedelta(days=5), 1, 2500)
        strict = _declaration(metric="average_precision", gate={"resamples": 60, "min_positives": 5000})
        result = train(strict)
        refused = _champion_metadata(result, names.champion)
        held = _champion_metadata(result, names.key("holdout_set"))
        assert refused["decision"] == "insufficient"
        assert f"holds {held['holdout_positives']} positives (needs 5000)" in refused["reason"]
        assert "needs 5000" in held["holdout_warning"]
        assert lineup_for(resources["registry"], names).champion().version == before.version
