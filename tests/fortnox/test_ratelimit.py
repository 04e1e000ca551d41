"""The per-tenant sliding window, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from remediator.fortnox import SlidingWindowLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(fake: FakeTime, limit: int = 25, window: float = 5.0) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, window, 0.0, clock=fake.clock, sleep=fake.sleep)


async def request(limit: SlidingWindowLimiter, fake: FakeTime, key: str, latency: float) -> float:
    """Send one request taking ``latency``; returns when it was sent."""
    slot = await limit.acquire(key)
    sent = fake.now
    fake.now += latency
    slot.release()
    return sent


async def test_the_first_25_go_at_once_and_the_26th_waits_a_window_after_the_first_answer() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    slots = [await limit.acquire("t1") for _ in range(25)]
    assert fake.now == 0
    fake.now = 0.2
    for slot in slots:
        slot.release()
    await limit.acquire("t1")
    assert fake.now == 5.2


async def test_no_window_ever_holds_more_than_the_limit_even_with_uneven_latency() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    arrivals: list[float] = []
    for i in range(300):
        sent = await request(limit, fake, "t1", latency=0.01 * (i % 9))
        # The server sees the request somewhere between sending and the answer.
        arrivals.append(sent + 0.005 * (i % 9) * (i % 2))
    arrivals.sort()
    for i, start in enumerate(arrivals):
        assert sum(1 for s in arrivals[i:] if s < start + 5.0 - 1e-6) <= 25


async def test_steady_throughput_is_close_to_the_limit() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    sent = [await request(limit, fake, "t1", latency=0.05) for _ in range(250)]
    rate = len(sent) / (sent[-1] + 0.05)
    assert rate >= 0.9 * 5


async def test_tenants_do_not_share_a_window() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    for _ in range(25):
        await limit.acquire("t1")
    for _ in range(25):
        await limit.acquire("t2")
    assert fake.now == 0
    assert limit.in_window("t1") == 25
    assert limit.in_window("t2") == 25


async def test_a_full_window_of_requests_in_flight_waits_for_an_answer() -> None:
    fake = FakeTime()
    limit = limiter(fake, limit=2, window=1.0)
    first = await limit.acquire("t")
    await limit.acquire("t")
    waiting = asyncio.create_task(limit.acquire("t"))
    await asyncio.sleep(0)
    assert not waiting.done()
    fake.now = 0.5
    first.release()
    await waiting
    assert fake.now == 1.5


async def test_concurrent_tasks_share_one_window() -> None:
    fake = FakeTime()
    limit = limiter(fake, limit=5, window=1.0)
    started: list[float] = []

    async def one() -> None:
        started.append(await request(limit, fake, "t1", latency=0.0))

    await asyncio.gather(*(one() for _ in range(12)))
    assert [started.count(t) for t in (0.0, 1.0, 2.0)] == [5, 5, 2]


async def test_margin_widens_the_window_and_release_is_idempotent() -> None:
    fake = FakeTime()
    limit = SlidingWindowLimiter(2, 1.0, 0.25, clock=fake.clock, sleep=fake.sleep)
    slot = await limit.acquire("t")
    slot.release()
    fake.now = 0.5
    slot.release()  # a second release does not move the slot's end
    await request(limit, fake, "t", 0.0)
    await limit.acquire("t")
    assert fake.now == 1.25


async def test_requests_another_process_sent_are_counted_in_the_window() -> None:
    """What one process spent (``ages``) is counted by the next (``count``): the 26th request
    of the window waits until the first of the other process's leaves it."""
    fake = FakeTime()
    first, second = limiter(fake), limiter(fake)
    for _ in range(20):
        await request(first, fake, "t1", 0.01)
    in_flight = await first.acquire("t1")  # no answer yet: counted as just answered
    spent = first.ages("t1")
    assert len(spent) == 21
    assert max(spent) == pytest.approx(0.19)
    assert min(spent) == 0.0
    second.count("t1", spent)
    second.count("t1", [5.0, 9.0])  # older than the window: nothing to count
    assert second.in_window("t1") == 21
    sent = [await request(second, fake, "t1", 0.01) for _ in range(5)]
    assert sent == pytest.approx([0.2, 0.21, 0.22, 0.23, 5.01])  # 4 places, then a window
    in_flight.release()
