"""The service's daily jobs, and what a job gets to do its work.

A job is a name in ``JOBS`` and an async callable taking a ``JobContext`` and returning a
one-line summary (stored in ``job_runs``). The context carries the runtime (connector, stores,
engine, settings), the queue, the Backoffice notifier, the slot's local date (``day``) and the
scheduler's clock. A job that works connection by connection walks them with ``each``, which
spreads them over ``schedule_spread_minutes`` so a thousand connections do not reach Fortnox
in the same second, and before each stops the job when the service is stopping or the job's
lease is lost.

To add a job::

    async def preflight(context: JobContext) -> str:
        ...
        return "12 checked, 1 finding"

    JOBS["preflight"] = preflight   # or in the dict below
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from remediator.keepalive import BackofficeNotifier, KeepAlive, tally
from remediator.runtime import Runtime
from remediator.schedule import Slot
from remediator.service.scheduler import Claim, SlotJob
from remediator.settings import Settings
from remediator.storage.queue import QueueStore

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


JOBS: dict[str, Job] = {"keepalive": keepalive}


def bound(jobs: Mapping[str, Job], tools: JobTools) -> dict[str, SlotJob]:
    """``jobs`` as the scheduler runs them: each slot's claim made into a context."""

    def slot_job(job: Job) -> SlotJob:
        async def run(claim: Claim) -> str:
            return await job(JobContext(tools, claim))

        return run

    return {name: slot_job(job) for name, job in jobs.items()}
