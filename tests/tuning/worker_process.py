"""One tuning worker in a process of its own, for the tests that kill workers or run them in parallel.

    python -m tests.tuning.worker_process STORAGE_URL BUDGET

Trials are made slow enough (bigger data, no early stopping) that a kill lands inside one.
Heartbeats every second and a two-second grace period keep the takeover fast.
"""

from __future__ import annotations

import sys

from tests.tuning.tiny import rows, training_set, tuned_declaration

HEARTBEAT_INTERVAL_S, GRACE_PERIOD_S = 1, 2


def slow_problem(budget: int):
    """(problem, identity, spec) of a study whose trials take a noticeable fraction of a second."""
    from asset_platform.tuning.objective import TuningProblem
    from asset_platform.tuning.study import study_identity

    declaration = tuned_declaration(trials=budget, workers=2)
    data = declaration.model_dump(exclude_none=True)
    data["models"][0]["params"] = {"max_rounds": 250, "early_stopping_rounds": 250, "learning_rate": 0.02}
    data["models"][0]["tuning"]["search_space"] = {"num_leaves": {"type": "int", "low": 8, "high": 64}}
    declaration = type(declaration)(**data)
    spec = declaration.models[0]
    frame, pipeline = training_set(declaration, rows(days=4, per_day=1500))
    args = (declaration.name, declaration.task, declaration.metric_name, spec)
    return (
        TuningProblem.from_training_set(*args, frame, pipeline),
        study_identity(declaration.name, spec, declaration.task, declaration.metric_name, frame, pipeline),
        spec,
    )


def run(url: str, budget: int, worker: int = 0) -> int:
    from asset_platform.tuning.objective import make_objective
    from asset_platform.tuning.storage import open_storage
    from asset_platform.tuning.study import load_or_create_study
    from asset_platform.tuning.worker import run_worker

    problem, identity, spec = slow_problem(budget)
    storage = open_storage(url, heartbeat_interval=HEARTBEAT_INTERVAL_S, grace_period=GRACE_PERIOD_S)
    study = load_or_create_study(identity, storage, spec, worker=worker)
    return run_worker(study, make_objective(problem), budget)


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
