"""A multiclass model's training job, materialized for real: every family trains on the generated tickets,
the evaluation records confusion matrices, and the gate promotes a better challenger and refuses a worse one
by the same paired bootstrap, on the declared metric."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from asset_platform.synthetic.tickets import TEAMS
from tests.ml.tickets import START, tickets_declaration, write_ticket_history


def _metadata(result, key: dg.AssetKey) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in events[-1].materialization.metadata.items()}


@pytest.fixture
def platform(tmp_path, monkeypatch):
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome
    from asset_platform.resources.local import local_resources

    home = PlatformHome(tmp_path).ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    return local_resources(home)


def test_every_family_trains_and_the_gate_promotes_a_better_model_and_refuses_a_worse_one(platform) -> None:
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.registry.models import lineup_for
    from definitions import build_definitions

    everyone = tickets_declaration()
    # A model that sees only the customer's region, which barely tells the teams apart.
    blind = tickets_declaration(features=["region"], segments=[], models=[{"family": "sklearn", "name": "blind_model"}])
    names = lifecycle_names(everyone)
    landing = platform["landing"].for_model(everyone).ensure()
    write_ticket_history(landing.history, START, 3, 1000)
    with dg.DagsterInstance.get() as instance:

        def train(declaration):
            job = build_definitions([declaration], platform).resolve_job_def(names.training_job)
            result = job.execute_in_process(instance=instance)
            assert result.success
            return result, _metadata(result, names.champion)

        # The blind model is the first champion: nothing to compare with.
        first, decision = train(blind)
        assert decision["decision"] == "promoted" and "blind_model" in decision["reason"]

        # Every family trains; the best of them beats the blind champion on macro AUC, beyond noise.
        result, decision = train(everyone)
        for spec in everyone.models:
            model = _metadata(result, names.key(spec.asset_name))
            assert model["task"] == "multiclass" and 0.7 < model["metrics/holdout_macro_auc"] <= 1, spec.family
        evaluation = _metadata(result, names.key("evaluation"))
        assert evaluation["metric"] == "macro_auc"
        confusion = evaluation["confusion_matrix_values"]
        assert set(confusion) == {spec.asset_name for spec in everyone.models}
        holdout_rows = evaluation["holdout_rows"]
        for found in confusion.values():
            assert found["classes"] == TEAMS and sum(map(sum, found["counts"])) == holdout_rows
        assert "rows: actual, columns: predicted" in evaluation["confusion_matrices"]
        assert "data:image/png;base64," in evaluation["confusion_matrices"]
        assert all(team in evaluation["per_class"] for team in TEAMS)
        assert decision["decision"] == "promoted", decision["reason"]
        assert "macro_auc" in decision["reason"] and decision["holdout/improvement"] > 0.05
        # Drift is measured on each class's score and on the predicted classes' shares.
        profile = _metadata(result, names.key("reference_profile"))["distributions"]
        assert all(f"score_{team}" in profile for team in TEAMS) and "prediction" in profile
        champion = lineup_for(platform["registry"], names).champion()
        assert not champion.model_asset.endswith("blind_model") and champion.metrics["holdout_macro_auc"] > 0.7

        # The blind model again, on a day more: worse than the champion, refused by the same bootstrap.
        write_ticket_history(landing.history, START + dt.timedelta(days=3), 1, 1000)
        _result, decision = train(blind)
        assert decision["decision"] == "rejected", decision["reason"]
        assert "does not beat the champion: macro_auc" in decision["reason"]
        assert lineup_for(platform["registry"], names).champion().version == champion.version
