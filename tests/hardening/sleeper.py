"""A run worker to kill: executes a job whose one step waits, on the instance in $DAGSTER_HOME.

`python -m tests.hardening.sleeper` prints `started <run id>` once the run is
STARTED, then waits until it is killed (or ten minutes pass). A second mode,
`python -m tests.hardening.sleeper lock <home> <command>`, holds the home's lock
and prints `locked` instead, until killed or its stdin closes.

No `from __future__ import annotations` here: Dagster reads the op's context annotation at runtime.
"""

import sys
import time
from pathlib import Path

import dagster as dg

WAIT_S = 600


@dg.op
def wait_to_be_killed(context: dg.OpExecutionContext) -> None:
    print(f"started {context.run_id}", flush=True)
    time.sleep(WAIT_S)


@dg.job
def sleeper() -> None:
    wait_to_be_killed()


def hold_lock(root: Path, command: str) -> None:
    from asset_platform.recovery import home_lock

    with home_lock(root, command):
        print("locked", flush=True)
        sys.stdin.read()  # until the test closes stdin or kills us


if __name__ == "__main__":
    if sys.argv[1:2] == ["lock"]:
        hold_lock(Path(sys.argv[2]), sys.argv[3])
    else:
        with dg.DagsterInstance.get() as instance:
            sleeper.execute_in_process(instance=instance, raise_on_error=False)
