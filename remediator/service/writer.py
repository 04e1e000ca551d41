"""Group commit for the intake: failures arriving together share one transaction.

Each intake still gets its answer only after its run is committed; while one batch is being
written, the next ones gather, so under load one sync to disk serves many requests.

The batches are written on a thread of the writer's own, not on the event loop's default
executor: the workers' database calls (claims, settles, reads) queue there, and under a burst
a Backoffice's POST waited behind them (bench/service.py: about a second per POST with 50 in
flight, which made the intake, not the work, what bounded a burst).

A batch is handed to the thread by the request that finds the writer idle, and answered by a
callback the thread's completion schedules on the event loop, which also hands over the next
batch. Should its answers fail to be given, every intake of the batch gets the error and the
next batch is written all the same: no request waits forever. (That is two turns of the event
loop fewer per POST than a writer task of its own; bench/service.py showed no difference in
the intake's time beyond its noise.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from concurrent.futures import ThreadPoolExecutor

from remediator.errors import UsageError
from remediator.storage.queue import Accepted, Intake, QueueStore

MAX_BATCH = 128

Waiting = list[tuple[Intake, asyncio.Future[Accepted]]]


class IntakeWriter:
    def __init__(self, queue: QueueStore) -> None:
        self.queue = queue
        self._pending: Waiting = []
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
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Accepted] = loop.create_future()
        self._pending.append((intake, future))
        if not self._writing:
            self._write_next(loop)
        return await future

    def _write_next(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand what waits (up to ``MAX_BATCH``) to the writer's thread, or become idle."""
        if not self._pending:
            self._writing = False
            return
        self._writing = True
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        written = self._executor().submit(self.queue.accept_many, [i for i, _ in batch])
        written.add_done_callback(lambda done: self._schedule(loop, batch, done))

    def _schedule(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: Waiting,
        done: concurrent.futures.Future[list[Accepted | UsageError]],
    ) -> None:
        """On the writer's thread: answer the batch on the event loop, then write the next."""
        try:
            loop.call_soon_threadsafe(self._answered, loop, batch, done)
        except RuntimeError:  # the event loop is closed: no one waits for these answers
            return

    def _answered(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: Waiting,
        done: concurrent.futures.Future[list[Accepted | UsageError]],
    ) -> None:
        """On the event loop: each intake of the batch its answer (every one of them the error
        when the batch failed, or when its answers cannot be given), then the next batch."""
        try:
            error = done.exception()
            if error is None:
                _answer(batch, done.result())
        except Exception as err:  # noqa: BLE001 - no request may wait forever
            error = err
        try:
            if error is not None:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
        finally:
            self._write_next(loop)


def _answer(batch: Waiting, results: list[Accepted | UsageError]) -> None:
    """Each intake its result: its run, or the error that refused it."""
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():  # its request was cancelled meanwhile
            continue
        if isinstance(result, UsageError):
            future.set_exception(result)
        else:
            future.set_result(result)
