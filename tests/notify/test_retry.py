"""Retry bounds as plain logic: the attempts and sleeps, without a clock."""

from __future__ import annotations

import pytest

from asset_platform.notify import RetryPolicy
from asset_platform.notify.retry import PermanentDeliveryError, call_with_retries


def test_backoff_doubles_from_the_initial_delay() -> None:
    assert RetryPolicy().delays() == [0.5, 1.0]
    assert RetryPolicy(max_attempts=4, initial_backoff_s=0.1, backoff_multiplier=3).delays() == pytest.approx(
        [0.1, 0.3, 0.9]
    )
    assert RetryPolicy(max_attempts=1).delays() == []


def _failing(times: int, error: BaseException):
    calls = []

    def send() -> None:
        calls.append(1)
        if len(calls) <= times:
            raise error

    return send, calls


def test_transient_failures_are_retried_with_the_policy_sleeps() -> None:
    slept: list[float] = []
    send, calls = _failing(2, ConnectionError("refused"))
    outcome = call_with_retries(send, RetryPolicy(max_attempts=3, initial_backoff_s=0.2), sleep=slept.append)
    assert outcome.delivered and outcome.attempts == 3 and len(calls) == 3
    assert slept == [0.2, 0.4]


def test_gives_up_after_max_attempts_and_returns_the_error() -> None:
    slept: list[float] = []
    error = TimeoutError("read timed out")
    send, calls = _failing(99, error)
    outcome = call_with_retries(send, RetryPolicy(max_attempts=3), sleep=slept.append)
    assert not outcome.delivered and outcome.attempts == 3 and outcome.error is error
    assert len(calls) == 3 and slept == [0.5, 1.0]


def test_permanent_errors_are_not_retried() -> None:
    slept: list[float] = []
    send, calls = _failing(99, PermanentDeliveryError("HTTP 401 Unauthorized"))
    outcome = call_with_retries(send, RetryPolicy(max_attempts=5), sleep=slept.append)
    assert outcome.attempts == 1 and len(calls) == 1 and slept == []


def test_interrupts_still_propagate() -> None:
    send, _ = _failing(1, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        call_with_retries(send, RetryPolicy(), sleep=lambda _: None)
