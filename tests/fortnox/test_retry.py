"""The retry policy itself: what is tried again, how often, how long it waits, and when it stops."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from remediator.fortnox import RateLimited, RetryPolicy, ServerError


def _policy(waits: list[float], max_seconds: float = 60.0) -> RetryPolicy:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return RetryPolicy(
        attempts=4, max_seconds=max_seconds, initial_wait=0.5, max_wait=1.5, jitter=0, sleep=sleep
    )


def _failing(errors: list[Exception]) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "answer"

    return attempt, calls


def _server_error() -> ServerError:
    return ServerError(status=503, method="GET", path="/3/x", message="busy")


async def test_a_success_is_sent_once_and_never_waits() -> None:
    waits: list[float] = []
    attempt, calls = _failing([])
    assert await _policy(waits).run("GET", attempt) == "answer"
    assert (len(calls), waits) == (1, [])


async def test_retryable_errors_are_tried_again_with_exponential_waits_up_to_the_cap() -> None:
    waits: list[float] = []
    attempt, calls = _failing([_server_error(), _server_error(), _server_error()])
    assert await _policy(waits).run("GET", attempt) == "answer"
    assert len(calls) == 4
    assert waits == [0.5, 1.0, 1.5]  # 0.5, 1, 2 capped at 1.5


async def test_the_last_error_is_raised_after_the_attempts() -> None:
    waits: list[float] = []
    attempt, calls = _failing([_server_error() for _ in range(5)])
    with pytest.raises(ServerError):
        await _policy(waits).run("GET", attempt)
    assert len(calls) == 4
    assert len(waits) == 3


async def test_a_post_is_not_retried_on_a_5xx_but_on_a_429() -> None:
    waits: list[float] = []
    attempt, calls = _failing([_server_error()])
    with pytest.raises(ServerError):
        await _policy(waits).run("POST", attempt)
    assert len(calls) == 1
    limited = RateLimited(status=429, method="POST", path="/3/vouchers", message="slow down")
    attempt, calls = _failing([limited])
    assert await _policy(waits).run("POST", attempt) == "answer"
    assert len(calls) == 2


async def test_no_attempt_starts_after_max_seconds() -> None:
    waits: list[float] = []
    attempt, calls = _failing([_server_error(), _server_error()])
    with pytest.raises(ServerError):
        await _policy(waits, max_seconds=0.0).run("GET", attempt)
    assert len(calls) == 1


async def test_jitter_adds_at_most_its_bound() -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=10, jitter=0.25)
    waits = [policy.wait(1) for _ in range(200)]
    assert all(0.5 <= wait <= 0.75 for wait in waits)
    assert policy.wait(30) <= 10.25
