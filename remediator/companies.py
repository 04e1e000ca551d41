"""Whose turn it is at a Fortnox company: one lease per company (tenant), in the database.

Whoever acts on a company — a service worker's drain, ``fix``, ``apply``, the service's apply of
a reviewed plan — holds the lease ``tenant:<id>`` first, in whatever process or machine it runs
(``remediator.storage.leases``). Two restaurants' connections to one company share it.

The key is the company from the first moment. A connection whose tenant is not yet stored (an
imported refresh token, a connection added without one) learns it before anything acts on it:
under the lease ``connection:<id>``, from the tenant claim of its access token (fetching one
refreshes, and a refresh stores the claim), else from ``GET /3/companyinformation``'s
DatabaseNumber. If Fortnox cannot tell (the connection needs a reconnect, Fortnox is down), the
turn is held on ``connection:<id>`` and refuses every write: such a run can read and report,
and a later run, once the company is known, writes.

Each known company also has a session memory (``remediator.fortnox.Memory``): the financial
year, series and accounts an apply read under the company's turn are reused by this process's
next applies on the company for ``MEMORY_SECONDS``, instead of being read again in every run.
And each held lease has a voucher ledger (``remediator.fortnox.Ledger``): one duplicate search
over the days of the failures waiting for the company here (``expecting``; a service drain
adds its connection's queued runs, ``expecting_vouchers``; ``burst``) serves the POSTs of that
lease's turns that follow it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date

from remediator.errors import LeaseBusy, LeaseLost
from remediator.failure import ExportFailure
from remediator.fortnox import (
    FortnoxConnector,
    FortnoxError,
    Ledger,
    Memory,
    RequestRecord,
    SlidingWindowLimiter,
    tenant_of,
)
from remediator.fortnox._tokens import RECENT_SECONDS
from remediator.storage import Connection, ConnectionStore
from remediator.storage.leases import Lease, Leases, Spent, held, holding, this_process
from remediator.trail import Audit, recording

log = logging.getLogger(__name__)

# How long a company's remembered reads serve this process's applies. What went stale meanwhile
# (a person changed Fortnox, another instance fixed the company) is met by a refusal, which
# makes the run read everything again: the length costs requests when Fortnox changed, never a
# wrong outcome. Five minutes covers a backlog worked through after an outage, where a
# company's runs come round minutes apart (bench.service, 1,000 companies: with 30 s, the year
# and the check were read five times per company).
MEMORY_SECONDS = 300.0

# How often this process lets go of the memories and ledgers its companies no longer use.
SWEEP_SECONDS = 60.0

# How many restaurants' bursts this process's applies work on at a time (``admitted``); the
# others wait, each burst whole. With thousands at once, every company's next run came round
# only after all the others' (the remediation bench: 1,000 companies, a run of each company
# every ~15 s), so its session memory and its burst's search had expired by then and were made
# again, and every request cost more with ten thousand runs at work.
MAX_COMPANIES = 100


Expecting = dict[str, Counter[tuple[str, date]]]  # connection id -> (series, day) -> count


class Expected:
    """One ``expecting_vouchers`` registration: the vouchers it names now."""

    def __init__(self, expecting: Expecting, connection_id: str) -> None:
        self._expecting, self._connection_id = expecting, connection_id
        self._entries: list[tuple[str, date]] = []

    def now(self, entries: Iterable[tuple[str, date]]) -> None:
        """Name ``entries`` instead of what this registration named before."""
        wanted = [(series.strip().upper(), day) for series, day in entries]
        self._count(self._entries, -1)
        self._count(wanted, 1)
        self._entries = wanted

    def _count(self, entries: list[tuple[str, date]], sign: int) -> None:
        counted = self._expecting.setdefault(self._connection_id, Counter())
        for entry in entries:
            counted[entry] += sign
            if counted[entry] <= 0:
                del counted[entry]
        if not counted:
            del self._expecting[self._connection_id]


@dataclass
class _Admission:
    """A restaurant's runs at work or waiting for a place among ``MAX_COMPANIES``."""

    runs: int = 0
    admitted: asyncio.Event = field(default_factory=asyncio.Event)
    taker: asyncio.Task[None] | None = None  # waits for the place on the runs' behalf


@dataclass
class Turn:
    """A held turn at one company (or, while its company is unknown, at one connection)."""

    lease: Lease
    connection_id: str
    company_known: bool
    connection: Connection  # as read when the turn was asked for: what its run works with
    refused: LeaseLost | None = None  # the first write this turn refused
    memory: Memory | None = None  # the company's remembered reads; none while it is unknown
    ledger: Ledger | None = None  # the lease's voucher search; none while it is unknown

    def ensure_held(self) -> None:
        """Raise ``LeaseLost`` once the lease is gone (before taking on more work)."""
        self.lease.ensure_held()

    def before_write(self) -> None:
        """Raise ``LeaseLost`` unless a write to Fortnox may go out now."""
        try:
            self.lease.ensure_held()
        except LeaseLost as err:
            self.refused = self.refused or err
            raise
        if not self.company_known:
            self.refused = self.refused or LeaseLost(
                self.lease.key,
                f"the Fortnox company of connection {self.connection_id!r} is not known yet, "
                "so its lease cannot be held; nothing is written until it is",
            )
            raise self.refused


_COMPANY = "tenant:"
_CONNECTION = "connection:"
# How the lease keys of companies begin: a known company, and a connection whose company is
# not known yet.
KEY_PREFIXES = (_COMPANY, _CONNECTION)


def company_key(tenant_id: str) -> str:
    return f"{_COMPANY}{tenant_id}"


def connection_key(connection_id: str) -> str:
    return f"{_CONNECTION}{connection_id}"


class CompanyBudget:
    """A company's rate budget as the connector's limiter counts it, by lease key
    (``storage.leases.Budget``): a holder that lets go of a company hands over what it spent,
    and the next holder, in another process, counts it. The limiter counts a company by its
    tenant id, and a connection whose company is not known yet by ``connection:<id>`` (its
    lease key too)."""

    def __init__(self, limiter: SlidingWindowLimiter) -> None:
        self.limiter = limiter

    def spent(self, key: str) -> Spent | None:
        ages = self.limiter.ages(key.removeprefix(_COMPANY))
        return Spent(this_process(), ages) if ages else None

    def count(self, key: str, spent: Spent) -> None:
        self.limiter.count(key.removeprefix(_COMPANY), spent.ages)


class Companies:
    """Learns each connection's company and hands out turns on it."""

    def __init__(self, connector: FortnoxConnector, store: ConnectionStore, leases: Leases) -> None:
        self.connector, self.store, self.leases = connector, store, leases
        self._memories: dict[str, Memory] = {}
        self._ledgers: dict[str, tuple[Lease, Ledger]] = {}
        self._expected: Expecting = {}
        self.max_companies = MAX_COMPANIES
        self._places: asyncio.Semaphore | None = None
        self._admissions: dict[str, _Admission] = {}
        self._reading: dict[str, asyncio.Future[Connection]] = {}
        self._learnt: dict[str, list[RequestRecord]] = {}
        self._swept = time.monotonic()

    def __repr__(self) -> str:
        return f"Companies({self.leases!r})"

    @asynccontextmanager
    async def turn(self, connection_id: str, *, wait: bool = True) -> AsyncIterator[Turn]:
        """Hold the company's lease for ``connection_id``, waiting for it (re-entrant in one
        task); ``wait=False``: ``LeaseBusy`` at once when someone else (another task of this
        process, or another process) holds it. Raises ``UnknownConnectionError`` for a
        connection the store does not know."""
        connection = await self._known(connection_id)
        tenant = connection.tenant_id
        key = connection_key(connection_id) if tenant is None else company_key(tenant)
        memory = None if tenant is None else self.memory(tenant)
        try:
            async with self._lease(key, wait=wait) as lease:
                ledger = None if tenant is None else self.ledger(tenant, lease)
                yield Turn(
                    lease,
                    connection_id,
                    company_known=tenant is not None,
                    connection=connection,
                    memory=memory,
                    ledger=ledger,
                )
        finally:  # learning's requests belong to a run of this turn, or to none
            self._learnt.pop(connection_id, None)

    @asynccontextmanager
    async def _lease(self, key: str, *, wait: bool) -> AsyncIterator[Lease]:
        if wait:
            async with self.leases.hold(key) as lease:
                yield lease
            return
        async with self.leases.attempt(key) as free:
            if free is None:
                raise LeaseBusy(key)
            yield free

    @asynccontextmanager
    async def admitted(self, connection_id: str) -> AsyncIterator[None]:
        """Wait for a place among the ``max_companies`` restaurants this process works on
        (a run of a restaurant already at work or waiting joins it), and keep it while the
        body runs. A task that holds a lease never waits here: a holder waiting for a place
        that a waiter for its lease holds would wait for ever."""
        if holding():
            yield
            return
        admission = self._admissions.get(connection_id)
        if admission is None:
            admission = self._admissions[connection_id] = _Admission()
            # taken by a task of its own: the run that came first may leave before the others
            admission.taker = asyncio.create_task(self._admit(admission))
        admission.runs += 1
        try:
            await admission.admitted.wait()
            yield
        finally:
            self._leave(connection_id, admission)

    async def _admit(self, admission: _Admission) -> None:
        if self._places is None:
            self._places = asyncio.Semaphore(self.max_companies)
        await self._places.acquire()
        admission.admitted.set()

    def _leave(self, connection_id: str, admission: _Admission) -> None:
        admission.runs -= 1
        if admission.runs > 0:
            return
        if self._admissions.get(connection_id) is admission:
            del self._admissions[connection_id]
        if admission.admitted.is_set():
            if self._places is not None:
                self._places.release()
        elif admission.taker is not None:
            admission.taker.cancel()

    def ledger(self, tenant: str, lease: Lease) -> Ledger:
        """Company ``tenant``'s voucher ledger for ``lease`` (a new one for a new lease: what
        one lease's holders searched is not known under another)."""
        self._sweep()
        kept = self._ledgers.get(tenant)
        if kept is None or kept[0] is not lease:
            kept = self._ledgers[tenant] = (lease, Ledger(lambda: lease.lost is None))
        return kept[1]

    def expecting(self, failure: ExportFailure) -> AbstractContextManager[Expected]:
        """``failure`` waits for (or is at) its company in this process while the body runs:
        a duplicate search may cover its day too (``burst``)."""
        voucher = failure.export.voucher
        entries = [] if voucher is None else [(voucher.voucher_series, voucher.transaction_date)]
        return self.expecting_vouchers(failure.connection_id, entries)

    @contextmanager
    def expecting_vouchers(
        self, connection_id: str, entries: Iterable[tuple[str, date]] = ()
    ) -> Iterator[Expected]:
        """Vouchers (series, transaction date) of ``connection_id`` that this process will
        send while the body runs, such as the queued runs a drain will work: a duplicate search
        may cover their days too (``burst``). The body may name others instead as it learns
        of them (``Expected.now``)."""
        expected = Expected(self._expected, connection_id)
        expected.now(entries)
        try:
            yield expected
        finally:
            expected.now(())

    def burst(self, connection_id: str, series: str) -> list[date]:
        """The days of the failures of ``connection_id`` in ``series`` expected in this
        process now (``expecting``)."""
        wanted = series.strip().upper()
        expected = self._expected.get(connection_id, Counter())
        return sorted({day for (code, day) in expected if code == wanted})

    def kept_by_plan(self, connection: Connection) -> Memory | None:
        """The memory a plan of ``connection`` keeps its reads in: its company's, when the
        current task holds the company's turn (a service drain plans, then applies, the same
        run); none otherwise (a plan made beside someone's apply would keep what that apply is
        about to change)."""
        tenant = connection.tenant_id
        if tenant is None or held(company_key(tenant)) is None:
            return None
        return self.memory(tenant)

    def memory(self, tenant: str) -> Memory:
        """The session memory of company ``tenant`` in this process."""
        self._sweep()
        memory = self._memories.get(tenant)
        if memory is None:
            memory = self._memories[tenant] = Memory(MEMORY_SECONDS)
        return memory

    def _sweep(self) -> None:
        """Let go, at most once per ``SWEEP_SECONDS``, of the memories that keep nothing alive
        and the ledgers of leases that ran out: a service meets thousands of companies, and
        what one of them left would otherwise stay until that company came back."""
        if time.monotonic() - self._swept < SWEEP_SECONDS:
            return
        self._swept = time.monotonic()
        self._memories = {t: m for t, m in self._memories.items() if not m.idle()}
        self._ledgers = {t: kept for t, kept in self._ledgers.items() if kept[0].remaining() > 0}

    async def _known(self, connection_id: str) -> Connection:
        """The connection, its company learnt now if need be (``tenant_id`` stays ``None``
        when Fortnox cannot tell at the moment)."""
        connection = await self.connection(connection_id)
        if connection.tenant_id:
            return connection
        async with self.leases.hold(connection_key(connection_id)):
            tenant = await self._learn(connection_id)
        return connection.model_copy(update={"tenant_id": tenant})

    def learnt(self, connection_id: str) -> list[RequestRecord]:
        """The requests sent to learn the connection's company that no run's audit holds yet,
        taken: the run the turn was taken for records them (dropped when the turn ends without
        one, rather than put in a later run's trail)."""
        return self._learnt.pop(connection_id, [])

    async def connection(self, connection_id: str) -> Connection:
        """The connection as stored, read at most ``RECENT_SECONDS`` ago. Callers at the same
        moment share one read: a burst's runs of one restaurant, admitted together, each read
        it at their start otherwise."""
        found = self.store.recent(connection_id, RECENT_SECONDS)
        if found is not None:
            return found
        reading = self._reading.get(connection_id)
        if reading is None:
            reading = asyncio.ensure_future(asyncio.to_thread(self.store.get, connection_id))
            self._reading[connection_id] = reading
            reading.add_done_callback(lambda done: self._read_done(connection_id, done))
        return await asyncio.shield(reading)

    def _read_done(self, connection_id: str, done: asyncio.Future[Connection]) -> None:
        self._reading.pop(connection_id, None)
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have gone meanwhile

    async def _learn(self, connection_id: str) -> str | None:
        store = self.store
        connection = await asyncio.to_thread(store.get, connection_id)
        if connection.tenant_id:  # learnt by the holder before us
            return connection.tenant_id
        learning = Audit()
        try:
            with recording(learning):
                token = await self.connector.tokens(connection_id).access_token()
                tenant = tenant_of(token.get_secret_value())
                if tenant is None:
                    client = self.connector.client(connection, read_only=True, hook=learning)
                    number = (await client.company_information()).database_number
                    tenant = None if number is None else str(number)
        except FortnoxError as err:
            log.warning("the company of connection %s is not known yet: %s", connection_id, err)
            return None
        finally:
            if learning.records:
                self._learnt.setdefault(connection_id, []).extend(learning.records)
        if tenant is not None:
            await asyncio.to_thread(store.set_tenant, connection_id, tenant)
            log.info("connection %s works on Fortnox company %s", connection_id, tenant)
        return tenant
