"""Shadow scoring end to end on a real instance: the loan model with `shadow.enabled`.

The champion is trained on stable history. The default behaviour then flips
(`concept` drift) and the history grows; training again, the gate passes the new
model, which goes into shadow instead of production. Labeled concept batches
arrive; the shadow sensor promotes it on the confidence sequence's evidence. The
old model, put in shadow by hand, is worse on the same traffic and is retired.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from asset_platform.app.demo import LoopState, tick
from asset_platform.declaration.model import ModelDeclaration
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import CHALLENGER_VERSION, CHAMPION, SHADOW_COMPARISON, SHADOW_PREDICTION
from asset_platform.registry.models import lineup_for
from asset_platform.registry.shadow import current_challenger
from asset_platform.resources.local import local_resources
from tests.declaration.loans import generate_loans, land_batch, land_labels, loans_declaration, write_history

START = dt.date(2026, 3, 1)
HISTORY_DAYS, ROWS, BATCH_ROWS = 4, 600, 300


def _declaration() -> ModelDeclaration:
    data = loans_declaration().model_dump()
    data["models"] = [{"family": "lightgbm", "params": {"num_leaves": 7, "max_rounds": 60}}]
    data["gate"] = {"margin": 0.0, "resamples": 60}
    data["shadow"] = {"enabled": True, "alpha": 0.05, "max_batches": 10}
    return ModelDeclaration.model_validate(data)


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    import os

    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome
    from definitions import build_definitions

    home = PlatformHome(tmp_path_factory.mktemp("shadow")).ensure()
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    declaration = _declaration()
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    landing = resources["landing"]
    write_history(landing.for_model(declaration).history, START, HISTORY_DAYS, ROWS)
    with dg.DagsterInstance.get() as instance:
        state = LoopState(instance, defs, lifecycle_names(declaration), landing.for_model(declaration).ensure())
        assert defs.resolve_job_def(state.names.training_job).execute_in_process(instance=instance).success
        yield state, resources
    if previous is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = previous


def _decisions(state: LoopState) -> list[dict]:
    records = state.instance.fetch_materializations(state.names.key(CHAMPION), limit=100, ascending=True).records
    return [{name: value.value for name, value in record.asset_materialization.metadata.items()} for record in records]


def _labeled_batches(state: LoopState, first_day: int, days: int) -> str:
    """Land concept batches one by one (scored, labeled) and tick the shadow sensor; its last skip reason."""
    reason = ""
    for index in range(first_day, first_day + days):
        day = START + dt.timedelta(days=index)
        labels = land_batch(state.landing, day, BATCH_ROWS, "concept")
        assert all(r.success for r in tick(state, state.names.batch_sensor))
        land_labels(state.landing, day, labels)
        assert all(r.success for r in tick(state, state.names.labels_sensor))
        before = len(_decisions(state))
        results = tick(state, state.names.shadow_sensor)
        assert all(r.success for r in results)
        if len(_decisions(state)) > before:
            return "decided"
        reason = _skip_reason(state)
    return reason


def _skip_reason(state: LoopState) -> str:
    sensor = state.defs.resolve_sensor_def(state.names.shadow_sensor)
    context = dg.build_sensor_context(
        instance=state.instance,
        cursor=state.cursors.get(state.names.shadow_sensor),
        definitions=state.defs,
        resources=state.defs.resources,
    )
    skip = sensor(context).skip_reason
    return getattr(skip, "skip_message", skip) or ""


def test_better_challenger_is_shadowed_then_promoted_and_worse_one_retired(loop) -> None:
    state, resources = loop
    names = state.names
    lineup = lineup_for(resources["registry"], names)
    first = lineup.champion()
    assert first is not None
    assert _skip_reason(state) == "no challenger in shadow"

    # The behaviour flips; the history grows; training again: the gate passes the new model into shadow.
    folder = state.landing.history
    for index in range(HISTORY_DAYS, HISTORY_DAYS + 3):
        day = START + dt.timedelta(days=index)
        generate_loans(ROWS, day, 1, "concept").to_parquet(folder / f"applications_{day}.parquet")
    assert state.defs.resolve_job_def(names.training_job).execute_in_process(instance=state.instance).success
    gated = _decisions(state)[-1]
    assert gated["decision"] == "shadowed", gated["reason"]
    challenger = current_challenger(state.instance, names)
    assert challenger and challenger != first.version
    assert lineup.champion().version == first.version  # production unchanged during the shadow period

    assert _labeled_batches(state, 10, 6) == "decided"
    promoted = _decisions(state)[-1]
    assert promoted["decision"] == "promoted" and "shadow: challenger no worse" in promoted["reason"]
    assert promoted["changed_by"] == f"sensor:{names.shadow_sensor}"
    assert SHADOW_COMPARISON in promoted["shadow_evidence"] and "after" in promoted["shadow_bounds"]
    assert lineup.champion().version == challenger
    assert current_challenger(state.instance, names) is None

    # The scored batches kept both scores; the comparison plotted the running bounds.
    predictions = state.instance.fetch_materializations(names.key("predictions"), limit=1).records[0]
    assert CHALLENGER_VERSION in predictions.asset_materialization.metadata
    comparison = state.instance.fetch_materializations(names.key(SHADOW_COMPARISON), limit=1).records[0]
    metadata = comparison.asset_materialization.metadata
    assert metadata["running_lower"].value > 0 and "running_bounds" in metadata
    frame = resources["registry"].store.get(names.path("predictions"), comparison.partition_key)
    assert SHADOW_PREDICTION in frame.columns

    # The old model, worse on today's traffic, put in shadow by hand: retired on the evidence.
    config = {"ops": {names.op(CHAMPION): {"config": {"action": "shadow", "version": first.version}}}}
    job = state.defs.resolve_job_def(names.set_champion_job)
    assert job.execute_in_process(instance=state.instance, run_config=config).success
    assert current_challenger(state.instance, names) == first.version
    assert _labeled_batches(state, 20, 6) == "decided"
    retired = _decisions(state)[-1]
    assert retired["decision"] == "retired" and "challenger worse than the margin" in retired["reason"]
    assert SHADOW_COMPARISON in retired["shadow_evidence"]
    assert lineup.champion().version == challenger
    assert [d["decision"] for d in _decisions(state)][-4:] == ["shadowed", "promoted", "shadowed", "retired"]
    assert _skip_reason(state) == "no challenger in shadow"
