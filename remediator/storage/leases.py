"""Leases: one holder at a time per key (a Fortnox company), across processes and machines.

A lease is a row ``(key, owner, acquired_at, expires_at)`` in the ``leases`` table. It is taken
with one conditional statement inside a write transaction — an UPDATE of a row that is expired
or already ours, else an INSERT of a row that does not exist yet — so the database decides who
holds it: on SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer at a time); on
PostgreSQL a concurrent UPDATE of the same row waits for the other transaction and then
re-checks its WHERE on the committed row, and a concurrent INSERT of the same key fails on the
primary key. The same SQLAlchemy Core statements run on both.

Time: expiry is measured with **the database's clock** (``db_now``: ``julianday('now')`` on
SQLite, ``clock_timestamp()`` on PostgreSQL), never a process's wall clock. Processes on
several machines share one database but not one wall clock; a skewed clock on one machine would
otherwise let it take a lease early or hold one too long. The holder itself keeps a
conservative copy of its expiry on its own monotonic clock, started *before* each acquire or
renew statement was sent: that is never later than the expiry the database wrote, so the holder
stops writing no later than the database lets another process take over.

``hold`` is what callers use: wait (polling, with a backoff capped at one second) until the
lease is ours, renew it in the background every ``ttl / 3`` while the body runs, release it at
the end — or, when another task of this process waits for the same key, hand it over to that
task as it is (``Leases``): one database lease serves a burst of turns in one process. A lease that could not be renewed is *lost*: ``Lease.ensure_held`` raises ``LeaseLost``
from then on, and writers call it before every write. A process that dies simply stops
renewing; its lease expires after ``ttl`` and the next waiter takes it. ``attempt`` is
``hold`` for who would rather not wait (the scheduler: another instance is running the job).

**The company's rate budget goes with its lease.** Fortnox counts a company's requests in a
window (25 per 5 s) whichever process sends them, and each process paces only its own. So a
holder that lets go writes what it spent (``Spent``: the ages of its requests still inside the
window) into the released row, which is kept (expired, its owner empty) instead of deleted, and
the next holder, taking that row in another process, counts those requests in its own window
(``Budget``) before it sends anything. A holder that dies writes nothing: whoever takes its
expired lease starts with what it can know (docs/deploy.md, "The rate budget").

On SQLite, taking, renewing and releasing are committed without a sync to disk
(``durable=False``): they survive their process being killed, and a power loss that takes one
back has stopped every process that shares the file, its holder with them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from remediator.errors import LeaseLost
from remediator.storage.db import Database, autocommitted, leases, reading, write_transaction

log = logging.getLogger(__name__)

# Waiting for a lease someone else holds: first poll after this, doubling up to the cap.
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0


class db_now(FunctionElement[float]):  # noqa: N801 - reads like the SQL function it is
    """The database server's clock, in seconds since the epoch (a float)."""

    type = sa.Float()
    inherit_cache = True


@compiles(db_now)
def _db_now(element: db_now, compiler: Any, **kw: Any) -> str:  # noqa: ARG001
    return "EXTRACT(EPOCH FROM CLOCK_TIMESTAMP())"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler: Any, **kw: Any) -> str:  # noqa: ARG001
    return "((julianday('now') - 2440587.5) * 86400.0)"


# The statements, built once and bound per call (building them, the clock expressions and
# the CASE, took a sixth of a burst's database threads: bench/remediation.py under py-spy).
_KEY = sa.bindparam("lease_key", type_=sa.String)
_OWNER = sa.bindparam("lease_owner", type_=sa.String)
_TTL = sa.bindparam("lease_ttl", type_=sa.Float)
# An update of a row that is expired or already ours (``acquired_at`` kept when ours).
# It returns what the last holder spent, and the database's clock to age it with.
_TAKE = (
    leases.update()
    .where(leases.c.key == _KEY, sa.or_(leases.c.owner == _OWNER, leases.c.expires_at < db_now()))
    .values(
        owner=_OWNER,
        expires_at=db_now() + _TTL,
        acquired_at=sa.case((leases.c.owner == _OWNER, leases.c.acquired_at), else_=db_now()),
    )
    .returning(leases.c.spent, leases.c.spent_at, db_now().label("now"))
)
_ADD = leases.insert().values(
    key=_KEY, owner=_OWNER, acquired_at=db_now(), expires_at=db_now() + _TTL
)
_RENEW = (
    leases.update()
    .where(leases.c.key == _KEY, leases.c.owner == _OWNER, leases.c.expires_at >= db_now())
    .values(expires_at=db_now() + _TTL)
)
# A released lease stays as the record of what its holder spent: expired, owned by nobody.
_RELEASE = (
    leases.update()
    .where(leases.c.key == _KEY, leases.c.owner == _OWNER)
    .values(
        owner="",
        expires_at=0.0,
        spent=sa.bindparam("lease_spent", type_=sa.Text),
        spent_at=db_now(),
    )
)
_HOLDER = sa.select(leases.c.key, leases.c.owner, leases.c.acquired_at, leases.c.expires_at).where(
    leases.c.key == _KEY, leases.c.owner != ""
)
_NOW = sa.select(db_now())


def _starts(column: Any, prefix: Any) -> Any:
    """``column`` starts with ``prefix``, exactly (``LIKE`` would read ``_`` and ``%`` in a
    host's name as wildcards)."""
    return sa.func.substr(column, 1, sa.func.length(prefix)) == prefix


_INSTANCES = sa.bindparam("census_instances", type_=sa.String)
_COMPANIES = sa.bindparam("census_company", type_=sa.String)
_UNKNOWN_COMPANIES = sa.bindparam("census_unknown_company", type_=sa.String)
_PROCESS = sa.bindparam("census_process", type_=sa.String)
# Live leases: how many instances say they work the queue, and how many companies processes
# other than the one asking hold.
_CENSUS = sa.select(
    sa.func.count().filter(_starts(leases.c.key, _INSTANCES)).label("instances"),
    sa.func.count()
    .filter(
        sa.or_(_starts(leases.c.key, _COMPANIES), _starts(leases.c.key, _UNKNOWN_COMPANIES)),
        sa.not_(_starts(leases.c.owner, _PROCESS)),
    )
    .label("elsewhere"),
).where(leases.c.owner != "", leases.c.expires_at >= db_now())
_FORGET = leases.delete().where(leases.c.key == _KEY, leases.c.owner == _OWNER)


@dataclass(frozen=True)
class LeaseRow:
    """A lease as stored (times on the database's clock)."""

    key: str
    owner: str
    acquired_at: float
    expires_at: float


def this_process() -> str:
    """This process, as leases name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_owner() -> str:
    """An owner id unique to this process and this holder: host, pid and 8 random hex."""
    return f"{this_process()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Spent:
    """What a lease's holder spent of its company's rate budget: the process that sent the
    requests (``this_process``) and, for each request still inside the window, how many
    seconds before now its answer came (0 for one still waiting for it)."""

    process: str
    ages: tuple[float, ...]

    def to_json(self) -> str:
        return json.dumps({"process": self.process, "ages": [round(a, 3) for a in self.ages]})

    @classmethod
    def read(cls, text: str | None, at: float | None, now: float) -> Spent | None:
        """What was stored at ``at``, aged to ``now`` (both on the database's clock); ``None``
        when nothing was, or it does not read."""
        if text is None or at is None:
            return None
        try:
            data = json.loads(text)
            elapsed = max(0.0, now - at)
            return cls(str(data["process"]), tuple(float(a) + elapsed for a in data["ages"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Census:
    """Who is at work, from the live leases: the instances working the queue, and the
    companies held by processes other than the one that asked (other instances' drains, a
    ``remediator fix``)."""

    instances: int
    companies_elsewhere: int


@dataclass(frozen=True)
class Taken:
    """A lease taken from the database, with what its last holder spent (if it said)."""

    spent: Spent | None


class Budget(Protocol):
    """A company's rate budget as this process counts it, by lease key (the connector's
    limiter): what it spent, to hand over, and what another process spent, to count."""

    def spent(self, key: str) -> Spent | None: ...

    def count(self, key: str, spent: Spent) -> None: ...


class LeaseStore:
    """The ``leases`` table: each method is one short transaction; ``True`` means ours."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def __repr__(self) -> str:
        return f"LeaseStore({self._db!r})"

    def acquire(self, key: str, owner: str, ttl: float) -> bool:
        """Take ``key`` for ``ttl`` seconds if it is free, expired or already ``owner``'s."""
        return self.take(key, owner, ttl) is not None

    def take(self, key: str, owner: str, ttl: float) -> Taken | None:
        """``acquire``, with what the last holder spent of the company's rate budget when it
        let go; ``None`` when ``key`` is someone else's."""
        bound = {"lease_key": key, "lease_owner": owner, "lease_ttl": ttl}
        try:
            with write_transaction(self._db.engine, durable=False) as conn:
                row = conn.execute(_TAKE, bound).first()
                if row is not None:
                    return Taken(Spent.read(row.spent, row.spent_at, row.now))
                if conn.execute(_HOLDER, bound).first() is not None:
                    return None
                conn.execute(_ADD, bound)
        except IntegrityError:  # PostgreSQL: another process inserted the key meanwhile
            return None
        return Taken(None)

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        """Extend ``owner``'s lease by ``ttl`` from now; ``False`` when it is not ours any more
        (taken over, released, or expired: an expired lease is lost even if nobody took it)."""
        bound = {"lease_key": key, "lease_owner": owner, "lease_ttl": ttl}
        with autocommitted(self._db.engine, durable=False) as conn:
            result = conn.execute(_RENEW, bound)
        return bool(result.rowcount == 1)

    def release(self, key: str, owner: str, spent: Spent | None = None) -> None:
        """Give ``key`` up if ``owner`` holds it (a no-op otherwise), leaving what it spent of
        the company's rate budget for the next holder."""
        bound = {"lease_key": key, "lease_owner": owner}
        with autocommitted(self._db.engine, durable=False) as conn:
            conn.execute(_RELEASE, bound | {"lease_spent": spent and spent.to_json()})

    def forget(self, key: str, owner: str) -> None:
        """Delete ``owner``'s row of ``key`` (an instance's presence, when it stops: unlike a
        company's lease, it has nothing to hand on)."""
        with autocommitted(self._db.engine, durable=False) as conn:
            conn.execute(_FORGET, {"lease_key": key, "lease_owner": owner})

    def census(self, instances: str, companies: tuple[str, str], process: str) -> Census:
        """Live leases whose key starts with ``instances``, and those whose key starts with
        either of ``companies`` held by a process other than ``process`` (owners are
        ``<process>:<holder>``)."""
        company, unknown = companies
        bound = {
            "census_instances": instances,
            "census_company": company,
            "census_unknown_company": unknown,
            "census_process": f"{process}:",
        }
        with reading(self._db.engine) as conn:
            row = conn.execute(_CENSUS, bound).one()
        return Census(int(row.instances), int(row.elsewhere))

    def holder(self, key: str) -> LeaseRow | None:
        """The stored lease of ``key``, expired or not; ``None`` when there is none (or it was
        released)."""
        with reading(self._db.engine) as conn:
            row = conn.execute(_HOLDER, {"lease_key": key}).mappings().first()
        return None if row is None else LeaseRow(**row)

    def now(self) -> float:
        """The database's clock (what expiry is measured with)."""
        with reading(self._db.engine) as conn:
            return float(conn.execute(_NOW).scalar_one())


@dataclass
class Lease:
    """A held lease. ``ensure_held`` before every write: it raises ``LeaseLost`` once a renewal
    failed, or when less than a third of ``ttl`` is left by the holder's own clock (a write
    started then still lands before the database lets anyone else in)."""

    key: str
    owner: str
    ttl: float
    deadline: float = 0.0  # time.monotonic() by which the database's expiry has surely passed
    lost: str | None = None  # why it was lost; None while held

    def remaining(self) -> float:
        return 0.0 if self.lost else max(0.0, self.deadline - time.monotonic())

    def ensure_held(self) -> None:
        if self.lost is None and self.remaining() < self.ttl / 3:
            self.lost = f"its {self.ttl:g} s ran out before it could be renewed"
        if self.lost is not None:
            raise LeaseLost(self.key, self.lost)


_HELD: ContextVar[dict[str, Lease] | None] = ContextVar("remediator_leases", default=None)


def held(key: str) -> Lease | None:
    """The lease on ``key`` that the current task (or a task it started) holds, if any."""
    return (_HELD.get() or {}).get(key)


def holding() -> bool:
    """Whether the current task (or a task it started) holds any lease."""
    return bool(_HELD.get())


@dataclass
class _Local:
    """This process's side of one key: its holders take turns on ``lock``; ``lease`` is the
    database lease kept for the next of them while any is waiting (renewed by ``renewer``)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    lease: Lease | None = None
    renewer: asyncio.Task[None] | None = None
    since: float = 0.0  # time.monotonic() when ``lease`` was taken from the database

    def idle(self) -> bool:
        return self.waiting == 0 and not self.lock.locked()


class Leases:
    """One process's way to hold leases: one per key per task, taking turns inside the process
    on an asyncio lock (woken at once) and across processes on the database (polled).

    Handing over: when a holder leaves while another task of this process waits for the same
    key, the database lease is not released and taken again: the waiter gets it as it is
    (renewed all along, same owner), so a burst of runs for one company costs one acquire and
    one release, not two writes per run. A lease is handed over only while it is whole (not
    lost, more than a third of its ttl left) and for at most ``handover_seconds`` since it was
    taken; then it is released and the next waiter takes it again like anyone else.
    """

    def __init__(
        self,
        store: LeaseStore,
        ttl: float,
        *,
        handover_seconds: float | None = None,
        budget: Budget | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("a lease's ttl must be positive")
        self.store, self.ttl, self.budget = store, ttl, budget
        self.handover_seconds = ttl if handover_seconds is None else handover_seconds
        self._local: dict[str, _Local] = {}
        self._dropping: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"Leases(ttl={self.ttl:g})"

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Lease]:
        """Wait for ``key``, hold it while the body runs (renewed every ``ttl / 3``), then
        release it or hand it to the next holder in this process. Re-entrant: inside a body
        that holds ``key`` already, it yields that lease."""
        mine = held(key)
        if mine is not None:
            yield mine
            return
        local = self._local.setdefault(key, _Local())
        local.waiting += 1
        try:
            await local.lock.acquire()
        finally:
            local.waiting -= 1
            if not local.lock.locked():  # cancelled while waiting: maybe nobody is left
                self._settle(key, local)
        try:
            lease = await self._lease(key, local)
            token = _HELD.set((_HELD.get() or {}) | {key: lease})
            try:
                yield lease
            finally:
                _HELD.reset(token)
        finally:
            await self._leave(key, local)

    @asynccontextmanager
    async def attempt(self, key: str) -> AsyncIterator[Lease | None]:
        """``hold`` without waiting: yields ``None`` at once when someone else (another task
        of this process, or another process) holds ``key`` now."""
        mine = held(key)
        if mine is not None:
            yield mine
            return
        local = self._local.setdefault(key, _Local())
        if local.lock.locked() or local.waiting:
            yield None
            return
        await local.lock.acquire()  # free: taken without suspending
        try:
            lease = await self._try(key, local)
            token = _HELD.set((_HELD.get() or {}) | {key: lease}) if lease else None
            try:
                yield lease
            finally:
                if token is not None:
                    _HELD.reset(token)
        finally:
            await self._leave(key, local)

    async def _leave(self, key: str, local: _Local) -> None:
        """The end of a hold: the lease goes on to a waiter of this process while it is whole,
        else back to the database; the key is free for this process again."""
        try:
            if not (local.waiting and self._passable(local)):
                await self._drop(local)
        finally:
            local.lock.release()
            self._settle(key, local)

    async def _try(self, key: str, local: _Local) -> Lease | None:
        """The lease kept for this process, or a new one if the database gives it at once."""
        if local.lease is not None and self._passable(local):
            return local.lease
        await self._drop(local)
        lease = Lease(key=key, owner=new_owner(), ttl=self.ttl)
        if not await self._acquire(lease):
            return None
        self._keep(local, lease)
        return lease

    def _keep(self, local: _Local, lease: Lease) -> None:
        local.lease, local.since = lease, time.monotonic()
        local.renewer = asyncio.create_task(self._renew(lease), name=f"lease-{lease.key}")

    async def _lease(self, key: str, local: _Local) -> Lease:
        """The lease handed over by the holder before, or a new one from the database."""
        if local.lease is not None and self._passable(local):
            return local.lease
        await self._drop(local)
        lease = await self._wait(key)
        self._keep(local, lease)
        return lease

    def _passable(self, local: _Local) -> bool:
        """Whether the held lease may go on to the next holder as it is."""
        lease = local.lease
        return (
            lease is not None
            and lease.lost is None
            and lease.remaining() > lease.ttl / 3
            and time.monotonic() - local.since < self.handover_seconds
        )

    async def _drop(self, local: _Local) -> None:
        """Stop renewing the kept lease and release it (nobody is handed it any more)."""
        lease, renewer = local.lease, local.renewer
        local.lease = local.renewer = None
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        if lease is not None:
            await self._release(lease)

    def _settle(self, key: str, local: _Local) -> None:
        """Forget an idle key; a lease kept for a waiter that then left is released."""
        if not local.idle():
            return
        if self._local.get(key) is local:
            del self._local[key]
        if local.lease is not None:
            task = asyncio.ensure_future(self._drop(local))
            self._dropping.add(task)
            task.add_done_callback(self._dropping.discard)

    async def _wait(self, key: str) -> Lease:
        lease = Lease(key=key, owner=new_owner(), ttl=self.ttl)
        pause = FIRST_POLL_SECONDS
        while not await self._acquire(lease):
            await asyncio.sleep(pause * (0.5 + secrets.randbelow(1000) / 2000))
            pause = min(MAX_POLL_SECONDS, self.ttl / 3, pause * 2)
        return lease

    async def _acquire(self, lease: Lease) -> bool:
        """Take ``lease`` from the database: its deadline set, and what another process spent
        of the company's rate budget counted here."""
        sent = time.monotonic()
        taken = await asyncio.to_thread(self.store.take, lease.key, lease.owner, lease.ttl)
        if taken is None:
            return False
        lease.deadline = sent + lease.ttl
        spent = taken.spent
        if spent is not None and self.budget is not None and spent.process != this_process():
            self.budget.count(lease.key, spent)
        return True

    async def _renewed(self, lease: Lease) -> bool:
        sent = time.monotonic()
        ok = bool(await asyncio.to_thread(self.store.renew, lease.key, lease.owner, lease.ttl))
        if ok:
            lease.deadline = sent + lease.ttl
        return ok

    async def _renew(self, lease: Lease) -> None:
        """Renew every ``ttl / 3`` counted from when the last renewal was sent (a slow
        statement does not push the next one later); a database error is retried sooner,
        until the deadline."""
        every = lease.ttl / 3
        pause = every
        while lease.lost is None:
            await asyncio.sleep(pause)
            sent = time.monotonic()
            try:
                if not await self._renewed(lease):
                    lease.lost = "another holder took it, or it expired"
                pause = max(0.0, sent + every - time.monotonic())
            except SQLAlchemyError as err:
                log.warning("could not renew lease %s: %s", lease.key, type(err).__name__)
                pause = min(every, 1.0)
            if lease.lost is None and lease.remaining() <= 0:
                lease.lost = f"it could not be renewed within {lease.ttl:g} s"
        log.warning("lost lease %s: %s", lease.key, lease.lost)

    async def _release(self, lease: Lease) -> None:
        spent = None if self.budget is None else self.budget.spent(lease.key)
        try:
            await asyncio.to_thread(self.store.release, lease.key, lease.owner, spent)
        except SQLAlchemyError as err:  # it expires by itself after ttl
            log.warning("could not release lease %s: %s", lease.key, type(err).__name__)


__all__ = [
    "Budget",
    "Census",
    "Lease",
    "LeaseLost",
    "LeaseRow",
    "LeaseStore",
    "Leases",
    "Spent",
    "Taken",
    "db_now",
    "held",
    "holding",
    "new_owner",
    "this_process",
]
