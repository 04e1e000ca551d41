"""The service's scheduler: each daily job runs once per slot in the whole deployment.

Every ``poll_seconds`` (and when woken) the scheduler looks at each job's latest slot
(remediator.schedule). A slot this process saw end is not looked at again; otherwise it tries
the job's lease ``job:<name>`` without waiting (another instance holding it is running the
job), and under it claims the slot's row in ``job_runs`` (remediator.storage.jobs): a new row
runs, a finished one does not, and an unfinished one — its instance died or stopped mid-run —
runs again (``attempts`` counts). Only the job's lease lets an instance take over a row, and a
live instance renews it, so a dead instance's claim is taken over once its lease expired
(``lease_seconds``). The job's result, summary or error are stored when it ends.

Missed slots: after a stop the latest slot runs at the next start (one, not one per day the
service was down). A deployment that has never run a job (no row for it yet) does not run it
at its first start for a slot that passed before: it waits for the next slot.

Each job runs in a task of its own, so a long job does not hold up another. A stop ends a job
between two items of its work (``Claim.ensure_going``), waiting up to ``grace_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.exc import SQLAlchemyError

from remediator.errors import JobStopped, LeaseLost
from remediator.schedule import DailySchedule, Slot
from remediator.service.logs import ids
from remediator.service.waiting import woken
from remediator.storage.jobs import JobResult, JobRun, JobRunStore, lease_key
from remediator.storage.leases import Lease, Leases

log = logging.getLogger(__name__)
_REASON_CHARS = 300


class Considered(StrEnum):
    """What one look at a job's latest slot did."""

    RAN = "ran"  # this process ran the slot and it succeeded
    FAILED = "failed"  # this process ran the slot and the job raised
    DONE = "done"  # the slot had run already, here or at another instance
    BUSY = "busy"  # another instance holds the job's lease: looked at again later
    WAITING = "waiting"  # a deployment that never ran the job: its first slot is the next
    SEEN = "seen"  # this process saw the slot end before: nothing to ask the database


@dataclass(frozen=True)
class Claim:
    """A slot this process runs: the slot, the job's lease and the stored row. A job calls
    ``ensure_going`` before each item of work."""

    slot: Slot
    lease: Lease
    run: JobRun
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def ensure_going(self) -> None:
        """``JobStopped`` when the service is stopping, ``LeaseLost`` when the job's lease is
        lost: either way the job ends now and its slot is run again elsewhere or later."""
        if self.stopping.is_set():
            raise JobStopped(self.run.job)
        self.lease.ensure_held()


SlotJob = Callable[[Claim], Awaitable[str]]
"""A job as the scheduler runs it: returns a one-line summary for ``job_runs``."""


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


class Scheduler:
    """Runs ``jobs`` once a day on ``schedule`` (see the module's docstring)."""

    def __init__(
        self,
        jobs: Mapping[str, SlotJob],
        *,
        schedule: DailySchedule,
        runs: JobRunStore,
        leases: Leases,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 60.0,
        grace_seconds: float = 10.0,
    ) -> None:
        self.jobs, self.schedule, self.runs, self.leases = dict(jobs), schedule, runs, leases
        self.poll_seconds, self.grace_seconds = poll_seconds, grace_seconds
        self._stopping = asyncio.Event()
        self._clock = clock
        self._started_at = clock()
        self._seen: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task[Considered]] = {}
        self._loop: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"Scheduler(jobs={sorted(self.jobs)}, schedule={self.schedule!r})"

    async def start(self) -> None:
        self._started_at = self._clock()
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()
        self._loop = asyncio.create_task(self._looking(), name="remediator-scheduler")

    async def stop(self) -> None:
        """Stop looking; jobs under way stop before their next item (``Claim.ensure_going``),
        waited for up to ``grace_seconds``, then cancelled. Their slots run again at the next
        start, here or at another instance."""
        self._stopping.set()
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        running = list(self._tasks.values())
        if running:
            await asyncio.wait(running, timeout=self.grace_seconds)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        self._tasks.clear()

    def running(self) -> bool:
        return self._loop is not None and not self._loop.done()

    def wake(self) -> None:
        """Look now rather than at the next poll (the clock moved, in tests)."""
        self._wake.set()

    async def run_due(self) -> dict[str, Considered]:
        """Look at every job's latest slot once and wait for what runs (the loop does the
        same without waiting)."""
        names = list(self.jobs)
        return dict(zip(names, await asyncio.gather(*map(self.consider, names)), strict=True))

    async def consider(self, name: str) -> Considered:
        """Look at ``name``'s latest slot: run it if it is due and nobody else has it."""
        slot = self.schedule.latest(self._clock())
        if self._seen.get(name) == slot.key:
            return Considered.SEEN
        if await self._before_first_slot(name, slot):
            log.info("job waits for its first slot", extra=ids(job=name, slot=slot.key))
            self._seen[name] = slot.key
            return Considered.WAITING
        async with self.leases.attempt(lease_key(name)) as lease:
            considered = Considered.BUSY if lease is None else await self._claim(name, slot, lease)
        if considered is not Considered.BUSY:
            self._seen[name] = slot.key
        return considered

    async def _before_first_slot(self, name: str, slot: Slot) -> bool:
        """``slot`` passed before this process started and the job never ran here."""
        if slot.at >= self._started_at:
            return False
        return not await asyncio.to_thread(self.runs.known, name)

    async def _claim(self, name: str, slot: Slot, lease: Lease) -> Considered:
        run = await asyncio.to_thread(
            self.runs.claim, name, slot.key, slot.at, lease.owner, self._clock()
        )
        if run is None:
            return Considered.DONE
        fields = ids(job=name, slot=slot.key)
        log.info("job started (attempt %d)", run.attempts, extra=fields)
        try:
            summary = await self.jobs[name](Claim(slot, lease, run, self._stopping))
        except (LeaseLost, JobStopped) as err:  # run again elsewhere or later: record nothing
            log.warning("job stopped: %s", err, extra=fields)
            return Considered.BUSY
        except Exception as err:
            log.exception("job failed", extra=fields)
            await self._finish(run, JobResult.FAILED, error=_reason(err))
            return Considered.FAILED
        await self._finish(run, JobResult.OK, summary=summary)
        log.info("job finished: %s", summary, extra=fields)
        return Considered.RAN

    async def _finish(self, run: JobRun, result: JobResult, **text: str) -> None:
        try:
            stored = await asyncio.to_thread(self.runs.finish, run, self._clock(), result, **text)
        except SQLAlchemyError:
            log.exception("job's end not stored", extra=ids(job=run.job))
            return
        if not stored:
            log.warning("job's claim was taken over; its end not stored", extra=ids(job=run.job))

    async def _looking(self) -> None:
        while True:
            for name in self.jobs:
                if name not in self._tasks:
                    self._tasks[name] = asyncio.create_task(self._guarded(name), name=f"job-{name}")
            await woken(self._wake, self._pause())

    async def _guarded(self, name: str) -> Considered:
        try:
            return await self.consider(name)
        except Exception:  # the database did not answer: looked at again at the next poll
            log.exception("scheduler could not look at a job", extra=ids(job=name))
            return Considered.BUSY
        finally:
            with contextlib.suppress(KeyError):
                del self._tasks[name]

    def _pause(self) -> float:
        """Until the next slot, at most ``poll_seconds``."""
        now = self._clock()
        upcoming = self.schedule.following(self.schedule.latest(now))
        return max(0.0, min(self.poll_seconds, upcoming.at - now))


__all__ = ["Claim", "Considered", "Scheduler", "SlotJob"]
