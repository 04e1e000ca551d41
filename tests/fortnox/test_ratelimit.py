"""The per-tenant sliding window, on a fake clock."""

from __future__ import annotations

import asyncio

from remediator.fortnox import SlidingWindowLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(fake: FakeTime, limit: int = 25, window: float = 5.0) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, window, 0.0, clock=fake.clock, sleep=fake.sleep)


async def test_the_first_25_start_at_once_and_the_26th_waits_for_the_window() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    for _ in range(25):
        assert await limit.acquire("t1") == 0
    assert fake.now == 0
    waited = await limit.acquire("t1")
    assert waited == 5.0
    assert fake.now == 5.0


async def test_no_window_ever_holds_more_than_the_limit() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    starts: list[float] = []
    for i in range(200):
        await limit.acquire("t1")
        starts.append(fake.now)
        fake.now += 0.01 * (i % 7)  # uneven work between requests
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < start + 5.0 - 1e-6) <= 25


async def test_tenants_do_not_share_a_window() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    for _ in range(25):
        await limit.acquire("t1")
    for _ in range(25):
        assert await limit.acquire("t2") == 0
    assert limit.in_window("t1") == 25
    assert limit.in_window("t2") == 25


async def test_concurrent_tasks_share_one_window() -> None:
    fake = FakeTime()
    limit = limiter(fake, limit=5, window=1.0)
    started: list[float] = []

    async def one() -> None:
        await limit.acquire("t1")
        started.append(fake.now)

    await asyncio.gather(*(one() for _ in range(12)))
    assert [started.count(t) for t in (0.0, 1.0, 2.0)] == [5, 5, 2]


async def test_margin_widens_the_window() -> None:
    fake = FakeTime()
    limit = SlidingWindowLimiter(2, 1.0, 0.25, clock=fake.clock, sleep=fake.sleep)
    await limit.acquire("t")
    await limit.acquire("t")
    assert await limit.acquire("t") == 1.25
