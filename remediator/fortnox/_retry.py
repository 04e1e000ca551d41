"""Which failures are retried, how often, and how long to wait (jittered exponential backoff)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from remediator.fortnox._exceptions import FortnoxTransportError, RateLimited, ServerError

T = TypeVar("T")

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

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential from
        ``initial_wait``, at most ``max_wait``, plus up to ``jitter`` at random."""
        backoff = min(self.max_wait, self.initial_wait * 2.0 ** min(attempt - 1, 60))
        return max(0.0, backoff) + random.uniform(0, self.jitter)  # noqa: S311 - not a secret

    async def run(self, method: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()``, again after a wait while it fails retryably (``is_retryable``), at
        most ``attempts`` times in all and not after ``max_seconds`` since the first began;
        then its last error is raised. A plain loop: every API request passes here, and the
        first attempt (almost always the only one) costs nothing but the call."""
        started = time.monotonic()
        number = 1
        while True:
            try:
                return await attempt()
            except Exception as err:
                spent = time.monotonic() - started
                if (
                    not is_retryable(method, err)
                    or number >= self.attempts
                    or spent >= self.max_seconds
                ):
                    raise
            await self.sleep(self.wait(number))
            number += 1
