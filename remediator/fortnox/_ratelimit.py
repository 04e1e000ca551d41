"""Per-tenant sliding-window rate limit shared by every task in the process."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

_EPSILON = 1e-9  # float rounding must never keep an expired start in the window


class SlidingWindowLimiter:
    """At most ``limit`` starts per ``window`` seconds per key, in arrival order.

    ``margin`` widens the window slightly so that network jitter between here and Fortnox
    never lets Fortnox count one request too many in its own window.
    """

    def __init__(
        self,
        limit: int = 25,
        window: float = 5.0,
        margin: float = 0.15,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit, self.window = limit, window + margin
        self._clock, self._sleep = clock, sleep
        self._starts: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, key: str) -> float:
        """Wait until ``key`` may start a request; returns the seconds waited."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        starts = self._starts.setdefault(key, deque())
        waited = 0.0
        async with lock:
            while True:
                now = self._clock()
                while starts and starts[0] + self.window <= now + _EPSILON:
                    starts.popleft()
                if len(starts) < self.limit:
                    starts.append(now)
                    return waited
                delay = starts[0] + self.window - now
                waited += delay
                await self._sleep(delay)

    def in_window(self, key: str) -> int:
        """How many starts of ``key`` the current window holds."""
        now = self._clock()
        return sum(1 for start in self._starts.get(key, ()) if start + self.window > now + _EPSILON)
