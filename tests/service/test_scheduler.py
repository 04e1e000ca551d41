"""The scheduler with a clock the test moves, on each dialect: two instances on one database run
each slot once; a missed slot runs at the next start (the latest only); a new deployment waits
for its first slot; a dead instance's claim is taken over once its lease expired; a job that
raises is recorded as failed; a job's connections are spread over the window."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from remediator.schedule import DailySchedule
from remediator.service.jobs import Spread
from remediator.service.scheduler import Claim, Considered, Scheduler
from remediator.storage import Database
from remediator.storage.jobs import JobResult, JobRunStore, lease_key
from remediator.storage.leases import Leases, LeaseStore
from tests.storage.conftest import wait_expired

SCHEDULE = DailySchedule.of("03:00", "Europe/Stockholm")
SLOT = datetime(2026, 7, 14, 1, 0, tzinfo=UTC).timestamp()  # 03:00 in Stockholm
DAY = 86_400.0


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    """A job that records which slots it ran, taking ``seconds`` each time."""

    seconds: float = 0.0
    fail: bool = False
    slots: list[str] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, claim: Claim) -> str:
        self.slots.append(claim.slot.key)
        self.started.set()
        await asyncio.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("Fortnox said no")
        return f"ran {claim.slot.key}"


@pytest.fixture
def opened(database_url: str) -> Iterator[list[Database]]:
    """Databases on ``database_url``, one per instance, disposed after the test."""
    databases: list[Database] = []
    yield databases
    for database in databases:
        database.dispose()


def instance(
    url: str, opened: list[Database], clock: Clock, job: Recorder, *, ttl: float = 5.0
) -> Scheduler:
    """A scheduler with its own engine on ``url``, as another process would have."""
    database = Database(url)
    opened.append(database)
    return Scheduler(
        {"keepalive": job},
        schedule=SCHEDULE,
        runs=JobRunStore(database),
        leases=Leases(LeaseStore(database), ttl),
        clock=clock,
        poll_seconds=0.05,
        grace_seconds=0.5,
    )


def runs_of(database: Database) -> list[tuple[str, JobResult | None, int]]:
    found = JobRunStore(database).recent(job="keepalive")
    return sorted((r.slot, r.result, r.attempts) for r in found)


async def wait_until_finished(database: Database, slot: str) -> None:
    async with asyncio.timeout(10):
        while True:
            run = JobRunStore(database).get("keepalive", slot)
            if run is not None and run.finished_at is not None:
                return
            await asyncio.sleep(0.02)


async def test_two_instances_on_one_database_run_each_slot_once(
    database_url: str, opened: list[Database]
) -> None:
    clock, job = Clock(SLOT - 60), Recorder(seconds=0.3)
    first = instance(database_url, opened, clock, job)
    second = instance(database_url, opened, clock, job)
    await first.start()
    await second.start()
    try:
        clock.now = SLOT + 1
        first.wake()
        second.wake()
        await wait_until_finished(opened[0], "2026-07-14")
        clock.now = SLOT + DAY + 1  # the next day's slot
        await wait_until_finished(opened[0], "2026-07-15")
        await asyncio.sleep(0.3)  # several more looks by both
    finally:
        await first.stop()
        await second.stop()
    assert job.slots == ["2026-07-14", "2026-07-15"]
    assert runs_of(opened[0]) == [
        ("2026-07-14", JobResult.OK, 1),
        ("2026-07-15", JobResult.OK, 1),
    ]


async def test_instances_looking_at_the_same_moment_run_the_slot_once(
    database_url: str, opened: list[Database]
) -> None:
    clock, job = Clock(SLOT - 60), Recorder(seconds=0.2)
    schedulers = [instance(database_url, opened, clock, job) for _ in range(3)]
    clock.now = SLOT + 1
    looked = await asyncio.gather(*(s.consider("keepalive") for s in schedulers))
    assert sorted(looked) == sorted([Considered.RAN, Considered.BUSY, Considered.BUSY])
    again = await asyncio.gather(*(s.consider("keepalive") for s in schedulers))
    assert Considered.RAN not in again
    assert job.slots == ["2026-07-14"]


async def test_a_missed_slot_runs_at_the_next_start_and_only_the_latest(
    database_url: str, opened: list[Database]
) -> None:
    clock, job = Clock(SLOT - 60), Recorder()
    before = instance(database_url, opened, clock, job)
    clock.now = SLOT + 60  # the slot comes while it runs
    assert await before.run_due() == {"keepalive": Considered.RAN}
    down_until = Clock(SLOT + 4 * DAY + 7 * 3600)  # down for four nights; back at 10:00
    after = instance(database_url, opened, down_until, job)
    assert await after.run_due() == {"keepalive": Considered.RAN}
    assert await after.run_due() == {"keepalive": Considered.SEEN}
    assert job.slots == ["2026-07-14", "2026-07-18"]  # not the 15th, 16th and 17th
    assert [slot for slot, _, _ in runs_of(opened[0])] == ["2026-07-14", "2026-07-18"]


async def test_a_new_deployment_waits_for_its_first_slot(
    database_url: str, opened: list[Database]
) -> None:
    clock, job = Clock(SLOT + 7 * 3600), Recorder()  # first started at 10:00
    scheduler = instance(database_url, opened, clock, job)
    assert await scheduler.run_due() == {"keepalive": Considered.WAITING}
    clock.now = SLOT + DAY - 1
    assert await scheduler.run_due() == {"keepalive": Considered.SEEN}
    clock.now = SLOT + DAY
    assert await scheduler.run_due() == {"keepalive": Considered.RAN}
    assert job.slots == ["2026-07-15"]


async def test_a_dead_instances_claim_is_taken_over_once_its_lease_expired(
    database_url: str, opened: list[Database]
) -> None:
    clock, job = Clock(SLOT - 60), Recorder()
    scheduler = instance(database_url, opened, clock, job)
    database = opened[0]
    # An instance took the slot and died mid-run: its lease (1 s) is no longer renewed.
    leases = LeaseStore(database)
    assert leases.acquire(lease_key("keepalive"), "dead", 1)
    assert JobRunStore(database).claim("keepalive", "2026-07-14", SLOT, "dead", SLOT + 1)
    clock.now = SLOT + 2
    assert await scheduler.run_due() == {"keepalive": Considered.BUSY}
    assert job.slots == []
    wait_expired(leases, lease_key("keepalive"))
    assert await scheduler.run_due() == {"keepalive": Considered.RAN}
    assert job.slots == ["2026-07-14"]
    assert runs_of(database) == [("2026-07-14", JobResult.OK, 2)]
    run = JobRunStore(database).get("keepalive", "2026-07-14")
    assert run is not None
    assert run.owner != "dead"


async def test_a_stopped_instances_slot_runs_again_at_the_next_start(
    database_url: str, opened: list[Database]
) -> None:
    clock, slow = Clock(SLOT - 60), Recorder(seconds=30)
    scheduler = instance(database_url, opened, clock, slow)
    await scheduler.start()
    clock.now = SLOT + 1
    scheduler.wake()
    async with asyncio.timeout(10):
        await slow.started.wait()
    await scheduler.stop()  # mid-run: its lease released, its row unfinished
    job = Recorder()
    again = instance(database_url, opened, clock, job)
    assert await again.run_due() == {"keepalive": Considered.RAN}
    assert job.slots == ["2026-07-14"]
    assert runs_of(opened[0]) == [("2026-07-14", JobResult.OK, 2)]


async def test_a_stop_ends_a_job_between_two_items_and_its_slot_runs_again(
    database_url: str, opened: list[Database]
) -> None:
    begun: list[int] = []
    finished: list[int] = []
    two_done = asyncio.Event()

    async def walker(claim: Claim) -> str:
        for item in range(100):
            claim.ensure_going()  # what JobContext.each does before each connection
            begun.append(item)
            await asyncio.sleep(0.1)  # one connection's refresh: never cut in the middle
            finished.append(item)
            if len(finished) == 2:
                two_done.set()
        return "walked"

    clock = Clock(SLOT - 60)
    scheduler = instance(database_url, opened, clock, Recorder())
    scheduler.jobs["keepalive"] = walker
    await scheduler.start()
    clock.now = SLOT + 1
    scheduler.wake()
    async with asyncio.timeout(10):
        await two_done.wait()
    await scheduler.stop()
    assert 2 <= len(finished) < 100
    assert begun == finished  # the item under way at the stop was finished, none begun after
    again = Recorder()
    assert await instance(database_url, opened, clock, again).run_due() == {
        "keepalive": Considered.RAN
    }
    assert runs_of(opened[0]) == [("2026-07-14", JobResult.OK, 2)]


async def test_a_job_that_raises_is_recorded_failed_and_not_run_again_that_day(
    database_url: str, opened: list[Database]
) -> None:
    clock, job = Clock(SLOT - 60), Recorder(fail=True)
    scheduler = instance(database_url, opened, clock, job)
    clock.now = SLOT + 1
    assert await scheduler.run_due() == {"keepalive": Considered.FAILED}
    other = instance(database_url, opened, clock, job)
    assert await other.run_due() == {"keepalive": Considered.DONE}
    run = JobRunStore(opened[0]).get("keepalive", "2026-07-14")
    assert run is not None
    assert (run.result, run.error) == (JobResult.FAILED, "Fortnox said no")
    assert job.slots == ["2026-07-14"]


async def test_a_job_spreads_its_items_over_the_window() -> None:
    elapsed, pauses, checks = [0.0], [], []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        elapsed[0] += seconds

    spread = Spread(100.0, sleep=sleep, monotonic=lambda: elapsed[0])
    seen = []
    async for item in spread.each(["a", "b", "c", "d"], lambda: checks.append(elapsed[0])):
        seen.append(item)
        if item == "b":
            elapsed[0] += 40.0  # b took 40 s: c is already late, d waits less
    assert seen == ["a", "b", "c", "d"]
    assert pauses == [25.0, 10.0]  # b at 25 s; c at 65 s (due at 50); d at 75 s
    assert checks == [0.0, 25.0, 65.0, 75.0]  # the lease checked before each


async def test_no_window_means_no_pause() -> None:
    spread = Spread(0.0, sleep=pytest.fail)  # type: ignore[arg-type]
    assert [i async for i in spread.each([1, 2, 3], lambda: None)] == [1, 2, 3]
