"""The engine's bookkeeping of runs (a run began, a run ended), written in batches.

Each run writes its start before it acts and its report before it returns, and waits until
that is committed. When many runs write at the same moment (a burst, a drain, a thousand
failures handed over at once), one thread writes everything waiting in one transaction
(``RunStore.write``): a group commit, one thread hop and one commit for the lot instead of one
each. A batch that fails is written again one write at a time, so a bad write fails its own
run only. What the store keeps without writing (``RunStore.keep``: the start and the report of
a run the service's worker claimed, which go with the worker's settle) is done at once, with
no thread hop.
"""

from __future__ import annotations

import asyncio

from remediator.storage.runs import RunStore, RunWrite


class RunLog:
    """Writes runs' starts and ends through ``runs``, together when they come together."""

    def __init__(self, runs: RunStore) -> None:
        self.runs = runs
        self._waiting: list[tuple[RunWrite, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"RunLog({len(self._waiting)} waiting)"

    async def write(self, write: RunWrite) -> None:
        """Write ``write`` with whatever else is waiting; return once it is committed (at
        once when the store keeps it without writing: ``RunStore.keep``)."""
        if self.runs.keep(write):
            return
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((write, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="remediator-runlog")
        await done

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(self.runs.write, [write for write, _ in batch])
            except Exception:  # noqa: BLE001 - each write is tried on its own below
                await self._one_by_one(batch)
            else:
                for _, done in batch:
                    _settle(done, None)

    async def _one_by_one(self, batch: list[tuple[RunWrite, asyncio.Future[None]]]) -> None:
        for write, done in batch:
            try:
                await asyncio.to_thread(self.runs.write, [write])
            except Exception as err:  # noqa: BLE001 - it is the caller's to handle
                _settle(done, err)
            else:
                _settle(done, None)


def _settle(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.done():  # its run was cancelled meanwhile; the write went out all the same
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


__all__ = ["RunLog"]
