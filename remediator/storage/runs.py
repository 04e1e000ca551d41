"""Runs: every remediation run with its failure, its report and the audit trail of requests."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection as SAConnection

from remediator.errors import UsageError
from remediator.fortnox import RequestRecord
from remediator.storage.db import Database, reading, run_requests, runs, write_transaction


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_REVIEW = "awaiting_review"
    AWAITING_RECONNECT = "awaiting_reconnect"
    DONE = "done"
    REJECTED = "rejected"  # a person rejected the plan: final, nothing was written


class UnknownRunError(UsageError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"unknown run {run_id!r}")


MAX_CANDIDATES = 10


class AmbiguousRunError(UsageError):
    """A run id prefix that more than one run starts with."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        shown = ", ".join(candidates[:MAX_CANDIDATES])
        more = ", …" if len(candidates) > MAX_CANDIDATES else ""
        super().__init__(
            f"run id {prefix!r} is ambiguous; it starts {shown}{more} (give more characters)"
        )
        self.candidates = candidates[:MAX_CANDIDATES]


class RunRow(BaseModel):
    """A stored run. ``failure`` and ``report`` are JSON text as stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    event_id: str
    connection_id: str
    mode: str
    state: RunState
    kind: str | None
    outcome: str | None
    failure: str
    report: str | None
    approved_by: str | None
    created_at: float
    finished_at: float | None
    state_reason: str | None = None
    # Who made the run: "service" (a failure it received), "scheduled" (a check ahead), or
    # none (the CLI).
    origin: str | None = None


class AuditEntry(BaseModel):
    """One Fortnox request of a run: never a token, never a body."""

    model_config = ConfigDict(frozen=True)

    seq: int
    kind: str
    method: str
    path: str
    status: int | None
    duration: float
    code: int | None
    grant_type: str | None
    error: str | None


class RunStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def database(self) -> Database:
        return self._db

    def create(
        self,
        run_id: str,
        *,
        event_id: str,
        connection_id: str,
        mode: str,
        failure_json: str,
        state: RunState = RunState.RUNNING,
    ) -> None:
        self.write([Started(run_id, event_id, connection_id, mode, failure_json, state)])

    def finish(
        self,
        run_id: str,
        *,
        report_json: str,
        kind: str,
        outcome: str,
        records: list[RequestRecord],
        state: RunState = RunState.DONE,
        mode: str | None = None,
    ) -> None:
        """A run's report and audit trail (``mode``: the report's, for stores that keep it)."""
        self.write([Finished(run_id, report_json, kind, outcome, records, state, mode)])

    def keep(self, write: RunWrite) -> bool:  # noqa: ARG002 - a store that keeps some says which
        """Whether the store keeps ``write`` without writing it (then it is done, and not to be
        written): no database work, so it may be called on the event loop. This one keeps
        none."""
        return False

    def earlier(self, run_id: str) -> int:  # noqa: ARG002 - a store with passes says which
        """How much of ``run_id``'s trail earlier passes stored (no database work): the
        first requests of its trail that ``changes(before=...)`` counts for a resumed run.
        This store has no passes."""
        return 0

    def changes(self, run_id: str, *, before: int | None = None) -> int:
        """How many of the run's stored requests (the first ``before`` of them, when given)
        are writes Fortnox answered with success: the changes its trail shows it made."""
        query = sa.select(sa.func.count()).where(
            run_requests.c.run_id == run_id,
            run_requests.c.kind == "api",
            run_requests.c.method.not_in(sorted(RequestRecord.READS)),
            run_requests.c.status >= HTTPStatus.OK,
            run_requests.c.status < HTTPStatus.MULTIPLE_CHOICES,
        )
        if before is not None:
            query = query.where(run_requests.c.seq < before)
        with reading(self._db.engine) as conn:
            return int(conn.execute(query).scalar_one())

    def write(self, writes: Sequence[RunWrite]) -> None:
        """Several runs' starts and ends in one transaction, in order (the engine's batches:
        one commit and one thread for what many runs have to write at the same moment)."""
        if not writes:
            return
        with write_transaction(self._db.engine, durable=False) as conn:
            self._write_in(conn, writes)

    def _write_in(self, conn: SAConnection, writes: Sequence[RunWrite]) -> None:
        """``write``'s statements, in the caller's transaction."""
        now = time.time()
        for group in _groups(writes):
            started = [_started_row(w, now) for w in group if isinstance(w, Started)]
            if started:
                conn.execute(runs.insert(), started)
            _finish_rows(conn, [w for w in group if isinstance(w, Finished)], now)
            _log_rows(conn, [w for w in group if isinstance(w, Logged)])

    def get(self, run_id: str) -> RunRow:
        return RunRow.model_validate(self._row(run_id))

    def _row(self, run_id: str) -> dict[str, Any]:
        """The run's stored columns, all of them."""
        with reading(self._db.engine) as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise UnknownRunError(run_id)
        return dict(row)

    def resolve(self, prefix: str) -> str:
        """The id of the one run whose id starts with ``prefix`` (like git's short ids)."""
        cleaned = prefix.strip()
        if not cleaned:
            raise UnknownRunError(prefix)
        query = (
            sa.select(runs.c.id)
            .where(runs.c.id.startswith(cleaned, autoescape=True))
            .order_by(runs.c.id)
            .limit(MAX_CANDIDATES + 1)
        )
        with self._db.engine.connect() as conn:
            found = [str(run_id) for run_id in conn.execute(query).scalars()]
        if cleaned in found:
            return cleaned
        if not found:
            raise UnknownRunError(prefix)
        if len(found) > 1:
            raise AmbiguousRunError(prefix, found)
        return found[0]

    def find(
        self,
        *,
        connection_id: str | None = None,
        outcome: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRow]:
        query = sa.select(runs).order_by(runs.c.created_at.desc()).limit(limit).offset(offset)
        for column, value in (
            (runs.c.connection_id, connection_id),
            (runs.c.outcome, outcome),
            (runs.c.state, state),
        ):
            if value is not None:
                query = query.where(column == value)
        with self._db.engine.connect() as conn:
            return [RunRow.model_validate(dict(row)) for row in conn.execute(query).mappings()]

    def audit(self, run_id: str) -> list[AuditEntry]:
        query = (
            sa.select(run_requests)
            .where(run_requests.c.run_id == run_id)
            .order_by(run_requests.c.seq)
        )
        with self._db.engine.connect() as conn:
            return [AuditEntry.model_validate(dict(row)) for row in conn.execute(query).mappings()]


@dataclass(frozen=True)
class Started:
    """A run began (the engine's first write of it)."""

    run_id: str
    event_id: str
    connection_id: str
    mode: str
    failure_json: str
    state: RunState = RunState.RUNNING


@dataclass(frozen=True)
class Finished:
    """A run ended: its report and the rest of its audit trail (``records``, which follow
    the ``first`` a ``Logged`` stored before)."""

    run_id: str
    report_json: str
    kind: str
    outcome: str
    records: list[RequestRecord]
    state: RunState = RunState.DONE
    mode: str | None = None
    first: int = 0


@dataclass(frozen=True)
class Logged:
    """A run's requests so far, stored before its end because one of them wrote to Fortnox:
    ``records`` follow the ``first`` stored before them."""

    run_id: str
    records: list[RequestRecord]
    first: int = 0


RunWrite = Started | Finished | Logged


def _groups(writes: Sequence[RunWrite]) -> list[list[RunWrite]]:
    """``writes`` in order, consecutive ones of a type together (one statement each)."""
    groups: list[list[RunWrite]] = []
    for write in writes:
        if groups and type(groups[-1][0]) is type(write):
            groups[-1].append(write)
        else:
            groups.append([write])
    return groups


def _started_row(write: Started, now: float) -> dict[str, Any]:
    return {
        "id": write.run_id,
        "event_id": write.event_id,
        "connection_id": write.connection_id,
        "mode": write.mode,
        "state": write.state.value,
        "failure": write.failure_json,
        "created_at": now,
    }


# One statement for many runs' ends (executemany); bound names apart from the columns'.
_FINISH = (
    runs.update()
    .where(runs.c.id == sa.bindparam("run_id"))
    .values(
        report=sa.bindparam("new_report"),
        kind=sa.bindparam("new_kind"),
        outcome=sa.bindparam("new_outcome"),
        state=sa.bindparam("new_state"),
        finished_at=sa.bindparam("new_finished_at"),
    )
)


def _finish_rows(conn: SAConnection, writes: list[Finished], now: float) -> None:
    if not writes:
        return
    conn.execute(
        _FINISH,
        [
            {
                "run_id": w.run_id,
                "new_report": w.report_json,
                "new_kind": w.kind,
                "new_outcome": w.outcome,
                "new_state": w.state.value,
                "new_finished_at": now,
            }
            for w in writes
        ],
    )
    _log_rows(conn, writes)


def _log_rows(conn: SAConnection, writes: Sequence[Finished | Logged]) -> None:
    audit = [
        _audit_row(w.run_id, seq, record)
        for w in writes
        for seq, record in enumerate(w.records, w.first)
    ]
    if audit:
        conn.execute(run_requests.insert(), audit)


def _audit_row(run_id: str, seq: int, record: RequestRecord) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "seq": seq,
        "kind": record.kind,
        "method": record.method,
        "path": record.path[:300],
        "status": record.status,
        "duration": record.duration,
        "code": record.code,
        "grant_type": record.grant_type,
        "error": record.error,
    }
