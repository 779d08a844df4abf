"""Crash recovery on one machine: one process per platform home, and runs whose worker is gone marked failed.

**One lock per home.** `asset-platform up` and `asset-platform demo` hold an
exclusive `fcntl` lock on `<home>/platform.lock` while they run (the file keeps
the holder's pid and command for the error message). A second process on the
same home fails at once, naming the home and the holder, instead of running the
same sensors and run keys twice. The kernel releases the lock when the holder
dies, however it dies, so a crash never leaves a stale lock behind.

**Orphaned runs.** A run is STARTED until its worker reports the end. When the
daemon and its run workers are killed together, nothing reports it: the run
stays STARTED forever and, under `max_concurrent_runs`, holds a queue slot.
Dagster's run monitoring fails such runs only where the run launcher can check
a worker's health, which the default run launcher (a process per run on this
machine) cannot. `fail_orphaned_runs` does it for that launcher: every run
worker records its pid in the event log ("Started process for run (pid: N)");
a STARTED run whose process no longer exists on this machine (or is a zombie, or
a newer process reusing the pid) is reported failed with
`DagsterInstance.report_run_failed`, so the run-retry policy retries it and the
queue moves on. It only reads and reports through Dagster's public API.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import dagster as dg

LOCK_FILE = "platform.lock"


class HomeLockError(RuntimeError):
    """The platform home is held by another process, or cannot be locked (read-only, missing rights)."""


@dataclass
class HomeLock:
    """A held lock on a platform home; `fileno` can be passed to a child process that should hold it too."""

    root: Path
    handle: TextIO

    @property
    def path(self) -> Path:
        return self.root / LOCK_FILE

    def fileno(self) -> int:
        return self.handle.fileno()


@contextlib.contextmanager
def home_lock(root: Path, command: str) -> Iterator[HomeLock]:
    """Hold the platform home `root` for `command` (`up`, `demo`); a second holder gets `HomeLockError`."""
    root = Path(root)
    path = root / LOCK_FILE
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    except OSError as error:
        raise HomeLockError(f"cannot lock the platform home {root}: {_why(error)}") from error
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HomeLockError(
                f"the platform home {root} is in use by another asset-platform process ({_holder(path)}); "
                "stop it first, or use another platform home"
            ) from None
        except OSError as error:
            raise HomeLockError(f"cannot lock the platform home {root}: {_why(error)}") from error
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} asset-platform {command}\n")
        handle.flush()
        yield HomeLock(root, handle)
    finally:
        handle.close()  # closing the file releases the lock; the note stays for the next holder to replace


def _holder(path: Path) -> str:
    try:
        pid, _, command = path.read_text().strip().partition(" ")
    except OSError:
        return "holder unknown"
    return f"pid {pid}, {command}" if pid.isdigit() else "holder unknown"


def _why(error: OSError) -> str:
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"it is not writable ({error.strerror}); the platform needs a writable home"
    return str(error)


@dataclass(frozen=True)
class OrphanedRun:
    run_id: str
    job_name: str
    pid: int


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[OrphanedRun]:
    """Report every STARTED run whose worker process is gone as failed; returns them.

    Only for run launchers that cannot check a worker's health (Dagster's run
    monitoring covers the others) and whose workers run on this machine, as the
    default run launcher's do. A run without a recorded pid is left alone.
    """
    import dagster as dg

    if instance.run_launcher.supports_check_run_worker_health:
        return []
    orphaned = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        worker = _worker(instance, run.run_id)
        if worker is None or _alive(*worker):
            continue
        pid = worker[0]
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status != dg.DagsterRunStatus.STARTED:
            continue  # it ended while we looked
        instance.report_run_failed(
            current,
            f"Run worker (pid {pid}) is gone: the process ended without reporting the run's end (a crash or "
            "a kill of the daemon and its workers). Marked failed by asset-platform so the run-retry policy "
            "and the queue move on.",
        )
        orphaned.append(OrphanedRun(run.run_id, run.job_name, pid))
    return orphaned


def _worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, time it was recorded) of the process executing the run: its first engine event with a pid."""
    import dagster as dg

    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        value = data.metadata.get("pid") if data and data.metadata else None
        text = getattr(value, "value", value)
        if text is not None and str(text).isdigit():
            return int(str(text)), entry.timestamp
    return None


def _alive(pid: int, since: float) -> bool:
    """Does process `pid`, started no later than `since`, still run here (not a zombie, not a reused pid)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = Path(f"/proc/{pid}/stat")
    if not sys.platform.startswith("linux") or not stat.exists():
        return True
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    if fields[0] in ("Z", "X"):
        return False  # exited, not yet reaped by its parent
    started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= since + 5  # a process started after the pid was recorded is another process


def _boot_time() -> float:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return time.time() - time.monotonic()
