"""The service's daily jobs, and what a job gets to do its work.

A job is a name in ``JOBS`` and an async callable taking a ``JobContext`` and returning a
one-line summary (stored in ``job_runs``). The context carries the runtime (connector, stores,
engine, settings), the queue, the Backoffice notifier, the slot's local date (``day``) and the
scheduler's clock. A job that works connection by connection walks them with ``each``, which
spreads them over ``schedule_spread_minutes`` so a thousand connections do not reach Fortnox
in the same second, and before each stops the job when the service is stopping or the job's
lease is lost.

Jobs: ``keepalive`` (remediator.keepalive) and ``preflight`` (remediator.ahead). To add one::

    async def tidy(context: JobContext) -> str:
        ...
        return "12 checked, 1 finding"

    JOBS["tidy"] = tidy   # or in the dict below
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from remediator.ahead import Preflight, Summary
from remediator.backoffice import BackofficeNotifier
from remediator.keepalive import KeepAlive, tally
from remediator.runtime import Runtime
from remediator.schedule import Slot
from remediator.service.scheduler import Claim, SlotJob
from remediator.settings import Settings
from remediator.storage.jobs import JobRunStore
from remediator.storage.queue import QueueStore

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Spread:
    """Paces a job's items evenly over ``seconds``: item i starts no earlier than
    ``i * seconds / n`` after the first (later when the ones before took longer)."""

    seconds: float
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic: Callable[[], float] = time.monotonic

    async def each(self, items: Sequence[T], check: Callable[[], None]) -> AsyncIterator[T]:
        start = self.monotonic()
        step = self.seconds / len(items) if items else 0.0
        for index, item in enumerate(items):
            wait = start + index * step - self.monotonic()
            if wait > 0:
                await self.sleep(wait)
            check()
            yield item


@dataclass(frozen=True)
class JobTools:
    """What every job may use, the same for every slot."""

    runtime: Runtime
    queue: QueueStore
    notifier: BackofficeNotifier
    spread: Spread
    clock: Callable[[], float] = time.time
    wake: Callable[[], None] = lambda: None  # wake the workers after queueing runs
    runs: JobRunStore | None = None  # the slots' records, for a job that runs after another
    poll_seconds: float = 1.0  # how often a job waiting for another looks


@dataclass(frozen=True)
class JobContext:
    """One slot's run of a job."""

    tools: JobTools
    claim: Claim

    @property
    def runtime(self) -> Runtime:
        return self.tools.runtime

    @property
    def settings(self) -> Settings:
        return self.tools.runtime.settings

    @property
    def queue(self) -> QueueStore:
        return self.tools.queue

    @property
    def notifier(self) -> BackofficeNotifier:
        return self.tools.notifier

    @property
    def slot(self) -> Slot:
        return self.claim.slot

    @property
    def day(self) -> date:
        """The slot's local date: "today" for the job."""
        return self.claim.slot.day

    def now(self) -> float:
        return self.tools.clock()

    def wake(self) -> None:
        self.tools.wake()

    def each(self, items: Sequence[T]) -> AsyncIterator[T]:
        """``items`` spread over the window; before each, the job stops if the service is
        stopping or its lease is lost (``Claim.ensure_going``)."""
        return self.tools.spread.each(items, self.claim.ensure_going)

    async def after(self, job: str, limit: float) -> bool:
        """Wait until ``job`` has finished this slot (on any instance), at most ``limit``
        seconds; ``False`` when it has not. Stops as ``each`` does (``Claim.ensure_going``)
        at each look, and at once when the service stops."""
        runs, deadline = self.tools.runs, time.monotonic() + limit
        while runs is not None:
            self.claim.ensure_going()
            done = await asyncio.to_thread(runs.get, job, self.slot.key)
            if done is not None and done.finished_at is not None:
                return True
            if time.monotonic() >= deadline:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.claim.stopping.wait(), self.tools.poll_seconds)
        return False


Job = Callable[[JobContext], Awaitable[str]]


async def keepalive(context: JobContext) -> str:
    """The keep-alive pass (remediator.keepalive), spread over the window."""
    runtime = context.runtime
    keeper = KeepAlive(
        runtime.connector,
        store=runtime.store,
        links=runtime.engine.links,
        notifier=context.notifier,
        settings=context.settings,
        clock=context.now,
    )
    results = []
    async for connection_id in context.each(await keeper.targets()):
        kept = await keeper.keep_id(connection_id)
        if kept is not None:
            results.append(kept)
    return tally(results)


# The check ahead starts once keep-alive has finished the slot (at most this long after its
# window): it checks connections proven alive, and a grant Fortnox revoked is found, marked and
# told to the Backoffice by keep-alive, never first by a check that would leave it untold.
AFTER_KEEPALIVE_SECONDS = 600.0


async def preflight(context: JobContext) -> str:
    """The check ahead (remediator.ahead) of every active connection for the slot's local
    date, after keep-alive, spread over the window."""
    limit = context.tools.spread.seconds + AFTER_KEEPALIVE_SECONDS
    if not await context.after("keepalive", limit):
        log.warning("keep-alive has not finished slot %s; checking ahead anyway", context.slot.key)
    check = Preflight(context.runtime, context.notifier)
    summary = Summary(context.day)
    async for connection in context.each(await check.targets()):
        summary.connections.append(await check.check(connection, context.day))
    return summary.tally()


JOBS: dict[str, Job] = {"keepalive": keepalive, "preflight": preflight}


def bound(jobs: Mapping[str, Job], tools: JobTools) -> dict[str, SlotJob]:
    """``jobs`` as the scheduler runs them: each slot's claim made into a context."""

    def slot_job(job: Job) -> SlotJob:
        async def run(claim: Claim) -> str:
            return await job(JobContext(tools, claim))

        return run

    return {name: slot_job(job) for name, job in jobs.items()}
