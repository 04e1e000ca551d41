"""Group commit for the intake: failures arriving together share one transaction.

Each intake still gets its answer only after its run is committed; while one batch is being
written, the next ones gather, so under load one sync to disk serves many requests.

The batches are written on a thread of the writer's own, not on the event loop's default
executor: the workers' database calls (claims, settles, reads) queue there, and under a burst
a Backoffice's POST waited behind them (bench/service.py: about a second per POST with 50 in
flight, which made the intake, not the work, what bounded a burst).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from remediator.errors import UsageError
from remediator.storage.queue import Accepted, Intake, QueueStore

MAX_BATCH = 128


class IntakeWriter:
    def __init__(self, queue: QueueStore) -> None:
        self.queue = queue
        self._pending: list[tuple[Intake, asyncio.Future[Accepted]]] = []
        self._writing = False
        self._thread: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Let the writer's thread go once the batch it writes, if any, is written (a later
        intake starts another)."""
        if self._thread is not None:
            self._thread.shutdown(wait=False)
            self._thread = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="remediator-intake")
        return self._thread

    async def submit(self, intake: Intake) -> Accepted:
        """Store ``intake`` (with whatever else is waiting); returns once it is committed."""
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._pending.append((intake, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._write_batch(batch)
        finally:
            self._writing = False

    async def _write_batch(self, batch: list[tuple[Intake, asyncio.Future[Accepted]]]) -> None:
        try:
            intakes = [intake for intake, _ in batch]
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor(), self.queue.accept_many, intakes
            )
        except Exception as err:  # noqa: BLE001 - every waiter gets the storage error
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, UsageError):
                future.set_exception(result)
            else:
                future.set_result(result)
