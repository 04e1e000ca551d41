"""The service's durable queue: runs accepted over HTTP, stored before they are acknowledged.

A queued run is a row of ``runs`` with ``origin = 'service'`` (or ``'scheduled'``: a check
ahead's finding, ``start_scheduled``). Intake stores failures in
batches (``accept_many``). A worker claims a connection's due run (oldest export date first);
the engine's ``create`` and ``finish`` for a claimed run are kept in memory, and ``settle``
writes the report, the audit trail and the run's new state in one transaction. A crash before
that leaves the run ``running``, and ``recover`` queues it again at the next start, counting
the interrupted pass as an attempt, until it has had as many as it may.

Intake, approvals, requeues and callback results are synced to disk when they commit. Claims
and settlements are not (``durable=False``): they survive the process being killed, and a
power loss can only take the last of them back to ``queued`` or ``running``, which redoes the
run; the next synced commit makes them durable too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as SAConnection

from remediator.errors import UnknownConnectionError, UsageError
from remediator.fortnox import ConnectionStatus, RequestRecord
from remediator.kinds import Kind
from remediator.storage.audit import Actor, AuditAction, audit_row, record_in
from remediator.storage.db import (
    SERVICE_EVENTS,
    Database,
    autocommitted,
    connections,
    is_sqlite,
    leases,
    reading,
    run_requests,
    runs,
    write_transaction,
)
from remediator.storage.leases import db_now
from remediator.storage.runs import (
    Finished,
    Logged,
    RunRow,
    RunState,
    RunStore,
    RunWrite,
    _audit_row,
)

log = logging.getLogger(__name__)

# How long a run's end waits before it is stored again when the database did not answer: about
# 8 s in all, then the error is the worker's (the run stays running until ``recover``).
SETTLE_WAITS = (0.5, 2.0, 5.0)

# The furthest into a listing a page may start: the database's integers are 64-bit, and no
# listing holds a billion runs (the API's offset and the console's page are bounded by it).
MAX_OFFSET = 1_000_000_000
SERVICE = "service"
# A run of a check ahead (remediator.ahead): stored by the check, which works it at once; a
# person's approval or a crash hands it to the service's workers like any queued run.
SCHEDULED = "scheduled"
ORIGINS = (SERVICE, SCHEDULED)
# A check ahead's finding that stands: not reported again while its run is in one of these
# states, or ended with one of these outcomes (a person was told, or decided).
_STANDING_STATES = frozenset(
    {
        RunState.QUEUED,
        RunState.RUNNING,
        RunState.AWAITING_REVIEW,
        RunState.AWAITING_RECONNECT,
        RunState.REJECTED,
    }
)
_STANDING_OUTCOMES = frozenset({"manual_action_required"})


class RunConflictError(UsageError):
    """The run is not in a state that allows what was asked."""


class QueuedRun(RunRow):
    """A run of the service: a stored run with its queue and callback fields."""

    export_date: str | None
    attempts: int | None
    not_before: float | None
    started_at: float | None
    approved_at: float | None
    joined_to: str | None
    fix_verified_at: float | None
    callback_url: str | None
    callback_state: str | None
    callback_attempts: int | None
    callback_next_at: float | None
    callback_error: str | None


@dataclass(frozen=True)
class Accepted:
    """What intake stored: the run, and whether it is new (False: the event was seen before)."""

    run: QueuedRun
    created: bool


@dataclass(frozen=True)
class Due:
    """A look at a connection's due runs: their ids, and the vouchers (series, transaction
    date) of those that carry one, oldest export date first."""

    runs: frozenset[str]
    vouchers: list[tuple[str, date]]


@dataclass(frozen=True)
class Settled:
    """How a worker ends one pass over a run."""

    state: RunState
    reason: str | None = None
    not_before: float | None = None
    fix_verified: bool = False
    notify: bool = False
    joined_to: str | None = None


_BLANK: dict[str, Any] = dict.fromkeys(QueuedRun.model_fields)


@dataclass(frozen=True)
class Intake:
    """A failure to store as a queued run."""

    run_id: str
    event_id: str
    connection_id: str
    kind: Kind
    export_date: str
    failure_json: str
    callback_url: str | None

    def row(self, now: float) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "event_id": self.event_id,
            "connection_id": self.connection_id,
            "mode": "plan",
            "state": RunState.QUEUED.value,
            "kind": self.kind,
            "failure": self.failure_json,
            "created_at": now,
            "origin": SERVICE,
            "export_date": self.export_date,
            "attempts": 0,
            "not_before": now,
            "callback_url": self.callback_url,
        }


@dataclass(frozen=True)
class Scheduled:
    """A check ahead's finding, stored as a run the check works at once (``running``)."""

    run_id: str
    event_id: str
    connection_id: str
    kind: Kind
    export_date: str
    failure_json: str

    def row(self, now: float) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "event_id": self.event_id,
            "connection_id": self.connection_id,
            "mode": "plan",
            "state": RunState.RUNNING.value,
            "kind": self.kind,
            "failure": self.failure_json,
            "created_at": now,
            "origin": SCHEDULED,
            "export_date": self.export_date,
            "attempts": 0,
            "not_before": now,
            "started_at": now,
        }


@dataclass(frozen=True)
class _Report:
    json: str
    kind: str
    outcome: str
    mode: str


@dataclass
class _Pass:
    """What the engine reported during a worker's pass over a run, until it is settled."""

    report: _Report | None = None
    records: list[RequestRecord] = field(default_factory=list)
    logged: int = 0  # the run's request log stored so far (the pass's records follow on)
    earlier: int = 0  # how much of it earlier passes stored

    def values(self) -> dict[str, Any]:
        if self.report is None:
            return {}
        report = self.report
        return {
            "report": report.json,
            "kind": report.kind,
            "outcome": report.outcome,
            "mode": report.mode,
        }


class _Logging:
    """A ``Logged`` of a pass on its way to the database: the pass's kept records and the
    log's, numbered after the pass's trail so far, which counts them as stored."""

    def __init__(self, write: Logged, current: _Pass) -> None:
        self.current, self.kept, self.first = current, current.records, current.logged
        records = self.kept + write.records
        self.rows = [_audit_row(write.run_id, n, r) for n, r in enumerate(records, self.first)]
        current.records, current.logged = [], self.first + len(records)

    def give_back(self) -> None:
        """Not stored: the pass keeps its own records again (the log's stay with its writer,
        the engine's run, whose end carries them)."""
        self.current.records = self.kept + self.current.records
        self.current.logged = self.first


def _settled_values(settled: Settled, now: float) -> dict[str, Any]:
    values: dict[str, Any] = {"state": settled.state.value, "state_reason": settled.reason}
    if settled.joined_to is not None:
        values["joined_to"] = settled.joined_to
    if settled.state is RunState.QUEUED:
        values |= {"attempts": _ONE_MORE, "not_before": settled.not_before or now}
    elif settled.state is RunState.AWAITING_REVIEW:
        values |= {"approved_by": None, "approved_at": None}
    else:
        values["finished_at"] = now
    if settled.fix_verified:
        values["fix_verified_at"] = now
    return values


_ONE_MORE = runs.c.attempts + 1
_SETTLES: dict[tuple[tuple[str, ...], bool, bool], Any] = {}


def _settle_update(values: dict[str, Any], notify: bool, *, logging_too: bool = False) -> Any:
    """The ``UPDATE … RETURNING`` that settles a run (bound: ``settled_run``): ``values``'
    columns bound as ``<column>_`` (``attempts`` one more than stored), and its callback made
    due when ``notify``; ``logging_too`` (PostgreSQL): with the pass's requests inserted into
    the run's log by the same statement (``_LOG_PASS``). Built once for each set of columns:
    building it took a third of a settle's CPU."""
    key = (tuple(sorted(values)), notify, logging_too)
    statement = _SETTLES.get(key)
    if statement is None:
        columns: dict[str, Any] = {
            column: _ONE_MORE
            if values[column] is _ONE_MORE
            else sa.bindparam(f"{column}_", type_=runs.c[column].type)
            for column in key[0]
        }
        if notify:
            columns |= _CALLBACK_DUE
        built = runs.update().where(runs.c.id == _SETTLED_RUN).values(columns).returning(*runs.c)
        if logging_too:
            built = built.add_cte(_LOG_PASS)
        statement = _SETTLES.setdefault(key, built)
    return statement


_SETTLED_RUN = sa.bindparam("settled_run", type_=sa.String)
# A run's request log but for the run's id (``_audit_row``), as the settle's JSON rows carry it.
_LOG_COLUMNS = tuple(c.name for c in run_requests.c if c.name != "run_id")


def _log_pass() -> Any:
    """On PostgreSQL, the insert of a pass's requests into the run's log (bound: ``logged``,
    the rows as one JSON array, and ``settled_run``) as a data-modifying ``WITH`` of the
    settle's update: the log and the run's end are one statement, one round trip in
    autocommit, where ``BEGIN``, the insert, the update and ``COMMIT`` made four."""
    logged = (
        sa.func.json_to_recordset(sa.bindparam("logged", type_=postgresql.JSON()))
        .table_valued(
            *(sa.column(name, run_requests.c[name].type) for name in _LOG_COLUMNS),
            name="logged_rows",
        )
        .render_derived(with_types=True)
    )
    rows = sa.select(_SETTLED_RUN, *(logged.c[name] for name in _LOG_COLUMNS))
    return run_requests.insert().from_select(["run_id", *_LOG_COLUMNS], rows).cte("logged")


_LOG_PASS = _log_pass()


def _callback_due() -> dict[str, Any]:
    """A settled run's callback is due now (bound: ``callback_now``), when the run has a
    callback URL: the columns' new values, built once."""
    has_url = runs.c.callback_url.is_not(None)
    due = {
        "callback_state": sa.literal("pending"),
        "callback_attempts": sa.literal(0),
        "callback_next_at": sa.bindparam("callback_now", type_=sa.Float),
        "callback_error": sa.null(),
    }
    return {name: sa.case((has_url, value), else_=runs.c[name]) for name, value in due.items()}


_CALLBACK_DUE = _callback_due()


def _service() -> Any:
    """The queue's runs: received by the service, or stored by a check ahead."""
    return runs.c.origin.in_(ORIGINS)


# Built once, bound per call (a statement built at each claim cost its cache key each time).
_TRY_CLAIM_LOCK = sa.select(
    sa.func.pg_try_advisory_xact_lock(sa.bindparam("claim_lock", type_=sa.BigInteger))
)


def _claim_key(connection_id: str) -> int:
    """The key of the connection's claim lock (PostgreSQL's advisory locks take 64 bits)."""
    digest = hashlib.blake2b(f"claim:{connection_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _its_connection() -> Any:
    return connections.c.id == runs.c.connection_id


def _live_lease(connection_id: Any = runs.c.connection_id, outer: Any = runs) -> sa.Select[Any]:
    """The live lease on the company of ``connection_id`` (a column of ``outer``, correlated:
    the run's connection by default). The keys are remediator.companies': ``tenant:<id>``, or
    ``connection:<id>`` while the company is not known (tests/storage/test_queue.py holds them
    to those)."""
    tenant = (
        sa.select(sa.literal("tenant:") + connections.c.tenant_id)
        .where(connections.c.id == connection_id)
        .correlate(outer)
    )
    return (
        sa.select(leases.c.key)
        .where(
            leases.c.expires_at >= db_now(),
            sa.or_(
                leases.c.key == sa.literal("connection:") + connection_id,
                leases.c.key == tenant.scalar_subquery(),
            ),
        )
        .correlate(outer)
    )


def _new_runs(dialect: Any) -> Any:
    """Intake's insert on SQLite: a row whose event is stored already is skipped; the ids of
    the rows stored are returned (one statement for the whole batch: SQLAlchemy's
    insertmanyvalues)."""
    return (
        dialect.insert(runs)
        .on_conflict_do_nothing(index_elements=[runs.c.event_id], index_where=SERVICE_EVENTS)
        .returning(runs.c.id)
    )


# What differs between a batch's rows (``Intake.row``); the rest is the same for all of them.
_PER_ROW = ("id", "event_id", "connection_id", "kind", "failure", "export_date", "callback_url")
_PER_BATCH = ("mode", "state", "created_at", "origin", "attempts", "not_before")


def _new_runs_from_json() -> Any:
    """Intake's insert on PostgreSQL: the batch's rows as one JSON array, read by
    ``json_to_recordset`` in event id order, but for those of an unknown connection or of an
    event the queue holds already (the look of SQLite's ``_insert_new``, in the same
    statement). One short statement whatever the batch's size, so psycopg parses it once,
    where insertmanyvalues writes (and both parse) a new statement of a dozen parameters per
    row for each size of batch."""
    batch = (
        sa.func.json_to_recordset(sa.bindparam("batch", type_=postgresql.JSON()))
        .table_valued(*(sa.column(name, sa.Text()) for name in _PER_ROW), name="batch")
        .render_derived(with_types=True)
    )
    same = [sa.bindparam(name, type_=runs.c[name].type) for name in _PER_BATCH]
    held = runs.alias("held")
    rows = (
        sa.select(*(batch.c[name] for name in _PER_ROW), *same)
        .where(
            sa.exists().where(connections.c.id == batch.c.connection_id),
            ~sa.exists().where(
                held.c.event_id == batch.c.event_id,
                _of_the_queue(_unindexed(held.c.origin)),
            ),
        )
        .order_by(batch.c.event_id)
    )
    return (
        postgresql.insert(runs)
        .from_select([*_PER_ROW, *_PER_BATCH], rows)
        .on_conflict_do_nothing(index_elements=[runs.c.event_id], index_where=SERVICE_EVENTS)
        .returning(runs.c.id)
    )


def _among(column: Any, name: str, dialect: str) -> Any:
    """``column`` is one of the list bound as ``name``: ``= ANY(array)`` on PostgreSQL (one
    statement whatever the list's length), an expanding ``IN`` on SQLite."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(sa.String)))
    return column.in_(sa.bindparam(name, expanding=True))


# ``_service()`` with its two values bound as they are: no list to expand at each execution.
def _of_the_queue(origin: Any) -> Any:
    """``_service()`` on ``origin`` (a column of ``runs`` or of an alias), its two values bound
    as they are: no list to expand at each execution."""
    return origin.in_([sa.literal(value) for value in ORIGINS])


def _unindexed(origin: Any) -> Any:
    """``origin`` (a column of ``runs`` or of an alias) for a read that finds its few rows by
    another index (the event id's, the connection's): through an expression, so that no index
    on the origin can be used. That index matches nearly every run of the queue, yet SQLite
    took it (for a batch of several events; for a connection's runs of a kind, with the kind's)
    and PostgreSQL, planning with the statistics of a young table, combined it with the event
    id's: the read's cost grew with every failure ever stored (intake's look on SQLite 0.95 ms
    a batch at 6,000 runs and 4.06 ms at 30,000; on PostgreSQL 1.3 ms at 3,000, 3.6 ms at
    18,000)."""
    return sa.func.coalesce(origin, "")


_OF_THE_QUEUE = _of_the_queue(_unindexed(runs.c.origin))  # intake's reads by event id


def _look(dialect: str) -> Any:
    """What a batch must know before it inserts, in one statement: which of its events are
    stored already (``run``), and which of its connections are known (``connection``)."""
    stored = sa.select(sa.literal("run"), runs.c.event_id).where(
        _among(runs.c.event_id, "events", dialect), _OF_THE_QUEUE
    )
    known = sa.select(sa.literal("connection"), connections.c.id).where(
        _among(connections.c.id, "connections", dialect)
    )
    return sa.union_all(stored, known)


def _seen(dialect: str) -> Any:
    """The runs of events stored already, oldest first."""
    return (
        sa.select(runs)
        .where(_among(runs.c.event_id, "events", dialect), _OF_THE_QUEUE)
        .order_by(runs.c.created_at, runs.c.id)
    )


# Intake's statements, built once: a batch executes them without building and caching anew.
_DIALECTS = ("postgresql", "sqlite")
_LOOK = _look("sqlite")  # on PostgreSQL, the insert itself looks (_new_runs_from_json)
_SEEN = {dialect: _seen(dialect) for dialect in _DIALECTS}
_NEW_RUNS = {"postgresql": _new_runs_from_json(), "sqlite": _new_runs(sqlite)}


@contextlib.contextmanager
def _planned_anew(conn: SAConnection) -> Iterator[None]:
    """On PostgreSQL, intake's statements are planned at each batch for its values and the
    tables as they are then. psycopg prepares a statement run five times, and PostgreSQL then
    keeps one generic plan for it, made with the statistics of that moment until the table is
    analysed again: in a new database (or with autovacuum off) a plan for an empty table, and
    the read of a batch's events scanned every run at each batch (p50 0.74-0.90 ms a batch;
    ``bench.intake --instances 2``: PostgreSQL 0.28-0.31 ms of CPU per failure and 1,853-2,067
    failures/s, planned anew 0.10-0.11 ms and 2,698-2,796/s). So psycopg does not prepare
    them (a setting of the driver's connection, no round trip: ``SET LOCAL plan_cache_mode``
    was one, and needs a transaction). The workers' statements keep their plans: planning all
    of them anew cost PostgreSQL more than it saved."""
    if conn.dialect.name != "postgresql":
        yield
        return
    driver: Any = conn.connection.driver_connection  # psycopg's Connection
    threshold, driver.prepare_threshold = driver.prepare_threshold, None
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


def _looked(conn: SAConnection, events: list[str], wanted: list[str]) -> tuple[set[str], set[str]]:
    """Which of a batch's events the queue holds already, and which of its connections are
    known: one statement (SQLite's)."""
    found = conn.execute(_LOOK, {"events": events, "connections": wanted})
    held: set[str] = set()
    known: set[str] = set()
    for what, key in found:
        (held if what == "run" else known).add(key)
    return held, known


def _insert_new(conn: SAConnection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert intake's rows but for those of an unknown connection or of an event the queue
    holds already (stored before, or by another transaction first); the ids of the rows
    stored.

    On PostgreSQL one statement does it all; an insert that meets a concurrent transaction's
    row of the same event waits for it to end, then does nothing (or inserts, if it rolled
    back). The rows go in event id order, so that two instances' batches wait on each other's
    events in one order: never a deadlock. On SQLite, whose writers take turns, the batch's
    events and connections are looked up first."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        held, known = _looked(
            conn,
            sorted({str(row["event_id"]) for row in rows}),
            sorted({str(row["connection_id"]) for row in rows}),
        )
        rows = [r for r in rows if r["event_id"] not in held and r["connection_id"] in known]
    if not rows:
        return set()
    ordered = sorted(rows, key=lambda row: str(row["event_id"]))
    return set(conn.execute(_NEW_RUNS[dialect], _bound(dialect, ordered)).scalars())


def _bound(dialect: str, rows: list[dict[str, Any]]) -> Any:
    """The parameters of ``_NEW_RUNS[dialect]`` for ``rows``."""
    if dialect != "postgresql":
        return rows
    first = rows[0]
    batch = [{name: row[name] for name in _PER_ROW} for row in rows]
    return {"batch": batch} | {name: first[name] for name in _PER_BATCH}


def _held(conn: SAConnection, events: list[str]) -> dict[str, QueuedRun]:
    """The runs the queue holds of ``events`` (the oldest of each event)."""
    held: dict[str, QueuedRun] = {}
    for row in conn.execute(_SEEN[conn.dialect.name], {"events": events}).mappings():
        held.setdefault(row["event_id"], QueuedRun.model_validate(dict(row)))
    return held


def _claim(dialect: str) -> Any:
    """The claim's update, built once: the connection's due run with the oldest export date
    becomes ``running`` while no run of the connection is (bound: ``claim_connection``,
    ``claim_now``). The subquery reads aliases, so that it is not correlated with the table
    updated; on PostgreSQL it skips rows another claim has locked, and runs only once the
    statement holds the connection's claim lock (bound: ``claim_lock``): an uncorrelated
    condition, which PostgreSQL checks once before it scans anything (a "One-Time Filter"), so
    the statement is the whole claim, in a transaction of its own."""
    due, other = runs.alias("due"), runs.alias("other")
    connection_id = sa.bindparam("claim_connection", type_=sa.String)
    now = sa.bindparam("claim_now", type_=sa.Float)
    running = sa.select(other.c.id).where(
        _of_the_queue(other.c.origin),
        other.c.connection_id == connection_id,
        other.c.state == RunState.RUNNING.value,
    )
    oldest = (
        sa.select(due.c.id)
        .where(
            _of_the_queue(due.c.origin),
            due.c.connection_id == connection_id,
            due.c.state == RunState.QUEUED.value,
            due.c.not_before <= now,
            ~sa.exists(running),
        )
        .order_by(due.c.export_date, due.c.created_at)
        .limit(1)
    )
    if dialect == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    logged = (
        sa.select(sa.func.count())
        .where(run_requests.c.run_id == runs.c.id)
        .correlate(runs)
        .scalar_subquery()
    )
    claim = runs.update().where(runs.c.id == oldest.scalar_subquery())
    if dialect == "postgresql":
        claim = claim.where(_TRY_CLAIM_LOCK.scalar_subquery())
    return claim.values(state=RunState.RUNNING.value, started_at=now).returning(
        *runs.c, logged.label(_LOGGED)
    )


_LOGGED = "requests_logged"


_CLAIM = {dialect: _claim(dialect) for dialect in _DIALECTS}


def _status(state: str, outcome: str | None) -> str:
    return (outcome or "failed") if state == RunState.DONE.value else state


def status_of(run: RunRow) -> str:
    """One word for where a run stands: its state until it is done, then its outcome."""
    return _status(run.state.value, run.outcome)


def _status_is(status: str) -> Any:
    if status in {state.value for state in RunState if state is not RunState.DONE}:
        return runs.c.state == status
    return sa.and_(runs.c.state == RunState.DONE.value, runs.c.outcome == status)


class QueueStore(RunStore):
    """The run store the service's engine writes to, plus the queue's operations."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self._engine = database.engine
        self._lock = threading.Lock()
        self._passes: dict[str, _Pass] = {}
        # connection -> its due runs at the last look -> their vouchers (None: none)
        self._due: dict[str, dict[str, tuple[str, date] | None]] = {}

    # -- intake ----------------------------------------------------------------------
    def accept(self, intake: Intake) -> Accepted:
        """Store one failure as a queued run (see ``accept_many``)."""
        result = self.accept_many([intake])[0]
        if isinstance(result, UsageError):
            raise result
        return result

    def accept_many(self, intakes: list[Intake]) -> list[Accepted | UsageError]:
        """Store failures as queued runs in one transaction (one sync to disk for all).

        An event seen before (or earlier in the batch) is not stored again: its run is
        answered. So is one another instance stored meanwhile (the unique index on the
        service's event ids, revision 0008): its insert does nothing, the rest of the batch is
        stored all the same, and the run that is there is answered. A failure for a connection the store does not know is answered with
        ``UnknownConnectionError``; the others are stored all the same.
        """
        now = time.time()
        firsts: dict[str, Intake] = {}  # each event's first intake in the batch
        for intake in intakes:
            firsts.setdefault(intake.event_id, intake)
        rows = {intake.run_id: intake.row(now) for intake in firsts.values()}
        with autocommitted(self._engine) as conn, _planned_anew(conn):
            stored = _insert_new(conn, list(rows.values()))
            missing = [event for event, first in firsts.items() if first.run_id not in stored]
            held = _held(conn, missing) if missing else {}
        results: list[Accepted | UsageError] = []
        for intake in intakes:
            first = firsts[intake.event_id]
            if first.run_id in stored:
                run = QueuedRun.model_validate(_BLANK | rows[first.run_id])
                results.append(Accepted(run, created=intake is first))
            elif intake.event_id in held:
                results.append(Accepted(held[intake.event_id], created=False))
            else:  # not stored, and no run of the event held: its connection is unknown
                results.append(UnknownConnectionError(intake.connection_id))
        return results

    # -- checks ahead ------------------------------------------------------------------
    def start_scheduled(self, scheduled: Scheduled) -> QueuedRun:
        """Store a check ahead's run ``running``, as claimed by the caller, who works it now
        and ends it with ``settle`` (a process that dies first leaves it to ``recover``)."""
        row = scheduled.row(time.time())
        with write_transaction(self._engine) as conn:
            conn.execute(runs.insert().values(**row))
        with self._lock:
            self._passes[scheduled.run_id] = _Pass()
        return QueuedRun.model_validate(_BLANK | row)

    def standing(self, connection_id: str, kind: str, export_date: str) -> QueuedRun | None:
        """The latest check-ahead run of this connection, kind and export date whose finding
        still stands: open, waiting for a person, rejected, or ended needing a person."""
        query = (
            sa.select(runs)
            .where(
                runs.c.origin == SCHEDULED,
                runs.c.connection_id == connection_id,
                runs.c.kind == kind,
                runs.c.export_date == export_date,
                sa.or_(
                    runs.c.state.in_([state.value for state in _STANDING_STATES]),
                    sa.and_(
                        runs.c.state == RunState.DONE.value,
                        runs.c.outcome.in_(_STANDING_OUTCOMES),
                    ),
                ),
            )
            .order_by(runs.c.created_at.desc())
            .limit(1)
        )
        with reading(self._engine) as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else QueuedRun.model_validate(dict(row))

    # -- what the engine calls ---------------------------------------------------------
    def write(self, writes: Sequence[RunWrite]) -> None:
        """The engine's starts and ends of runs. A run a worker claimed is stored already, so
        its start writes nothing, and its report is kept with the worker's pass and written
        when the pass is settled, in the same transaction as the run's new state (a crash
        before that redoes the pass). The rest are written as ``RunStore`` writes them.
        A pass's ``Logged`` requests are stored at once, after what the pass kept before
        them (its plan's), in the same transaction.
        """
        logged: list[_Logging] = []
        rest: list[RunWrite] = []
        for write in writes:
            if isinstance(write, Logged) and (taken := self._logging(write)) is not None:
                logged.append(taken)
            elif not self.keep(write):
                rest.append(write)
        if not logged:
            super().write(rest)
            return
        try:
            with write_transaction(self._engine, durable=False) as conn:
                conn.execute(run_requests.insert(), [row for taken in logged for row in taken.rows])
                self._write_in(conn, rest)
        except Exception:
            with self._lock:
                for taken in logged:
                    taken.give_back()
            raise

    def _logging(self, write: Logged) -> _Logging | None:
        """The rows that store ``write``'s requests after the rest of its pass's trail so far
        (counted as stored: ``give_back`` if they are not); ``None`` for a run without a pass
        (written as ``RunStore`` writes it)."""
        with self._lock:
            current = self._passes.get(write.run_id)
            if current is None:
                return None
            return _Logging(write, current)

    def earlier(self, run_id: str) -> int:
        """How much of the run's trail its passes before this one stored (a pass that died
        after it wrote, or one that ended before the rest was done)."""
        with self._lock:
            current = self._passes.get(run_id)
            return 0 if current is None else current.earlier

    def keep(self, write: RunWrite) -> bool:
        """Whether ``write`` belongs to a worker's pass, and is kept with it (see ``write``;
        a ``Logged`` is not kept: it is written)."""
        with self._lock:
            current = self._passes.get(write.run_id)
            if current is None or isinstance(write, Logged):
                return False
            if isinstance(write, Finished):
                mode = write.mode or json.loads(write.report_json)["mode"]
                current.report = _Report(write.report_json, write.kind, write.outcome, mode)
                current.records.extend(write.records)
            return True

    # -- reads -----------------------------------------------------------------------
    def queued(self, run_id: str) -> QueuedRun:
        return QueuedRun.model_validate(self._row(run_id))

    def page(
        self,
        *,
        connection_id: str | None = None,
        state: str | None = None,
        outcome: str | None = None,
        statuses: Sequence[str] = (),
        export_date: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[QueuedRun], int]:
        """Service runs, newest first, and how many match in all. ``statuses``: any of these
        (see ``status_of``)."""
        where = [_service()]
        for column, value in (
            (runs.c.connection_id, connection_id),
            (runs.c.state, state),
            (runs.c.outcome, outcome),
            (runs.c.export_date, export_date),
        ):
            if value is not None:
                where.append(column == value)
        if statuses:
            where.append(sa.or_(*(_status_is(status) for status in statuses)))
        query = sa.select(runs).where(*where)
        ordered = query.order_by(runs.c.created_at.desc(), runs.c.id).limit(limit).offset(offset)
        with self._engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery()))
            count = int(total.scalar_one())
            rows = [QueuedRun.model_validate(dict(r)) for r in conn.execute(ordered).mappings()]
        return rows, count

    def depth(self) -> int:
        """Runs waiting for a worker."""
        query = sa.select(sa.func.count()).where(_service(), runs.c.state == RunState.QUEUED.value)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def last_fix(self, connection_id: str, kind: str) -> float | None:
        """When a fix of ``kind`` was last verified for the connection, by a failure's run (a
        check ahead's fix may be for another year: a failure after it is no sign it failed)."""
        query = sa.select(sa.func.max(runs.c.fix_verified_at)).where(
            runs.c.connection_id == connection_id,
            runs.c.kind == kind,
            _unindexed(runs.c.origin) == SERVICE,
        )
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        return float(value) if value is not None else None

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- the workers' queue ------------------------------------------------------------
    def _orphaned(self, grace_seconds: float) -> Any:
        """Runs left ``running`` by a process that is gone: nobody holds the lease of the run's
        company any more (a drain holds it from before its first claim to after its last run,
        and renews it while it works), or, for a connection the store does not know (claimed
        without a lease), the run started more than ``grace_seconds`` ago."""
        return sa.and_(
            _service(),
            runs.c.state == RunState.RUNNING.value,
            ~sa.exists(_live_lease()),
            sa.or_(
                sa.exists(sa.select(connections.c.id).where(_its_connection()).correlate(runs)),
                runs.c.started_at < time.time() - grace_seconds,
            ),
        )

    def recover(self, grace_seconds: float = 60.0) -> list[str]:
        """Runs left ``running`` by a process that is gone (``_orphaned``) go back to the queue,
        the interrupted pass counting as an attempt; returns their ids. Safe to call from every
        instance, at any time."""
        orphaned = self._orphaned(grace_seconds)
        with reading(self._engine) as conn:  # a read first: most looks find nothing
            ids = list(conn.execute(sa.select(runs.c.id).where(orphaned)).scalars())
        if not ids:
            return []
        with write_transaction(self._engine) as conn:
            ids = list(conn.execute(sa.select(runs.c.id).where(orphaned)).scalars())
            conn.execute(
                runs.update()
                .where(runs.c.id.in_(ids), orphaned)
                .values(
                    state=RunState.QUEUED.value,
                    not_before=time.time(),
                    attempts=sa.func.coalesce(runs.c.attempts, 0) + 1,
                )
            )
        return ids

    def take_poisoned(self, grace_seconds: float, max_attempts: int) -> dict[str, int]:
        """Runs left ``running`` by a process that is gone that have had ``max_attempts``
        attempts with this interrupted pass: ended ``done`` here (by one caller only, however
        many instances look), for the caller to give each a final report and its callback.
        Returns their ids and attempts. Call it before ``recover``, which would queue them."""
        out_of_attempts = sa.and_(
            self._orphaned(grace_seconds),
            sa.func.coalesce(runs.c.attempts, 0) + 1 >= max_attempts,
        )
        ended = self._end_each(
            out_of_attempts,
            lambda attempts: {
                "state_reason": "poison: interrupted as often as it may be",
                "attempts": (attempts or 0) + 1,
            },
        )
        return {run_id: (attempts or 0) + 1 for run_id, attempts in ended.items()}

    def take_interrupted(self, older_than: float) -> list[str]:
        """Runs of the CLI (``fix``, ``apply``, ``plan``) left ``running`` by a process that
        is gone: started more than ``older_than`` seconds ago, and nobody holds their company's
        lease. Ended ``done`` here (by one caller only, however many instances look), for the
        caller to give each a final report saying so; none is worked again (a person makes the
        run again, which looks in Fortnox first). Returns their ids."""
        interrupted = sa.and_(
            runs.c.origin.is_(None),
            runs.c.state == RunState.RUNNING.value,
            runs.c.created_at < time.time() - older_than,  # a CLI run is stored as it starts
            ~sa.exists(_live_lease()),
        )
        return list(self._end_each(interrupted, lambda _attempts: {}))

    def _end_each(
        self, where: Any, values: Callable[[int | None], dict[str, Any]]
    ) -> dict[str, int | None]:
        """The runs ``where`` holds ended ``done`` (with ``values(attempts)`` besides), each
        by one caller only however many look: its update asks ``where`` again. Returns the
        ids ended and the attempts they had."""
        with reading(self._engine) as conn:  # a read first: most looks find nothing
            if conn.execute(sa.select(runs.c.id).where(where)).first() is None:
                return {}
        ended: dict[str, int | None] = {}
        with write_transaction(self._engine) as conn:
            found = conn.execute(sa.select(runs.c.id, runs.c.attempts).where(where)).all()
            for run_id, attempts in found:
                result = conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id, where)
                    .values(state=RunState.DONE.value, finished_at=time.time(), **values(attempts))
                )
                if result.rowcount == 1:
                    ended[run_id] = attempts
        return ended

    def stuck(self, older_than: float) -> int:
        """Service runs ``running`` for more than ``older_than`` seconds."""
        query = sa.select(sa.func.count()).where(
            _service(),
            runs.c.state == RunState.RUNNING.value,
            runs.c.started_at < time.time() - older_than,
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def due_connections(self, busy: set[str], limit: int) -> list[str]:
        """Connections with due runs, longest waiting first, skipping ``busy`` ones, those with
        a run ``running`` and those whose company's lease someone holds (worked by another
        drain, instance or ``remediator fix``): a drain started for them would only wait.

        The due runs are grouped by connection first, and the running runs and leases looked
        up once per connection, not once per queued run: this look comes at every wake-up,
        and a queue of thousands of runs made it the service's largest cost on PostgreSQL.
        """
        due = (
            sa.select(runs.c.connection_id, sa.func.min(runs.c.created_at).label("first"))
            .where(
                _service(),
                runs.c.state == RunState.QUEUED.value,
                runs.c.not_before <= time.time(),
                runs.c.connection_id.not_in(busy) if busy else sa.true(),
            )
            .group_by(runs.c.connection_id)
            .subquery("due")
        )
        working = sa.select(runs.c.connection_id).where(
            _service(), runs.c.state == RunState.RUNNING.value
        )
        query = (
            sa.select(due.c.connection_id)
            .where(
                due.c.connection_id.not_in(working),
                ~sa.exists(_live_lease(due.c.connection_id, due)),
            )
            .order_by(due.c.first)
            .limit(limit)
        )
        with reading(self._engine) as conn:
            return list(conn.execute(query).scalars())

    def claim(self, connection_id: str) -> QueuedRun | None:
        """Take the connection's due run with the oldest export date (``running``).

        One claimer per connection at a time, across processes: on PostgreSQL the claim takes
        the connection's advisory lock without waiting (``pg_try_advisory_xact_lock``) and
        reads with ``FOR UPDATE SKIP LOCKED``, so instances never claim the same run and never
        block each other; on SQLite the transaction holds the write lock. Nothing is claimed
        while another run of the connection is ``running`` (worked elsewhere, or left by a
        process that died until ``recover`` puts it back), so runs of one connection are worked
        one at a time and oldest export date first, whichever instance works them. The claim
        also reads how long the run's request log is, so that its settle appends to it without
        asking again.

        That holds for claimers that hold the company's lease, as every drain does: on
        PostgreSQL the statement reads from a snapshot taken as it starts, before it has the
        advisory lock, so a claim racing another one that commits in that moment can miss the
        run the other just made ``running``. The lease is taken, in a statement before, only
        once the last holder's runs are settled.
        """
        bound = {
            "claim_connection": connection_id,
            "claim_now": time.time(),
            "claim_lock": _claim_key(connection_id),  # PostgreSQL's (SQLite's statement has none)
        }
        # one statement: on PostgreSQL one round trip, not BEGIN, lock, claim, COMMIT
        with autocommitted(self._engine, durable=False) as conn:
            row = conn.execute(_CLAIM[conn.dialect.name], bound).mappings().first()
        if row is None:
            return None
        claimed_run = dict(row)
        with self._lock:
            logged = claimed_run.pop(_LOGGED)
            self._passes[row["id"]] = _Pass(logged=logged, earlier=logged)
        return QueuedRun.model_validate(claimed_run)

    def settle(self, run_id: str, settled: Settled) -> QueuedRun:
        """End a worker's pass in one transaction: the engine's report and audit trail, the
        run's new state, and a callback when one is due. A database that does not answer (a
        restart, a lost connection: ``OperationalError``) is asked again after each of
        ``SETTLE_WAITS``; then the error is raised, and the pass is gone. Any other error is
        raised at once, and the pass stays open, emptied: what is written next for the run (a
        report saying why) goes with its next settle, in the same transaction as its state."""
        now = time.time()
        with self._lock:
            done = self._passes.pop(run_id, None) or _Pass()
        try:
            for wait in SETTLE_WAITS:
                try:
                    return self._settle(run_id, settled, done, now)
                except sa.exc.OperationalError as err:
                    log.warning("the database did not store run %s's end (%s); again", run_id, err)
                    time.sleep(wait)
            return self._settle(run_id, settled, done, now)
        except sa.exc.OperationalError:
            raise
        except Exception:
            with self._lock:
                self._passes[run_id] = _Pass(logged=done.logged, earlier=done.earlier)
            raise

    def _settle(self, run_id: str, settled: Settled, done: _Pass, now: float) -> QueuedRun:
        values = _settled_values(settled, now) | done.values()
        rows = [_audit_row(run_id, n, r) for n, r in enumerate(done.records, done.logged)]
        bound = {f"{c}_": v for c, v in values.items() if v is not _ONE_MORE}
        bound |= {"settled_run": run_id, "callback_now": now}
        if not is_sqlite(self._engine):  # one statement, its own transaction
            if rows:
                bound["logged"] = [{c: row[c] for c in _LOG_COLUMNS} for row in rows]
            settle = _settle_update(values, settled.notify, logging_too=bool(rows))
            with autocommitted(self._engine) as conn:
                settled_row = conn.execute(settle, bound).mappings().one()
        else:  # SQLite has no insert inside a WITH: two statements, one write transaction
            with write_transaction(self._engine, durable=False) as conn:
                if rows:
                    conn.execute(run_requests.insert(), rows)
                settle = _settle_update(values, settled.notify)
                settled_row = conn.execute(settle, bound).mappings().one()
        return QueuedRun.model_validate(dict(settled_row))

    def approve(self, run_id: str, actor: Actor) -> QueuedRun:
        """A person approved the plan: the run is queued to be applied (and it is audited)."""
        now = time.time()
        with write_transaction(self._engine) as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.state == RunState.AWAITING_REVIEW.value)
                .values(
                    state=RunState.QUEUED.value,
                    approved_by=actor.name,
                    approved_at=now,
                    not_before=now,
                    state_reason=None,
                )
            )
            if result.rowcount:
                record_in(conn, audit_row(actor, AuditAction.APPROVE, run_id=run_id))
        if result.rowcount == 0:
            raise self._not_awaiting(run_id)
        return self.queued(run_id)

    def reject(self, run_id: str, actor: Actor, reason: str) -> QueuedRun:
        """A person rejected the plan: the run ends ``rejected``, audited, with a callback."""
        now = time.time()
        with write_transaction(self._engine) as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.state == RunState.AWAITING_REVIEW.value)
                .values(
                    state=RunState.REJECTED.value,
                    state_reason=f"rejected by {actor.name}: {reason}",
                    finished_at=now,
                )
            )
            if result.rowcount:
                record_in(conn, audit_row(actor, AuditAction.REJECT, run_id=run_id, detail=reason))
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id, runs.c.callback_url.is_not(None))
                    .values(
                        callback_state="pending",
                        callback_attempts=0,
                        callback_next_at=now,
                        callback_error=None,
                    )
                )
        if result.rowcount == 0:
            raise self._not_awaiting(run_id)
        return self.queued(run_id)

    def _not_awaiting(self, run_id: str) -> RunConflictError:
        state = self.queued(run_id).state.value
        return RunConflictError(f"run {run_id!r} is {state}, not awaiting_review")

    def replan(self, run_id: str, actor: Actor | None = None, differences: str = "") -> None:
        """A stale plan: the run goes back to the queue to be planned again. ``actor``: the
        person whose approval was refused for it (audited with the differences)."""
        with write_transaction(self._engine) as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.state == RunState.AWAITING_REVIEW.value)
                .values(
                    state=RunState.QUEUED.value,
                    not_before=time.time(),
                    state_reason="the plan was stale; planning again",
                )
            )
            if actor is not None:
                row = audit_row(
                    actor, AuditAction.APPROVE_REFUSED_STALE, run_id=run_id, detail=differences
                )
                record_in(conn, row)

    def counts(self) -> dict[str, int]:
        """How many service runs have each status (see ``status_of``)."""
        query = (
            sa.select(runs.c.state, runs.c.outcome, sa.func.count())
            .where(_service())
            .group_by(runs.c.state, runs.c.outcome)
        )
        found: dict[str, int] = {}
        with self._engine.connect() as conn:
            for state, outcome, n in conn.execute(query).all():
                status = _status(str(state), outcome)
                found[status] = found.get(status, 0) + int(n)
        return found

    def awaiting_reconnect(self, connection_id: str) -> list[str]:
        """The connection's runs that wait for it to be reconnected."""
        query = sa.select(runs.c.id).where(
            _service(),
            runs.c.connection_id == connection_id,
            runs.c.state == RunState.AWAITING_RECONNECT.value,
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query.order_by(runs.c.created_at)).scalars())

    def requeue_reconnected(self, connection_id: str) -> list[str]:
        """The connection works again: its runs that waited for that go back to the queue."""
        waiting = runs.c.state == RunState.AWAITING_RECONNECT.value
        with write_transaction(self._engine) as conn:
            ids = list(
                conn.execute(
                    sa.select(runs.c.id).where(
                        _service(), runs.c.connection_id == connection_id, waiting
                    )
                ).scalars()
            )
            if ids:
                # Only runs still waiting: another instance may have queued and claimed them.
                conn.execute(
                    runs.update()
                    .where(runs.c.id.in_(ids), waiting)
                    .values(
                        state=RunState.QUEUED.value,
                        not_before=time.time(),
                        attempts=0,
                        state_reason=None,
                    )
                )
        return ids

    def requeue_reconnected_anywhere(self) -> list[str]:
        """Runs waiting for a reconnect whose connection is active again (reconnected by the
        CLI, or a refresh token imported) go back to the queue."""
        active = sa.select(connections.c.id).where(
            connections.c.status == ConnectionStatus.ACTIVE.value
        )
        waiting = sa.select(runs.c.connection_id).where(
            _service(),
            runs.c.state == RunState.AWAITING_RECONNECT.value,
            runs.c.connection_id.in_(active),
        )
        with self._engine.connect() as conn:
            found = set(conn.execute(waiting).scalars())
        return [run for connection in sorted(found) for run in self.requeue_reconnected(connection)]

    # -- callbacks ---------------------------------------------------------------------
    def due_vouchers(self, connection_id: str, limit: int = 500) -> Due:
        """The connection's queued runs that are due now and their vouchers (series,
        transaction date), oldest export date first: what a drain of the connection is about
        to send.

        A run's failure is parsed at the first look that finds it due, and remembered while
        it stays due: a drain looks again each time a run came after its last look, and a
        company back after an outage may have hundreds waiting (300: 16.7 ms of CPU a look when
        each was parsed at every look)."""
        bound = {"due_connection": connection_id, "due_now": time.time(), "due_limit": limit}
        with reading(self._engine) as conn:
            due = conn.execute(_DUE_FAILURES, bound).all()
        with self._lock:
            known = self._due.get(connection_id, {})
        vouchers = {run: known[run] if run in known else _voucher_of(text) for run, text in due}
        with self._lock:
            if vouchers:
                self._due[connection_id] = vouchers
            else:
                self._due.pop(connection_id, None)
        return Due(
            frozenset(vouchers), [voucher for voucher in vouchers.values() if voucher is not None]
        )

    def claim_callbacks(self, hold_seconds: float, limit: int = 20) -> list[QueuedRun]:
        """Take due callbacks to send now: each is held for ``hold_seconds`` (its next attempt
        moves that far ahead), so no other instance sends it meanwhile; ``callback_result``
        then stores what happened. A process that dies while sending leaves the callback due
        again once the hold is over (it is sent again: at least once)."""
        now = time.time()
        query = (
            sa.select(runs)
            .where(runs.c.callback_state == "pending", runs.c.callback_next_at <= now)
            .order_by(runs.c.callback_next_at)
            .limit(limit)
        )
        with write_transaction(self._engine, durable=False) as conn:
            if not is_sqlite(conn):
                query = query.with_for_update(skip_locked=True)
            rows = [QueuedRun.model_validate(dict(r)) for r in conn.execute(query).mappings()]
            if rows:
                conn.execute(
                    runs.update()
                    .where(runs.c.id.in_([row.id for row in rows]))
                    .values(callback_next_at=now + hold_seconds)
                )
        return rows

    def callback_result(
        self, run_id: str, *, state: str, attempts: int, next_at: float | None, error: str | None
    ) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    callback_state=state,
                    callback_attempts=attempts,
                    callback_next_at=next_at,
                    callback_error=error,
                )
            )


# The failures of a connection's due runs (``due_vouchers``, at a drain's looks): built once
# and bound per call.
_DUE_FAILURES = (
    sa.select(runs.c.id, runs.c.failure)
    .where(
        _service(),
        runs.c.connection_id == sa.bindparam("due_connection", type_=sa.String),
        runs.c.state == RunState.QUEUED.value,
        runs.c.not_before <= sa.bindparam("due_now", type_=sa.Float),
    )
    .order_by(runs.c.export_date)
    .limit(sa.bindparam("due_limit", type_=sa.Integer))
)


def _voucher_of(failure_json: str) -> tuple[str, date] | None:
    """(series, transaction date) of a stored failure's voucher; ``None`` without one (a
    check ahead's) or when it does not read (its run fails on its own when worked)."""
    try:
        voucher = json.loads(failure_json)["export"]["voucher"]
        return str(voucher["VoucherSeries"]), date.fromisoformat(voucher["TransactionDate"])
    except (ValueError, KeyError, TypeError):
        return None
