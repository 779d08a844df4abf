"""Bounded retries with exponential backoff for delivering one message to one channel."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


class PermanentDeliveryError(Exception):
    """A failure another attempt cannot fix (a rejected request, a bad token): stop retrying."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `max_attempts` in all, sleeping `initial_backoff_s * multiplier**n` in between."""

    max_attempts: int = 3
    initial_backoff_s: float = 0.5
    backoff_multiplier: float = 2.0

    def delays(self) -> list[float]:
        """The sleeps between attempts, one fewer than the attempts; their sum bounds the added latency."""
        return [self.initial_backoff_s * self.backoff_multiplier**n for n in range(self.max_attempts - 1)]


@dataclass(frozen=True)
class AttemptOutcome:
    attempts: int
    error: Exception | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def call_with_retries(
    send: Callable[[], None], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep
) -> AttemptOutcome:
    """Call `send` until it returns, raises `PermanentDeliveryError`, or the attempts run out.

    Exceptions are returned, not raised: a notification that cannot be delivered
    must never fail the run that sent it. BaseExceptions (interrupts, run
    termination) still propagate.
    """
    delays = policy.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            send()
            return AttemptOutcome(attempt, None)
        except PermanentDeliveryError as error:
            return AttemptOutcome(attempt, error)
        except Exception as error:
            if attempt >= policy.max_attempts:
                return AttemptOutcome(attempt, error)
            sleep(delays[attempt - 1])
