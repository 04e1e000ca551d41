"""Workers in the service's process drain the stored queue with bounded concurrency.

One dispatcher looks at the queue when woken (new work stored, a run settled) or every
``poll_seconds``, and gives each connection with due runs its own drain, at most
``concurrency`` at a time. A drain works its connection's due runs oldest export date first,
so re-sent vouchers reach Fortnox in date order and runs of a kind join the one applied before
them. A drain holds its company's lease (``Engine.turn``) from before its first claim to after
its last run, so no other drain, instance or ``remediator fix`` acts on that company meanwhile,
and a connection is never drained twice at once. It names the vouchers of its due runs
(``Companies.expecting_vouchers``), so that a duplicate search covers their days: when it
starts, and again when it claims a run that came after its last look (others may have come
with it). It used to look again every second, which under a backlog, where a company's runs
come round seconds apart, was a query before nearly every claim that found nothing new. The
per-tenant rate limit is the connector's, shared by every drain.

Several instances share one database: the dispatcher skips connections another instance (or a
CLI ``fix``) is working on, and a drain that finds its company's lease taken all the same
(another instance looked at the same moment) leaves at once instead of polling for it: the
holder's drain claims the connection's runs, and the next look after it ends finds what came
later. Claims are taken in the database (``QueueStore.claim``). At most every
``poll_seconds`` a look also puts back runs whose process died, once their company's lease has
expired, and runs whose connection was reconnected at another instance.

Instances share the companies in play (held by a drain or a ``fix`` anywhere, or due and free):
each says it is at work with a lease of its own (``instance:<host>:<pid>``, renewed at every
look back, deleted when it stops), and takes at most its share of them, the companies in play
divided by the instances at work, rounded up. Without the share, the first instance to look at
a burst took every company in it (up to ``concurrency``), and each drain kept its company while
the burst's later failures arrived: of two instances, one did most of the work and then worked
alone while the other idled. A drain whose instance holds more than its share (the companies in
play fell, or an instance joined) hands its company back between two runs, for an instance
under its share to take. The presence is a hint for sharing, never for safety (a company's
lease is): one left by an instance that died makes the others take less only until it expires
(``PRESENCE_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from remediator.companies import KEY_PREFIXES, Expected, Turn
from remediator.errors import LeaseBusy, LeaseLost, UnknownConnectionError
from remediator.service.logs import ids
from remediator.service.process import Processor, Session
from remediator.service.waiting import woken
from remediator.storage.leases import Census, LeaseStore, new_owner, this_process
from remediator.storage.queue import QueueStore
from remediator.unfinished import end_interrupted

log = logging.getLogger(__name__)

# Wake-ups closer together than this share one look at the queue. Under a stream of intake
# every accepted failure and every drain that ends wakes the dispatcher, and its look groups
# every queued run (28 failures posted one after the other: 111 looks in 5.6 s without the
# gap). A new run waits at most this long for it.
LOOK_GAP_SECONDS = 0.1

# An instance's presence (the lease that says it works the queue) lives this long, or three
# looks back if they are further apart, after it was last renewed.
PRESENCE_SECONDS = 5.0
INSTANCE = "instance:"


def share(census: Census, mine: int, due: int, concurrency: int) -> int:
    """How many companies this instance may hold at once: all it can (``concurrency``) when
    it works alone, else its share of the companies in play (held elsewhere, held here, due and
    free), rounded up."""
    if census.instances <= 1:
        return concurrency
    in_play = census.companies_elsewhere + mine + due
    return max(1, min(concurrency, math.ceil(in_play / census.instances)))


class Workers:
    def __init__(
        self,
        processor: Processor,
        queue: QueueStore,
        *,
        concurrency: int,
        poll_seconds: float,
        join_seconds: float = 60.0,
        grace_seconds: float = 10.0,
        max_attempts: int = 3,
    ) -> None:
        self.processor, self.queue = processor, queue
        self.max_attempts = max_attempts
        self.concurrency, self.poll_seconds = concurrency, poll_seconds
        self.join_seconds, self.grace_seconds = join_seconds, grace_seconds
        self._stopping = False
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._sessions: dict[str, Session] = {}
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._looked_back = 0.0  # time.monotonic() of the last recover and requeue
        self._share = concurrency  # companies this instance may hold (``share``)
        self._leaving: set[str] = set()  # drains handing their company back, not yet gone
        self._presence = (f"{INSTANCE}{this_process()}", new_owner())

    async def start(self) -> None:
        """Put back what a crash left running (parking as failed what was interrupted as often
        as it may be), then start dispatching."""
        await self._recover()
        self._wake = asyncio.Event()
        self._stopping = False
        if self.concurrency > 0:
            await self._present()
            self._dispatcher = asyncio.create_task(self._dispatch(), name="remediator-dispatch")

    async def stop(self) -> None:
        """Stop taking runs; let runs under way finish for up to ``grace_seconds``, then cancel
        what is left (a cancelled run stays ``running`` and is resumed at the next start)."""
        self._stopping = True
        if self._dispatcher is not None:
            await _cancelled(self._dispatcher)
            self._dispatcher = None
        if self.concurrency > 0:  # the others take the companies in play from now on
            try:
                await asyncio.to_thread(self._leases.forget, *self._presence)
            except Exception:  # it expires anyway
                log.warning("could not delete this instance's presence", exc_info=True)
        if self._drains:
            await asyncio.wait(list(self._drains.values()), timeout=self.grace_seconds)
        for task in list(self._drains.values()):
            await _cancelled(task)
        self._drains.clear()

    def running(self) -> bool:
        """Whether work is being dispatched (always, unless the service runs no workers)."""
        if self.concurrency == 0:
            return True
        return self._dispatcher is not None and not self._dispatcher.done()

    def busy(self) -> int:
        return len(self._drains)

    def wake(self) -> None:
        """New work was stored: look at once instead of at the next poll."""
        self._wake.set()

    async def _dispatch(self) -> None:
        while True:
            looked = time.monotonic()
            self._wake.clear()  # what woke the dispatcher so far, this look covers
            try:
                await self._fill()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch error; continuing")
            await woken(self._wake, self.poll_seconds)
            gap = LOOK_GAP_SECONDS - (time.monotonic() - looked)
            if gap > 0:  # wake-ups meanwhile are kept (the event is set again) for the next look
                await asyncio.sleep(gap)

    async def _recover(self) -> None:
        """Runs whose process is gone (this one before a restart, or another instance) go
        back to the queue once their company's lease has expired (``QueueStore.recover``).
        Runs of a CLI command whose process is gone end failed, saying so, once they are
        ``stuck_run_seconds`` old (a ``plan`` holds no lease)."""
        runtime = self.processor.runtime
        grace = runtime.settings.lease_seconds
        poisoned = await asyncio.to_thread(self.queue.take_poisoned, grace, self.max_attempts)
        for run_id, attempts in poisoned.items():
            await self.processor.park(run_id, attempts)
        for run_id in await asyncio.to_thread(self.queue.recover, grace):
            log.warning("run resumed: the process working it is gone", extra=ids(run_id=run_id))
        ended = await asyncio.to_thread(
            end_interrupted,
            self.queue,
            lambda: runtime.catalogue,
            runtime.settings.stuck_run_seconds,
        )
        for run_id in ended:
            log.warning("run ended: the CLI command running it is gone", extra=ids(run_id=run_id))

    async def _fill(self) -> None:
        if time.monotonic() - self._looked_back >= self.poll_seconds:
            # Not at every wake-up: under a stream of intake they come many times a second,
            # and what these look for (a dead process, a reconnect elsewhere) is not urgent.
            self._looked_back = time.monotonic()
            await self._look_back()
        free = self.concurrency - len(self._drains)
        if free <= 0:
            return
        due = await asyncio.to_thread(self.queue.due_connections, set(self._drains), free)
        if due or self._drains:
            census = await asyncio.to_thread(
                self._leases.census, INSTANCE, KEY_PREFIXES, this_process()
            )
            self._share = share(census, len(self._drains), len(due), self.concurrency)
        for connection_id in due[: max(0, self._share - len(self._drains))]:
            task = asyncio.create_task(self._drain(connection_id), name=f"drain-{connection_id}")
            self._drains[connection_id] = task

    @property
    def _leases(self) -> LeaseStore:
        return self.processor.runtime.engine.companies.leases.store

    async def _present(self) -> None:
        """Say (again) that this instance works the queue (``PRESENCE_SECONDS``)."""
        ttl = max(PRESENCE_SECONDS, 3 * self.poll_seconds)
        await asyncio.to_thread(self._leases.acquire, *self._presence, ttl)

    def _hands_back(self, connection_id: str) -> bool:
        """Whether the drain of ``connection_id`` should hand its company back now: this
        instance holds more than its share, counting out the drains already leaving."""
        if len(self._drains) - len(self._leaving) <= self._share:
            return False
        self._leaving.add(connection_id)
        return True

    async def _look_back(self) -> None:
        await self._present()
        await self._recover()
        requeued = await asyncio.to_thread(self.queue.requeue_reconnected_anywhere)
        for run_id in requeued:
            log.info("run queued again: its connection works again", extra=ids(run_id=run_id))

    def _session(self, connection_id: str) -> Session:
        """The connection's session: kept for ``join_seconds`` after its last run, so that
        failures of a burst arriving a little apart still join the run that fixed them."""
        now = time.monotonic()
        for key, old in list(self._sessions.items()):
            if now - old.last_active > self.join_seconds:
                del self._sessions[key]
        return self._sessions.setdefault(connection_id, Session(connection_id))

    async def _drain(self, connection_id: str) -> None:
        try:
            async with self._turn(connection_id) as turn:
                await self._work(connection_id, turn)
        except asyncio.CancelledError:
            raise
        except LeaseBusy:
            log.debug(
                "drain left: someone else has the company's turn",
                extra=ids(connection_id=connection_id),
            )
        except LeaseLost as err:
            log.warning("drain stopped: %s", err, extra=ids(connection_id=connection_id))
        except Exception:
            log.exception("drain error", extra=ids(connection_id=connection_id))
        finally:
            self._drains.pop(connection_id, None)
            self._leaving.discard(connection_id)
            self._wake.set()

    async def _work(self, connection_id: str, turn: Turn | None) -> None:
        """Claim and work the connection's due runs one by one, until none is due, the
        instance stops, or its share says to hand the company back."""
        session = self._session(connection_id)
        companies = self.processor.runtime.engine.companies
        with companies.expecting_vouchers(connection_id) as expected:
            looked: frozenset[str] | None = None  # the due runs the last look named
            while not self._stopping:
                if turn is not None:
                    turn.ensure_held()
                if self._hands_back(connection_id):
                    log.info(
                        "drain handed its company back: more than this instance's share",
                        extra=ids(connection_id=connection_id),
                    )
                    return
                if looked is None:  # the runs about to be worked: a search covers their days
                    looked = await self._look(connection_id, expected)
                row = await asyncio.to_thread(self.queue.claim, connection_id)
                if row is None:
                    return
                if row.id not in looked:  # it came after the last look, and others may have
                    looked = await self._look(connection_id, expected)
                await self.processor.process(row, session)
                session.last_active = time.monotonic()

    async def _look(self, connection_id: str, expected: Expected) -> frozenset[str]:
        """Name the vouchers of the connection's due runs for the duplicate search; the runs
        named."""
        due = await asyncio.to_thread(self.queue.due_vouchers, connection_id)
        expected.now(due.vouchers)
        return due.runs

    @asynccontextmanager
    async def _turn(self, connection_id: str) -> AsyncIterator[Turn | None]:
        """The company's turn; none for a connection the store does not know (its runs are
        settled as failed one by one, as they would be anyway)."""
        turn_at = self.processor.runtime.engine.turn(connection_id, wait=False)
        async with contextlib.AsyncExitStack() as held:
            try:  # the turn reads the connection first: that read tells an unknown one
                turn: Turn | None = await held.enter_async_context(turn_at)
            except UnknownConnectionError:
                turn = None
            yield turn


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
