"""Shadow scoring of a multiclass model: the per-row loss is the multiclass Brier score (the sum over classes of
(p_k - y_k)^2), compared by the same anytime-valid paired sequence as a binary model's. On the ticket router's
real batches a challenger that learned the new routing is promoted, and the old model, put back in shadow,
is retired."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from asset_platform.declaration import DeclarationError
from asset_platform.lifecycle.names import CHAMPION, PREDICTIONS, SHADOW_COMPARISON, SHADOW_PREDICTION
from asset_platform.registry.models import lineup_for
from asset_platform.registry.sequential import paired_loss_differences
from asset_platform.registry.shadow import current_challenger
from asset_platform.synthetic.tickets import LABEL_COLUMN, TEAMS, generate_tickets
from asset_platform.testing import LoopState, tick
from tests.ml.router import router_declaration
from tests.ml.tickets import START

BATCH_ROWS = 300


def test_the_multiclass_brier_score_sums_every_classs_squared_error() -> None:
    labels = np.array([0, 2, 1])
    sure_right = np.eye(3)[labels]
    sure_wrong = np.eye(3)[[1, 0, 2]]
    even = np.full((3, 3), 1 / 3)
    # A sure right answer loses 0, a sure wrong one 2, an even guess 1 - 1/K.
    assert paired_loss_differences(labels, sure_wrong, sure_right, "multiclass_brier").tolist() == [2.0, 2.0, 2.0]
    assert np.allclose(paired_loss_differences(labels, even, sure_right, "multiclass_brier"), 2 / 3)
    assert np.allclose(paired_loss_differences(labels, sure_right, even, "multiclass_brier"), -2 / 3)


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        (np.array([0, 1]), np.full((3, 3), 1 / 3), r"got \(3, 3\) scores for 2 labels"),
        (np.array([0, 1, 3]), np.full((3, 3), 1 / 3), "needs class codes 0..2 as labels"),
        (np.array(["a", "b", "c"]), np.full((3, 3), 1 / 3), "needs class codes 0..2 as labels"),
        (np.array([0, 1, 2]), np.full(3, 1 / 3), "a rows x classes probability matrix"),
    ],
)
def test_scores_that_do_not_line_up_with_the_labels_are_refused(labels, scores, message) -> None:
    with pytest.raises(ValueError, match=message):
        paired_loss_differences(labels, scores, scores, "multiclass_brier")


@pytest.mark.parametrize(("margin", "accepted"), [(1.5, True), (2.0, False), (3.0, False)])
def test_a_multiclass_shadow_margin_must_stay_below_two(margin, accepted) -> None:
    if accepted:
        assert router_declaration(shadow={"enabled": True, "margin": margin}).shadow.margin == margin
        return
    with pytest.raises(DeclarationError) as caught:
        router_declaration(shadow={"enabled": True, "margin": margin})
    assert "field 'shadow.margin'" in str(caught.value) and "multiclass brier" in str(caught.value)


def _land(state: LoopState, day: int) -> pd.DataFrame:
    """Land a production batch of swapped-routing tickets without its label; its labels are returned."""
    frame = generate_tickets(BATCH_ROWS, START + dt.timedelta(days=day), 2, "concept")
    name = f"tickets_{day:02d}.parquet"
    temporary = state.landing.production / f".{name}.tmp"
    frame.drop(columns=[LABEL_COLUMN]).to_parquet(temporary)
    temporary.rename(state.landing.production / name)
    return frame[["ticket_id", LABEL_COLUMN]]


def _decisions(state: LoopState) -> list[dict]:
    records = state.instance.fetch_materializations(state.names.key(CHAMPION), limit=100, ascending=True).records
    return [{k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records]


def _until_decided(state: LoopState, first_day: int, most: int = 4) -> dict:
    """Labeled batches one by one (scored, then labeled, then the shadow sensor) until a decision is taken."""
    before = len(_decisions(state))
    for day in range(first_day, first_day + most):
        labels = _land(state, day)
        assert all(run.success for run in tick(state, state.names.batch_sensor))
        labels.to_parquet(state.landing.labels / f"tickets_{day:02d}.parquet")
        assert all(run.success for run in tick(state, state.names.labels_sensor))
        assert all(run.success for run in tick(state, state.names.shadow_sensor))
        if len(_decisions(state)) > before:
            return _decisions(state)[-1]
    raise AssertionError(f"no decision after {most} labeled batches")


def test_a_better_challenger_is_promoted_and_a_worse_one_retired_on_labeled_batches(trained_router) -> None:
    router = trained_router
    names, store = router.names, router.resources["registry"].store
    old, new = router.versions
    state = LoopState(router.instance, router.defs, names, router.resources["landing"].for_model(router.declaration))
    lineup = lineup_for(router.resources["registry"], names)
    assert _decisions(state)[-1]["decision"] == "shadowed" and lineup.champion().version == old
    assert current_challenger(router.instance, names) == new

    promoted = _until_decided(state, 10)
    assert promoted["decision"] == "promoted" and "shadow: challenger no worse" in promoted["reason"], promoted
    assert lineup.champion().version == new and current_challenger(router.instance, names) is None
    comparison = router.instance.fetch_materializations(names.key(SHADOW_COMPARISON), limit=1).records[0]
    metadata = {k: v.value for k, v in comparison.asset_materialization.metadata.items()}
    differences = np.asarray(metadata["loss_differences"])
    assert metadata["loss"] == "multiclass_brier" and metadata["challenger_version"] == new
    assert np.all(np.abs(differences) <= 2) and differences.mean() > 0.1 and metadata["running_lower"] > 0
    # The challenger's scores were kept per row as one list of every team's probability, in declared order.
    predictions = store.get(names.path(PREDICTIONS), comparison.partition_key)
    shadow = np.stack(predictions[SHADOW_PREDICTION].to_numpy())
    assert shadow.shape == (BATCH_ROWS, len(TEAMS)) and np.allclose(shadow.sum(axis=1), 1.0)
    # The stored differences are the multiclass Brier scores of the stored probabilities against the labels.
    labels = pd.read_parquet(state.landing.labels / f"{comparison.partition_key}.parquet")
    joined = predictions.merge(labels, on="ticket_id")
    codes = joined[LABEL_COLUMN].map(TEAMS.index).to_numpy()
    champion = joined[[f"score_{team}" for team in TEAMS]].to_numpy()
    expected = paired_loss_differences(codes, champion, np.stack(joined[SHADOW_PREDICTION]), "multiclass_brier")
    assert np.allclose(np.sort(expected), np.sort(differences), atol=1e-5)
    # Explained per team, the batch's attributions (its rows' predicted teams') meet the reference profile's.
    scored = router.instance.fetch_materializations(names.key(PREDICTIONS), limit=1).records[0]
    batch = scored.asset_materialization.metadata["batch_attribution"].value
    assert batch["champion_version"] == old and set(batch["mean_abs"]) >= {"channel", "plan", "message_words"}
    drift = router.instance.fetch_materializations(names.key("drift"), limit=1).records[0]
    assert "drifted features that move the output" in str(
        drift.asset_materialization.metadata["attribution_drift"].value
    )

    # The old routing, put in shadow by hand beside the new champion, is worse on the same traffic: retired.
    config = {"ops": {names.op(CHAMPION): {"config": {"action": "shadow", "version": old}}}}
    job = router.defs.resolve_job_def(names.set_champion_job)
    assert job.execute_in_process(instance=router.instance, run_config=config).success
    retired = _until_decided(state, 20)
    assert retired["decision"] == "retired" and "challenger worse than the margin" in retired["reason"], retired
    assert lineup.champion().version == new and current_challenger(router.instance, names) is None
