"""Ctrl-C and SIGTERM that reach a loop of in-process runs while Dagster holds them back.

During an in-process run, Dagster defers SIGINT between steps, and SIGTERM with it (Dagster points SIGTERM at
SIGINT's handler), to raise it at the next step. The in-process executor never looks for a deferred signal, and
the run's end forgets it (dagster/_core/execution/api.py and _utils/interrupts.py). A signal that lands between
two steps of the last run of a day is then lost, and `asset-platform demo`, sent `kill PID`, goes on to its end.

The interpreter still writes every signal it handles to its wakeup file descriptor, whichever Python handler
then runs. `watch()` points that descriptor at a pipe of ours, and `received()` reads it between runs.

A signal the process ignores is never handled, so never written there. A non-interactive shell starts a
background command with SIGINT ignored, and Dagster's pointing SIGTERM at SIGINT's handler then makes SIGTERM
ignored too: `watch()` gives SIGINT Python's own handler back first.
"""

from __future__ import annotations

import os
import signal
import threading

_pipe: tuple[int, int] | None = None
_STOPPING = {signal.SIGINT, signal.SIGTERM}


def watch() -> None:
    """Start recording SIGINT and SIGTERM for `received()` (once per process; only the main thread can)."""
    global _pipe
    if _pipe is not None or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, signal.default_int_handler)
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    try:
        previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:  # not the main interpreter
        os.close(read)
        os.close(write)
        return
    if previous != -1:  # somebody else's (an event loop's): theirs stays, we watch nothing
        signal.set_wakeup_fd(previous)
        os.close(read)
        os.close(write)
        return
    _pipe = (read, write)


def received() -> bool:
    """Whether SIGINT or SIGTERM arrived since the last call (or since `watch()`); each is reported once."""
    if _pipe is None:
        return False
    found = False
    while True:
        try:
            data = os.read(_pipe[0], 512)
        except BlockingIOError:
            return found
        if not data:
            return found
        found = found or any(number in _STOPPING for number in data)
