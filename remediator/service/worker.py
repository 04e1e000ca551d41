"""Workers in the service's process drain the stored queue with bounded concurrency.

Each worker takes one connection at a time and works its due runs oldest export date first,
so re-sent vouchers reach Fortnox in date order and runs of a kind join the one applied before
them. The per-tenant rate limit is the connector's, shared by every worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from remediator.service.logs import ids
from remediator.service.process import Processor, Session
from remediator.storage.queue import QueueStore

log = logging.getLogger(__name__)


class Workers:
    def __init__(
        self, processor: Processor, queue: QueueStore, *, concurrency: int, poll_seconds: float
    ) -> None:
        self.processor, self.queue = processor, queue
        self.concurrency, self.poll_seconds = concurrency, poll_seconds
        self._busy: set[str] = set()
        self._claiming = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Put back what a crash left running, then start the workers."""
        recovered = await asyncio.to_thread(self.queue.recover)
        for run_id in recovered:
            log.warning("run resumed after a restart", extra=ids(run_id=run_id))
        self._tasks = [
            asyncio.create_task(self._loop(), name=f"remediator-worker-{n}")
            for n in range(self.concurrency)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def alive(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    def wake(self) -> None:
        """New work was stored: idle workers look at once instead of at the next poll."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                connection_id = await self._take_connection()
                if connection_id is None:
                    await self._idle()
                    continue
                try:
                    await self._drain(connection_id)
                finally:
                    self._busy.discard(connection_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker error; continuing")
                await asyncio.sleep(self.poll_seconds)

    async def _take_connection(self) -> str | None:
        async with self._claiming:
            connection_id = await asyncio.to_thread(self.queue.next_connection, set(self._busy))
            if connection_id is not None:
                self._busy.add(connection_id)
            return connection_id

    async def _drain(self, connection_id: str) -> None:
        session = Session(connection_id)
        while (row := await asyncio.to_thread(self.queue.claim, connection_id)) is not None:
            await self.processor.process(row, session)

    async def _idle(self) -> None:
        requeued = await asyncio.to_thread(self.queue.requeue_reconnected_anywhere)
        for run_id in requeued:
            log.info("run queued again: its connection works again", extra=ids(run_id=run_id))
        if requeued:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        self._wake.clear()
