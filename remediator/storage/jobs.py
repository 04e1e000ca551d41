"""Job runs: each of the service's daily jobs runs once per slot, whichever instance runs it.

A row ``(job, slot)`` (slot: the local date) is claimed by one statement inside a write
transaction: an INSERT of a row that does not exist yet, or an UPDATE of an unfinished row
still owned by the owner read in the same transaction (a claim whose holder died). On SQLite
the write transaction is ``BEGIN IMMEDIATE``; on PostgreSQL a concurrent INSERT of the same
key fails on the primary key and a concurrent UPDATE re-checks its WHERE on the committed row,
so of two instances exactly one gets the slot.

An unfinished row is taken over only while its owner holds no live lease on the job
(``job:<name>``, remediator.storage.leases; the scheduler claims under it, as the lease's
owner): a live instance renews its lease, so its claim is taken over only once it has been
dead for the lease's ttl.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from remediator.storage.db import Database, job_runs, leases, write_transaction
from remediator.storage.leases import db_now


class JobResult(StrEnum):
    """How a job's slot ended."""

    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class JobRun:
    """One job's run of one slot, as stored (``result`` is ``None`` while it runs)."""

    job: str
    slot: str
    slot_at: float
    owner: str
    attempts: int
    started_at: float
    finished_at: float | None
    result: JobResult | None
    summary: str | None
    error: str | None


def _run(row: sa.RowMapping) -> JobRun:
    values = dict(row)
    values["result"] = JobResult(row["result"]) if row["result"] else None
    return JobRun(**values)


def lease_key(job: str) -> str:
    """The lease an instance holds while it runs ``job``."""
    return f"job:{job}"


def _owner_alive(job: str) -> sa.Exists:
    """The row's owner still holds a live lease on the job (correlated to ``job_runs``)."""
    return sa.exists().where(
        leases.c.key == lease_key(job),
        leases.c.owner == job_runs.c.owner,
        leases.c.expires_at >= db_now(),
    )


def _key(job: str, slot: str) -> sa.ColumnElement[bool]:
    return sa.and_(job_runs.c.job == job, job_runs.c.slot == slot)


class JobRunStore:
    """The ``job_runs`` table; each method is one short transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def __repr__(self) -> str:
        return f"JobRunStore({self._db!r})"

    def claim(self, job: str, slot: str, slot_at: float, owner: str, now: float) -> JobRun | None:
        """The slot for ``owner`` to run: new, or unfinished with its owner's lease gone (it
        died); ``None`` when it has finished, its owner is alive, or another claim won."""
        try:
            with write_transaction(self._db.engine) as conn:
                found = conn.execute(sa.select(job_runs).where(_key(job, slot))).mappings().first()
                if found is None:
                    conn.execute(
                        job_runs.insert().values(
                            job=job,
                            slot=slot,
                            slot_at=slot_at,
                            owner=owner,
                            attempts=1,
                            started_at=now,
                        )
                    )
                elif found["finished_at"] is not None or not self._take(conn, found, owner, now):
                    return None
        except IntegrityError:  # PostgreSQL: another instance inserted the slot meanwhile
            return None
        return self.get(job, slot)

    @staticmethod
    def _take(conn: sa.Connection, found: sa.RowMapping, owner: str, now: float) -> bool:
        taken = conn.execute(
            job_runs.update()
            .where(
                _key(found["job"], found["slot"]),
                job_runs.c.owner == found["owner"],
                job_runs.c.finished_at.is_(None),
                ~_owner_alive(found["job"]),
            )
            .values(owner=owner, attempts=job_runs.c.attempts + 1, started_at=now)
        )
        return bool(taken.rowcount == 1)

    def finish(
        self,
        run: JobRun,
        now: float,
        result: JobResult,
        *,
        summary: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Record how ``run`` ended; ``False`` when the claim is not ``run.owner``'s any more."""
        with write_transaction(self._db.engine) as conn:
            done = conn.execute(
                job_runs.update()
                .where(
                    _key(run.job, run.slot),
                    job_runs.c.owner == run.owner,
                    job_runs.c.finished_at.is_(None),
                )
                .values(finished_at=now, result=result.value, summary=summary, error=error)
            )
        return bool(done.rowcount == 1)

    def get(self, job: str, slot: str) -> JobRun | None:
        with self._db.engine.connect() as conn:
            row = conn.execute(sa.select(job_runs).where(_key(job, slot))).mappings().first()
        return None if row is None else _run(row)

    def known(self, job: str) -> bool:
        """Whether ``job`` has any slot recorded (a deployment that has run it before)."""
        with self._db.engine.connect() as conn:
            found = conn.execute(sa.select(job_runs.c.slot).where(job_runs.c.job == job).limit(1))
            return found.first() is not None

    def recent(self, limit: int = 20, job: str | None = None) -> list[JobRun]:
        """The newest slots first."""
        query = sa.select(job_runs).order_by(job_runs.c.slot.desc(), job_runs.c.job).limit(limit)
        if job is not None:
            query = query.where(job_runs.c.job == job)
        with self._db.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query).mappings()]

    def last_success(self) -> dict[str, float]:
        """Per job, when its latest successful run finished."""
        with self._db.engine.connect() as conn:
            return last_success(conn)


def last_success(conn: sa.Connection) -> dict[str, float]:
    """Per job, when its latest successful run finished (one small GROUP BY)."""
    query = (
        sa.select(job_runs.c.job, sa.func.max(job_runs.c.finished_at))
        .where(job_runs.c.result == JobResult.OK.value)
        .group_by(job_runs.c.job)
    )
    return {job: float(at) for job, at in conn.execute(query)}


__all__ = ["JobResult", "JobRun", "JobRunStore", "last_success", "lease_key"]
