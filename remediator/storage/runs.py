"""Runs: every remediation run with its failure, its report and the audit trail of requests."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from remediator.errors import UsageError
from remediator.fortnox import RequestRecord
from remediator.storage.db import Database, run_requests, runs, write_transaction


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
        with write_transaction(self._db.engine, durable=False) as conn:
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    event_id=event_id,
                    connection_id=connection_id,
                    mode=mode,
                    state=state.value,
                    failure=failure_json,
                    created_at=time.time(),
                )
            )

    def finish(
        self,
        run_id: str,
        *,
        report_json: str,
        kind: str,
        outcome: str,
        records: list[RequestRecord],
        state: RunState = RunState.DONE,
        mode: str | None = None,  # noqa: ARG002 - the mode is in report_json here
    ) -> None:
        """A run's report and audit trail (``mode``: the report's, for stores that keep it)."""
        rows = [_audit_row(run_id, seq, record) for seq, record in enumerate(records)]
        with write_transaction(self._db.engine, durable=False) as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    report=report_json,
                    kind=kind,
                    outcome=outcome,
                    state=state.value,
                    finished_at=time.time(),
                )
            )
            if rows:
                conn.execute(run_requests.insert(), rows)

    def get(self, run_id: str) -> RunRow:
        return RunRow.model_validate(self._row(run_id))

    def _row(self, run_id: str) -> dict[str, Any]:
        """The run's stored columns, all of them."""
        with self._db.engine.connect() as conn:
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
