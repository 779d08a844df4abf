"""A SIGTERM that Dagster holds back between two steps of an in-process run, then forgets, still ends the loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from asset_platform import interrupts


def test_a_signal_swallowed_by_another_handler_is_still_received_once() -> None:
    interrupts.watch()
    interrupts.received()  # whatever came before this test
    # Dagster's handler between steps only sets a flag, which the run's end clears.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.received()
        assert not interrupts.received()  # reported once
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_other_signals_are_not_taken_for_an_interrupt() -> None:
    interrupts.watch()
    interrupts.received()
    previous = signal.signal(signal.SIGUSR1, lambda *_: None)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert not interrupts.received()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_loop_started_in_the_background_with_sigint_ignored_still_hears_sigterm() -> None:
    # A non-interactive shell's `cmd &` ignores SIGINT; Dagster then points SIGTERM at SIGINT's handler.
    script = (
        "import os, signal\n"
        "from asset_platform import interrupts\n"
        "interrupts.watch()\n"
        "signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGINT))\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "except KeyboardInterrupt:\n"
        "    pass\n"
        "print('received' if interrupts.received() else 'lost')\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "received"
