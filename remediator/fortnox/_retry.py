"""Which failures are retried, how often, and how long to wait (jittered exponential backoff)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from remediator.fortnox._exceptions import FortnoxTransportError, RateLimited, ServerError

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_retryable(method: str, error: BaseException) -> bool:
    """429 is always retried (Fortnox refused it unread); 5xx and transport errors only for
    idempotent methods. A POST's transport errors reach here only when nothing was sent."""
    if isinstance(error, RateLimited):
        return True
    if isinstance(error, ServerError):
        return method in IDEMPOTENT
    if isinstance(error, FortnoxTransportError):
        return method in IDEMPOTENT or not error.timed_out
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retries: attempts, total seconds, and the backoff curve."""

    attempts: int = 6
    max_seconds: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 10.0
    jitter: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def retrying(self, method: str) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_seconds),
            wait=wait_exponential(multiplier=self.initial_wait, max=self.max_wait)
            + wait_random(0, self.jitter),
            retry=retry_if_exception(lambda err: is_retryable(method, err)),
            sleep=self.sleep,
            reraise=True,
        )
