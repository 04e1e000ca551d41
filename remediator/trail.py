"""A run's audit trail as it is made: every request the remediator sends on its behalf.

The run's client hands its ``/3/`` requests to the run's ``Audit`` directly. Token calls go
through the connector's OAuth client, which serves every run: ``audit_token_calls`` (the
connector-wide hook) puts each in the audit that is ``recording`` in the task that made it.

A run's trail is stored with its end, except that a run that writes to Fortnox stores what it
has made so far each time a write is answered (``Audit(keep=...)``), without waiting for it:
a process that dies after a write leaves that write in the run's trail, and the pass that
resumes the run knows the run changed Fortnox already.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from remediator.fortnox import RequestRecord
from remediator.report import Requests

_RECORDING: ContextVar[Audit | None] = ContextVar("remediator_audit", default=None)
log = logging.getLogger(__name__)

# Stores records of a run's trail that follow the ``first`` stored before (its second
# argument); returns once they are stored.
Keep = Callable[[list[RequestRecord], int], Awaitable[None]]


class Audit:
    """Collects the requests of one run (the audit trail); never a token. With ``keep``, the
    records so far are stored each time a write is answered (in order, one store at a time);
    ``kept`` of them are stored, the rest are the run's end's to store (``unkept``)."""

    def __init__(self, keep: Keep | None = None) -> None:
        self.records: list[RequestRecord] = []
        self.kept = 0
        self._keep = keep
        self._keeping: asyncio.Task[None] | None = None

    def __call__(self, record: RequestRecord) -> None:
        self.records.append(record)
        if self._keep is not None and record.writes and not self._busy():
            self._keeping = asyncio.ensure_future(self._store(self._keep))
            self._keeping.add_done_callback(self._done)

    def _busy(self) -> bool:
        return self._keeping is not None and not self._keeping.done()

    def _done(self, task: asyncio.Future[None]) -> None:
        if self._keeping is task:  # the task holds this audit: no cycle left to the collector
            self._keeping = None

    async def _store(self, keep: Keep) -> None:
        """Store the records not stored yet, again while writes were answered meanwhile; a
        store that fails leaves the rest to the run's end (logged: the end may fail too)."""
        while self.kept < len(self.records) and any(r.writes for r in self.records[self.kept :]):
            upto = len(self.records)
            try:
                await keep(self.records[self.kept : upto], self.kept)
            except Exception as err:  # noqa: BLE001 - the run's end stores them instead
                log.warning("a run's requests could not be stored before its end: %s", err)
                self._keep = None
                return
            self.kept = upto

    async def stored(self) -> None:
        """Return once no store of records so far is under way (before the run's end)."""
        while (keeping := self._keeping) is not None and not keeping.done():
            await asyncio.shield(keeping)

    def unkept(self) -> list[RequestRecord]:
        """The records the run's end stores: those not stored yet."""
        return self.records[self.kept :]

    def counts(self) -> Requests:
        api = [r for r in self.records if r.kind == "api"]
        by_method = dict(sorted(Counter(r.method for r in api).items()))
        return Requests(
            by_method=by_method, token_calls=len(self.records) - len(api), total=len(self.records)
        )


@contextmanager
def recording(audit: Audit) -> Iterator[Audit]:
    """Token calls made in this task while the body runs land in ``audit``."""
    running = _RECORDING.set(audit)
    try:
        yield audit
    finally:
        _RECORDING.reset(running)


def audit_token_calls(record: RequestRecord) -> None:
    """A connector-wide hook: a token call lands in the audit recording in its task."""
    audit = _RECORDING.get()
    if audit is not None and record.kind == "token":
        audit(record)
