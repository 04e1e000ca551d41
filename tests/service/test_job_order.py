"""A job that runs after another (the check ahead after keep-alive): it waits for the other's
run of the same slot to finish, gives up after its limit, and stops at once with the service."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import cast

import pytest

from remediator.backoffice import BackofficeNotifier
from remediator.errors import JobStopped
from remediator.runtime import Runtime
from remediator.schedule import Slot
from remediator.service.jobs import JobContext, JobTools, Spread
from remediator.service.scheduler import Claim
from remediator.storage.jobs import JobResult, JobRun, JobRunStore
from remediator.storage.leases import Lease
from remediator.storage.queue import QueueStore

SLOT = Slot(date(2026, 12, 10), 0.0)


def run_of(job: str, finished_at: float | None) -> JobRun:
    return JobRun(
        job=job,
        slot=SLOT.key,
        slot_at=0.0,
        owner="other",
        attempts=1,
        started_at=0.0,
        finished_at=finished_at,
        result=JobResult.OK if finished_at else None,
        summary=None,
        error=None,
    )


class Runs:
    """The slots' records as the job sees them: keep-alive finishes after ``looks`` looks."""

    def __init__(self, looks: int | None) -> None:
        self.looks, self.asked = looks, 0

    def get(self, job: str, slot: str) -> JobRun | None:
        assert (job, slot) == ("keepalive", SLOT.key)
        self.asked += 1
        done = self.looks is not None and self.asked > self.looks
        return run_of(job, 1.0 if done else None)


def context(runs: Runs) -> JobContext:
    tools = JobTools(
        runtime=cast("Runtime", None),
        queue=cast("QueueStore", None),
        notifier=cast("BackofficeNotifier", None),
        spread=Spread(0.0),
        runs=cast("JobRunStore", runs),
        poll_seconds=0.01,
    )
    lease = Lease("job:preflight", "me", 60.0, deadline=time.monotonic() + 60.0)
    return JobContext(tools, Claim(SLOT, lease, run_of("preflight", None)))


async def test_it_waits_for_the_other_job_of_the_slot() -> None:
    runs = Runs(looks=3)
    assert await context(runs).after("keepalive", limit=5.0)
    assert runs.asked == 4


async def test_it_gives_up_after_its_limit() -> None:
    started = time.monotonic()
    assert not await context(Runs(looks=None)).after("keepalive", limit=0.05)
    assert time.monotonic() - started < 1.0


async def test_a_stopping_service_ends_the_wait_at_once() -> None:
    waiting = context(Runs(looks=None))
    task = asyncio.create_task(waiting.after("keepalive", limit=60.0))
    await asyncio.sleep(0.03)
    waiting.claim.stopping.set()
    with pytest.raises(JobStopped):
        await asyncio.wait_for(task, 1.0)
