"""Per-tenant sliding-window rate limit shared by every task in the process.

A request holds one of the tenant's ``limit`` slots from the moment it is sent until ``window``
seconds after its answer came back. Fortnox received the request before we saw its answer, so
the next request to reuse that slot reaches Fortnox at least ``window`` seconds after the one
before it, whatever the network jitter: Fortnox never counts more than ``limit`` in its window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable

_EPSILON = 1e-9  # float rounding must never keep an expired slot in the window


class Slot:
    """One request's place in its tenant's window; release it when the answer is in."""

    __slots__ = ("_limiter", "end", "key")

    def __init__(self, limiter: SlidingWindowLimiter, key: str) -> None:
        self._limiter, self.key, self.end = limiter, key, math.inf

    def release(self) -> None:
        if self.end == math.inf:
            self.end = self._limiter.clock()
            self._limiter.released(self.key)


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window`` seconds per key, in arrival order.

    ``margin`` widens the window a little for Fortnox's own clock granularity.
    """

    def __init__(
        self,
        limit: int = 25,
        window: float = 5.0,
        margin: float = 0.1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit, self.window = limit, window + margin
        self.clock, self._sleep = clock, sleep
        self._slots: dict[str, list[Slot]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._freed: dict[str, asyncio.Event] = {}

    async def acquire(self, key: str) -> Slot:
        """Wait until ``key`` may send a request; the caller releases the slot afterwards."""
        lock, freed = self._locks.get(key), self._freed.get(key)
        if lock is None or freed is None:  # made once per key, not at every request
            lock = self._locks.setdefault(key, asyncio.Lock())
            freed = self._freed.setdefault(key, asyncio.Event())
        async with lock:
            while True:
                slots = self._current(key)
                if len(slots) < self.limit:
                    slot = Slot(self, key)
                    slots.append(slot)
                    return slot
                soonest = min(slot.end for slot in slots)
                if soonest == math.inf:  # every slot is still waiting for its answer
                    freed.clear()
                    await freed.wait()
                else:
                    await self._sleep(soonest + self.window - self.clock())

    def released(self, key: str) -> None:
        event = self._freed.get(key)
        if event is not None:
            event.set()

    def ages(self, key: str) -> tuple[float, ...]:
        """For each request of ``key`` inside the window, seconds since its answer came (0 for
        one still waiting for it): what another process would have to count."""
        now = self.clock()
        return tuple(0.0 if s.end == math.inf else now - s.end for s in self._current(key))

    def count(self, key: str, ages: Iterable[float]) -> None:
        """Count requests another process sent for ``key``, answered ``ages`` seconds ago, as
        if this process had sent them (those already out of the window are not)."""
        now = self.clock()
        slots = self._current(key)
        for age in ages:
            slot = Slot(self, key)
            slot.end = now - max(0.0, age)
            if slot.end + self.window > now + _EPSILON:
                slots.append(slot)

    def in_window(self, key: str) -> int:
        """How many slots of ``key`` are taken now (in flight or inside the window)."""
        return len(self._current(key))

    def _current(self, key: str) -> list[Slot]:
        now = self.clock()
        slots = [s for s in self._slots.get(key, []) if s.end + self.window > now + _EPSILON]
        self._slots[key] = slots
        return slots
