"""Multiclass models: the metrics, every family's per-class probabilities, how predictions are stored, and the
gate's paired bootstrap on a probability matrix."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from asset_platform.declaration.names import PREDICTION, score_column, score_columns
from asset_platform.ml import TrainedModel
from asset_platform.ml.families import TrainingData, train_family, validation_split
from asset_platform.ml.families.registry import FAMILY_NAMES
from asset_platform.ml.features import fit_declared_pipeline, time_split
from asset_platform.ml.metrics import confusion_counts, metric, task_metrics
from asset_platform.ml.scoring import label_values, prediction_columns, stored_scores
from asset_platform.registry.gate import compare, multiclass_shortage
from asset_platform.synthetic.tickets import TEAMS, generate_tickets
from tests.ml.tickets import START, tickets_declaration


def _probabilities(rows: int, classes: int, signal: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    logits = rng.normal(size=(rows, classes))
    logits[np.arange(rows), labels] += signal
    probabilities = np.exp(logits)
    return labels, probabilities / probabilities.sum(axis=1, keepdims=True)


# -- metrics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_the_multiclass_metrics_match_scikit_learn(seed: int) -> None:
    labels, probabilities = _probabilities(1500, 4, 1.0, seed)
    found = task_metrics("multiclass", labels, probabilities)
    predicted = probabilities.argmax(axis=1)
    assert found["macro_auc"] == pytest.approx(roc_auc_score(labels, probabilities, multi_class="ovr"), abs=1e-12)
    assert found["log_loss"] == pytest.approx(log_loss(labels, probabilities), abs=1e-9)
    assert found["accuracy"] == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)
    assert found["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"), abs=1e-12)
    for name in ("macro_auc", "log_loss", "accuracy", "macro_f1"):
        assert metric(name, labels.astype(np.float64), probabilities) == pytest.approx(found[name], abs=1e-12)
    counts = confusion_counts(labels, probabilities)
    assert counts.sum() == len(labels) and counts.trace() == int((predicted == labels).sum())


def test_a_class_missing_from_a_sample_leaves_the_macro_auc_defined_over_the_others() -> None:
    labels, probabilities = _probabilities(600, 4, 1.5)
    present = labels != 3
    partial = metric("macro_auc", labels[present], probabilities[present])
    expected = np.mean([roc_auc_score(labels[present] == c, probabilities[present, c]) for c in range(3)])
    assert partial == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="'auc' is not a multiclass metric"):
        metric("auc", labels, probabilities)


# -- how predictions are stored -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["billing", "Billing", "tech support", "a.b", "", "ünïcode", "x" * 80, "1st line", "DROP TABLE;"]
)
def test_every_class_gets_a_column_name_safe_everywhere(name: str) -> None:
    column = score_column(name)
    assert column.startswith("score_") and column.replace("_", "").isalnum() and column.isascii()
    assert len(column) <= 60 and column == column.lower()
    assert score_column(name) == column  # the class alone decides it


def test_classes_that_read_alike_get_columns_of_their_own() -> None:
    alike = ["tech support", "Tech Support", "tech_support", "tech-support"]
    assert len(set(score_columns(alike))) == len(alike)
    assert score_column("billing") == "score_billing"


# -- every family ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def split() -> tuple:
    """Three days of tickets, split by time, featurized with the declaration's pipeline."""
    declaration = tickets_declaration()
    rows = pd.concat([generate_tickets(800, START + dt.timedelta(days=day), 0) for day in range(3)], ignore_index=True)
    train, holdout, _cut = time_split(rows, "opened_at", 0.25)
    pipeline = fit_declared_pipeline(declaration, train)
    return declaration, pipeline, pipeline.transform(train), pipeline.transform(holdout), holdout


@pytest.fixture(scope="module")
def trained(split) -> dict[str, TrainedModel]:
    declaration, pipeline, training, _holdout, _raw = split
    fit, valid = validation_split(training, "opened_at")
    models = {}
    for spec in declaration.models:
        from asset_platform.ml.families.registry import family

        family(spec.family).declare(spec)  # what building its asset does: the custom trainer's declared trust
        models[spec.family] = train_family(spec, TrainingData(pipeline, "multiclass", fit, valid)).model
    return models


def test_the_tickets_declaration_covers_every_registered_family() -> None:
    assert sorted(spec.family for spec in tickets_declaration().models) == sorted(FAMILY_NAMES)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_family_predicts_each_class_probability_and_loads_back_predicting_the_same(
    name, split, trained, tmp_path
) -> None:
    _declaration, _pipeline, _training, holdout, _raw = split
    model = trained[name]
    assert model.task == "multiclass" and model.classes == TEAMS
    probabilities = model.predict(holdout)
    assert probabilities.shape == (len(holdout), len(TEAMS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    found = task_metrics("multiclass", holdout["team"].to_numpy(), probabilities)
    # Better than always answering the commonest team, in ranking and in accuracy.
    assert found["macro_auc"] > 0.7 and found["accuracy"] > found["majority_share"] + 0.05, found
    model.save(tmp_path)
    np.testing.assert_allclose(TrainedModel.load(tmp_path).predict(holdout), probabilities, rtol=0, atol=1e-7)
    # A row or two scores as in the batch (online requests).
    np.testing.assert_allclose(model.predict(holdout.iloc[[3, 1]]), probabilities[[3, 1]], rtol=0, atol=1e-6)


def test_a_class_absent_from_training_keeps_its_column_at_probability_zero(split) -> None:
    declaration, pipeline, training, holdout, _raw = split
    without_sales = training[training["team"] != TEAMS.index("sales")]
    fit, valid = validation_split(without_sales, "opened_at")
    spec = next(spec for spec in declaration.models if spec.family == "sklearn")
    model = train_family(spec, TrainingData(pipeline, "multiclass", fit, valid)).model
    probabilities = model.predict(holdout)
    assert probabilities.shape[1] == len(TEAMS) and np.all(probabilities[:, TEAMS.index("sales")] == 0)


def test_predictions_store_the_predicted_class_and_one_score_column_per_class(split, trained) -> None:
    _declaration, _pipeline, _training, holdout, _raw = split
    model = trained["lightgbm"]
    probabilities = model.predict(holdout)
    columns = prediction_columns(model, probabilities)
    assert list(columns) == [PREDICTION, *(f"score_{team}" for team in TEAMS)]
    frame = pd.DataFrame(columns)
    assert set(frame[PREDICTION]) <= set(TEAMS)
    assert (frame[PREDICTION] == np.asarray(TEAMS)[probabilities.argmax(axis=1)]).all()
    np.testing.assert_array_equal(stored_scores(model, frame), probabilities)


# -- the gate ----------------------------------------------------------------------------------------


def test_the_gate_promotes_a_better_multiclass_model_and_refuses_an_equal_one(split, trained) -> None:
    declaration, _pipeline, _training, holdout, raw = split
    labels = label_values(declaration, raw)
    np.testing.assert_array_equal(labels, holdout["team"].to_numpy())
    good = trained["lightgbm"].predict(holdout)
    # A weak challenger: the good model's probabilities blurred halfway to uniform, plus noise.
    rng = np.random.default_rng(0)
    weak = 0.3 * good + 0.7 * rng.dirichlet(np.ones(len(TEAMS)), len(good))
    for name in ("macro_auc", "log_loss", "accuracy", "macro_f1"):
        better = compare("holdout", labels, weak, good, name, resamples=100)
        assert better.passed and better.improvement > 0, better.describe()
        assert not compare("holdout", labels, good, weak, name, resamples=100).passed
        same = compare("holdout", labels, good, good, name, resamples=100)
        assert not same.passed and same.improvement == 0


def test_a_holdout_with_too_few_rows_of_a_class_decides_nothing_naming_the_class() -> None:
    labels = np.array([0] * 50 + [1] * 40 + [2] * 5 + [3] * 30)
    message = multiclass_shortage(labels, TEAMS, 20)
    assert "holds 5 of 'account' (needs 20 of each class)" in message
    assert multiclass_shortage(labels, TEAMS, 5) is None


# -- the label-free estimate ---------------------------------------------------------------------------


def _estimate_errors(model, estimator, drift: str | None, batches: int = 6) -> dict[str, np.ndarray]:
    """Estimated minus realized, per metric, over `batches` production batches of 1500 tickets."""
    from asset_platform.ml.estimation import estimate_all
    from asset_platform.ml.features import FeaturePipeline

    pipeline = FeaturePipeline.from_dict(model.extra["feature_pipeline"])
    errors: dict[str, list[float]] = {"macro_auc": [], "accuracy": [], "macro_f1": [], "log_loss": []}
    for day in range(batches):
        batch = pipeline.transform(generate_tickets(1500, START + dt.timedelta(days=10 + day), 1, drift))
        probabilities = model.predict(batch)
        realized = task_metrics("multiclass", batch["team"].to_numpy(), probabilities)
        estimated = estimate_all(estimator, probabilities)
        for name, found in errors.items():
            found.append(estimated[name] - realized[name])
    return {name: np.asarray(found) for name, found in errors.items()}


def test_the_multiclass_estimate_follows_the_realized_macro_auc_without_labels() -> None:
    """CBPE one-vs-rest: per-class isotonic maps fitted on the holdout (here 1500 rows; on a 600-row one the
    maps overfit and the estimate runs about 0.02 high). Measured on 6 batches of 1500 tickets each (sklearn):
    macro AUC MAE 0.009 stable, 0.016 covariate-shifted, 0.005 prior-shifted (issue 29 asks <= 0.03). A
    concept change leaves the scores' distribution alone and is invisible to it."""
    from asset_platform.ml.estimation import estimate, estimate_interval, fit_estimator

    declaration = tickets_declaration(models=[{"family": "sklearn"}])
    rows = pd.concat([generate_tickets(1500, START + dt.timedelta(days=day), 0) for day in range(4)], ignore_index=True)
    train, holdout_rows, _cut = time_split(rows, "opened_at", 0.25)
    pipeline = fit_declared_pipeline(declaration, train)
    training, holdout = pipeline.transform(train), pipeline.transform(holdout_rows)
    fit, valid = validation_split(training, "opened_at")
    model = train_family(declaration.models[0], TrainingData(pipeline, "multiclass", fit, valid)).model
    estimator = fit_estimator("multiclass", None, model.predict(holdout), holdout["team"].to_numpy())
    assert estimator["method"] == "cbpe_multiclass" and len(estimator["calibrations"]) == len(TEAMS)
    realized = task_metrics("multiclass", holdout["team"].to_numpy(), model.predict(holdout))
    assert abs(estimator["holdout"]["macro_auc"] - realized["macro_auc"]) < 0.02
    for drift in (None, "covariate", "prior"):
        errors = _estimate_errors(model, estimator, drift)
        assert np.abs(errors["macro_auc"]).mean() <= 0.03, (drift, errors["macro_auc"])
        assert np.abs(errors["accuracy"]).mean() <= 0.05, (drift, errors["accuracy"])
    assert _estimate_errors(model, estimator, "concept", batches=2)["macro_auc"].mean() > 0.1
    probabilities = model.predict(pipeline.transform(generate_tickets(1500, START + dt.timedelta(days=10), 1)))
    low, high = estimate_interval("macro_auc", estimator, probabilities)
    assert low < estimate("macro_auc", estimator, probabilities) < high


def test_a_multiclass_holdout_of_one_class_fits_no_estimator() -> None:
    from asset_platform.ml.estimation import fit_estimator

    _labels, probabilities = _probabilities(200, 4, 1.0)
    assert fit_estimator("multiclass", None, probabilities, np.zeros(200)) == {}


# -- label shift -------------------------------------------------------------------------------------


def test_sales_tickets_at_triple_odds_are_a_label_shift_and_another_stable_day_is_not() -> None:
    from asset_platform.ml.metrics import class_shift_effect
    from asset_platform.ml.scoring import label_reference

    declaration = tickets_declaration(models=[{"family": "sklearn"}])
    reference = label_reference(declaration, generate_tickets(3000, START, 0))["label_shares"]
    assert list(reference) == TEAMS and sum(reference.values()) == pytest.approx(1.0)
    shares = list(reference.values())

    def effect(drift):
        batch = generate_tickets(2000, START + dt.timedelta(days=5), 1, drift)
        return class_shift_effect(label_values(declaration, batch), shares)

    stable, (shifted, batch_shares) = effect(None)[0], effect("prior")
    assert stable < 0.1 < 0.2 < shifted
    assert batch_shares[TEAMS.index("sales")] > 1.5 * reference["sales"]


# -- a bounded training sample ---------------------------------------------------------------------


def test_a_sampled_multiclass_window_keeps_each_classs_share_and_is_drawn_again_the_same(tmp_path) -> None:
    import dagster as dg

    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.lifecycle.features import feature_assets
    from asset_platform.ml.features import FeaturePipeline, training_rows

    declaration = tickets_declaration(models=[{"family": "sklearn"}], training={"max_rows": 900})
    names = lifecycle_names(declaration)
    rows = pd.concat([generate_tickets(800, START + dt.timedelta(days=day), 0) for day in range(3)], ignore_index=True)

    @dg.asset(key=names.key("dataset"))
    def dataset() -> pd.DataFrame:
        return rows

    result = dg.materialize(
        [dataset, *feature_assets(declaration, names)],
        resources={"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))},
    )
    training = result.output_for_node(names.feature_op, "training_set")
    pipeline = FeaturePipeline.from_dict(result.output_for_node(names.feature_op, "feature_pipeline"))
    assert len(training) == 900
    window = rows[rows["opened_at"] < pd.Timestamp(pipeline.cutoff)]
    expected = window["team"].value_counts(normalize=True)
    found = pd.Series(np.asarray(TEAMS)[training["team"]]).value_counts(normalize=True)
    assert (found - expected).abs().max() < 0.01
    assert set(training_rows(rows, pipeline)["ticket_id"]) == set(training["ticket_id"])


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_family_explains_each_classs_margin_and_each_row_by_its_predicted_class(name, split, trained) -> None:
    from asset_platform.ml.explain import explain, raw_margin

    _declaration, _pipeline, _training, holdout, _raw = split
    model = trained[name]
    rows = holdout.iloc[:40]
    attribution = explain(model, rows, background=holdout.iloc[100:140])
    count = len(attribution.values)
    assert attribution.per_class.shape == (count, len(model.feature_names), len(TEAMS)) and attribution.classes == TEAMS
    # Each class's contributions start from its base and sum to its margin (exactly, or up to the method's
    # approximation: integrated gradients' discretisation).
    margins = raw_margin(model, rows[model.feature_names].to_numpy(dtype=np.float32))[:count]
    gap = np.abs(attribution.class_base + attribution.per_class.sum(axis=1) - margins)
    spread = np.abs(margins - attribution.class_base).max()
    assert gap.max() <= (1e-5 * (1 + np.abs(margins).max()) if attribution.exact else 0.05 * max(1.0, spread))
    # A row's one attribution (top reasons, attribution drift) is that of the class it is predicted.
    predicted = model.predict(rows)[:count].argmax(axis=1)
    np.testing.assert_array_equal(attribution.values, attribution.per_class[np.arange(count), :, predicted])
    np.testing.assert_array_equal(attribution.base, attribution.class_base[np.arange(count), predicted])
    by_class = attribution.mean_abs_by_class()
    assert list(by_class) == TEAMS and all(set(found) == set(model.feature_names) for found in by_class.values())
    # Each team follows from its own features: their importances differ between teams.
    assert len({max(found, key=found.get) for found in by_class.values()}) > 1, by_class
