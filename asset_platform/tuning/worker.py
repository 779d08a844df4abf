"""A tuning worker: runs trials of a shared study until exactly the budget is finished.

Several workers (steps of one Dagster run, or processes on other machines) run
this against one storage. Only COMPLETE and PRUNED trials count: a trial whose
worker died stays RUNNING until its heartbeat goes stale, is then failed and
re-queued with the same params (`storage.open_storage`), and a surviving or
later worker runs it. Exactness across workers: a worker starts a trial only
while finished + running trials leave room, and a trial that finds the budget
already taken by lower-numbered trials (two workers asked at once) gives its
slot up as a FAIL marked `surplus` before training anything.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from typing import Any

SURPLUS_ATTR = "surplus"
WORKER_ATTR = "worker"
_POLL_S = 0.5


class BudgetSpent(Exception):
    """Raised by a trial started after the budget was taken; the study records it as FAIL."""


def counted_states() -> tuple:
    import optuna

    return (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def finished_trials(study: Any) -> int:
    """Trials that count against the budget."""
    return len(study.get_trials(deepcopy=False, states=counted_states()))


def run_worker(study: Any, objective: Any, budget: int, timeout_s: float | None = None) -> int:
    """Run trials until `budget` trials are COMPLETE or PRUNED (or `timeout_s` passes); returns how many ran here."""
    import optuna

    running = optuna.trial.TrialState.RUNNING
    deadline = time.monotonic() + timeout_s if timeout_s else None
    guarded = _guard(objective, budget)
    stop_at_budget = optuna.study.MaxTrialsCallback(budget, states=counted_states())
    ran = 0
    while deadline is None or time.monotonic() < deadline:
        trials = study.get_trials(deepcopy=False)
        done = sum(trial.state in counted_states() for trial in trials)
        if done >= budget:
            break
        if done + sum(trial.state == running for trial in trials) >= budget:
            # The remaining trials are running elsewhere: wait, and take over any whose worker died.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            time.sleep(_POLL_S)
            continue
        with warnings.catch_warnings():
            # Heartbeats and stale-trial retries are marked experimental; they are what resumes a killed worker.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                study.optimize(guarded, n_trials=1, catch=(BudgetSpent,), callbacks=[stop_at_budget])
            except ValueError as error:
                if not _told_elsewhere(error):
                    raise
                # Two workers took the same re-queued trial (on SQLite, Optuna pops a WAITING trial with a
                # read-then-write that other processes can interleave): the other one finished it first,
                # and the study counts it once. Nothing is lost; look again.
                continue
        ran += 1
    return ran


def _told_elsewhere(error: ValueError) -> bool:
    """Whether Optuna refused to record this trial's result because another worker already finished it."""
    return any(f"Cannot tell a {state} trial" in str(error) for state in ("COMPLETE", "PRUNED", "FAIL"))


def _guard(objective: Any, budget: int) -> Any:
    import optuna

    states = (*counted_states(), optuna.trial.TrialState.RUNNING)

    def guarded(trial: Any) -> float:
        ahead = [
            other
            for other in trial.study.get_trials(deepcopy=False, states=states)
            if other.state != optuna.trial.TrialState.RUNNING or other.number < trial.number
        ]
        if len(ahead) >= budget:
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise BudgetSpent(f"trial {trial.number}: the budget of {budget} trials is already taken")
        # Which worker ran the trial (host and process): where to look when one fails.
        trial.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{os.getpid()}")
        return objective(trial)

    return guarded
