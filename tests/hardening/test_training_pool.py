"""The training pool: at most two trainings at once in the shipped local instance; a third waits.

Three models' training steps start together in one real instance (the shipped
asset_platform/app/dagster.yaml in a temporary Dagster home, SQLite storage),
each run on Dagster's in-process executor, which claims a slot of the step's
pool before the step starts and frees it when the step ends. The event log then
shows what happened: never more than two training steps in progress, and the
third blocked by the pool's limit until a slot was free.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.training import TRAINING_POOL
from asset_platform.resources.local import local_resources
from definitions import build_definitions, project_declarations
from tests import REPO_ROOT
from tests.conftest import subprocess_env
from tests.declaration.loans import loans_declaration, write_history

MODELS = ("loans_a", "loans_b", "loans_c")
# Dagster's engine event for a step that cannot claim a slot (DagsterEvent.step_concurrency_blocked).
BLOCKED = f"Step blocked by limit for pool {TRAINING_POOL}"
STEP_START = dg.DagsterEventType.STEP_START
STEP_ENDS = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)


def _declaration(name: str) -> ModelDeclaration:
    # One fast family per model: the test is about the pool, not the models.
    data = loans_declaration().model_dump(exclude_none=True)
    data.update(name=name, models=[{"family": "lightgbm", "params": {"num_leaves": 7, "max_rounds": 20}}])
    return ModelDeclaration(**data)


def test_every_training_and_tuning_worker_step_is_in_the_pool(tmp_path: Path) -> None:
    """The examples' model assets and tuning workers (deliveries tunes) are in the pool; nothing else is."""
    defs = build_definitions(resources=local_resources(PlatformHome(tmp_path / "platform")))
    pooled = set()
    for assets_def in defs.resolve_asset_graph().assets_defs:
        for op in assets_def.node_def.iterate_op_defs():
            if op.pool is not None:
                assert op.pool == TRAINING_POOL, op.name
                pooled.add(op.name)
    for declaration in project_declarations():
        names = lifecycle_names(declaration)
        for spec in declaration.models:
            assert names.op(spec.asset_name) in pooled, spec.asset_name
            if spec.tuning is not None:
                tuning = names.op(names.tuning_key(spec.asset_name).path[-1])
                assert {f"{tuning}__worker_{index}" for index in range(spec.tuning.workers)} <= pooled
    assert any("__worker_" in name for name in pooled)


@pytest.fixture
def three_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from asset_platform.app.serve import prepare_dagster_home

    home = PlatformHome(tmp_path / "home").ensure()
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    declarations = [_declaration(name) for name in MODELS]
    resources = local_resources(home)
    for declaration in declarations:
        write_history(resources["landing"].for_model(declaration).ensure().history, dt.date(2026, 5, 1), 2, 300)
    return _definitions(home), [lifecycle_names(d) for d in declarations]


def _definitions(home: PlatformHome) -> dg.Definitions:
    return build_definitions([_declaration(name) for name in MODELS], local_resources(home))


def test_a_third_training_waits_for_the_pool(three_models) -> None:
    defs, names = three_models
    with dg.DagsterInstance.get() as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 2
        trainings = [n.key("lightgbm_model") for n in names]
        graph = defs.resolve_asset_graph()
        # Each model's inputs first, one run after another, so that the training steps below start together.
        for model, key in zip(names, trainings, strict=True):
            job = defs.resolve_job_def(model.training_job)
            before = (dg.AssetSelection.assets(key).upstream() - dg.AssetSelection.assets(key)).resolve(graph)
            upstream = [k for k in job.asset_layer.executable_asset_keys if k in before]
            assert job.execute_in_process(instance=instance, asset_selection=upstream).success

        # Three processes (Dagster's logging is not made for runs in threads of one process), released together.
        go = Path(os.environ["DAGSTER_HOME"]) / "go"
        env = subprocess_env()
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.hardening.test_training_pool", name, str(go)],
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in MODELS
        ]
        time.sleep(2)
        go.touch()
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
        run_ids = [output.split()[-1] for output in outputs]

        # Each of these runs has one step, the training; ends sort before starts at the same instant.
        logs = [entry for run_id in run_ids for entry in instance.all_logs(run_id)]
        steps = sorted(
            (e for e in logs if e.dagster_event_type in (STEP_START, *STEP_ENDS)),
            key=lambda e: (e.timestamp, e.dagster_event_type == STEP_START),
        )
        assert sum(e.dagster_event_type == STEP_START for e in steps) == len(MODELS)
        in_progress = peak = 0
        for event in steps:
            in_progress += 1 if event.dagster_event_type == STEP_START else -1
            peak = max(peak, in_progress)
        assert peak == 2
        blocked = [e for e in logs if e.dagster_event_type == dg.DagsterEventType.ENGINE_EVENT and e.message == BLOCKED]
        assert len({e.run_id for e in blocked}) == 1, "exactly one training waited for a slot of the pool"
        # The training that waited started only after one of the first two had finished.
        waited = next(e for e in steps if e.run_id == blocked[0].run_id and e.dagster_event_type == STEP_START)
        first_end = next(e for e in steps if e.dagster_event_type in STEP_ENDS)
        assert waited.timestamp >= first_end.timestamp


if __name__ == "__main__":
    # One model's training step, in its own process, once the test creates the `go` file.
    model, go = sys.argv[1], Path(sys.argv[2])
    names = lifecycle_names(_declaration(model))
    job = _definitions(PlatformHome(Path(os.environ["ASSET_PLATFORM_HOME"]))).resolve_job_def(names.training_job)
    with dg.DagsterInstance.get() as instance:
        while not go.exists():
            time.sleep(0.05)
        result = job.execute_in_process(instance=instance, asset_selection=[names.key("lightgbm_model")])
        print(result.run_id)
