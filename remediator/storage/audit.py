"""The audit log of people's decisions: approvals, rejections, policy changes, accounts.

Each entry names the person (``actor``) and the door they used (``via``: ``console``, ``api``
or ``cli``). Never a secret in ``detail``: a reason, a rule, the differences of a stale plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection as SAConnection

from remediator.storage.db import Database, audit_log, write_transaction


class Via(StrEnum):
    CONSOLE = "console"
    API = "api"
    CLI = "cli"


@dataclass(frozen=True)
class Actor:
    """Who decided, and through which door."""

    name: str
    via: Via

    def __str__(self) -> str:
        return f"{self.name} ({self.via.value})"


class AuditAction(StrEnum):
    APPROVE = "approve"
    APPROVE_REFUSED_STALE = "approve_refused_stale"
    REJECT = "reject"
    POLICY = "policy"
    LOGIN = "login"
    LOGOUT = "logout"
    USER_ADD = "user_add"
    USER_DISABLE = "user_disable"
    USER_ENABLE = "user_enable"
    USER_REMOVE = "user_remove"
    PASSWORD_SET = "password_set"  # noqa: S105 - the name of an action, not a password


class AuditRecord(BaseModel):
    """One stored decision."""

    model_config = ConfigDict(frozen=True)

    id: int
    at: float
    actor: str
    via: str
    action: str
    run_id: str | None
    connection_id: str | None
    detail: str | None


def audit_row(
    actor: Actor,
    action: AuditAction,
    *,
    run_id: str | None = None,
    connection_id: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """The row for one decision, to insert in the transaction that makes the decision."""
    return {
        "at": time.time(),
        "actor": actor.name[:200],
        "via": actor.via.value,
        "action": action.value,
        "run_id": run_id,
        "connection_id": connection_id,
        "detail": detail,
    }


def record_in(conn: SAConnection, row: dict[str, Any]) -> None:
    conn.execute(audit_log.insert().values(**row))


class AuditStore:
    """Reads the audit log, and records decisions that have no other row to change."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine

    def record(
        self,
        actor: Actor,
        action: AuditAction,
        *,
        run_id: str | None = None,
        connection_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        row = audit_row(actor, action, run_id=run_id, connection_id=connection_id, detail=detail)
        with write_transaction(self._engine) as conn:
            record_in(conn, row)

    def for_run(self, run_id: str) -> list[AuditRecord]:
        return self._select(audit_log.c.run_id == run_id)

    def for_connection(self, connection_id: str) -> list[AuditRecord]:
        return self._select(audit_log.c.connection_id == connection_id)

    def recent(self, limit: int = 100) -> list[AuditRecord]:
        return self._select(sa.true(), limit=limit, newest_first=True)

    def _select(
        self, where: Any, *, limit: int = 500, newest_first: bool = False
    ) -> list[AuditRecord]:
        order = audit_log.c.id.desc() if newest_first else audit_log.c.id
        query = sa.select(audit_log).where(where).order_by(order).limit(limit)
        with self._engine.connect() as conn:
            return [AuditRecord.model_validate(dict(r)) for r in conn.execute(query).mappings()]
