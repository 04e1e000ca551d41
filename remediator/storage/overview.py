"""What ``/metrics`` reads from the database at each scrape, so every instance reports the same.

Four small queries in one connection: connections by state (a count per kind and status), the
refresh-token expiry of each active connection, the check-ahead runs (``origin = 'scheduled'``)
by kind and outcome (on the index ``ix_runs_origin_kind_outcome``), and each daily job's
latest success. No token is read: only whether one is stored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from remediator.fortnox import ConnectionKind, ConnectionStatus
from remediator.storage.db import Database, connections, runs
from remediator.storage.jobs import last_success
from remediator.storage.queue import SCHEDULED  # the origin of a check ahead's runs

REFRESH_TOKEN_DAYS = 45.0  # Fortnox: a refresh token dies 45 days after it was issued
DAY = 86_400.0
PENDING = "pending"  # a scheduled run without an outcome yet


@dataclass(frozen=True)
class Overview:
    """The deployment's state as ``/metrics`` shows it."""

    connections: Counter[ConnectionStatus] = field(default_factory=Counter)
    refresh_expires_at: dict[str, float] = field(default_factory=dict)
    scheduled: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, outcome)
    last_success: dict[str, float] = field(default_factory=dict)  # job -> finished_at


def _status(kind: str, status: str, tokenless: bool) -> ConnectionStatus:
    """As the store reads it: an active refresh-token row that never held a token is
    ``not_authorized``."""
    stored = ConnectionStatus(status)
    never = stored is ConnectionStatus.ACTIVE and tokenless
    return (
        ConnectionStatus.NOT_AUTHORIZED
        if never and kind == ConnectionKind.REFRESH_TOKEN
        else stored
    )


def refresh_expiry(refresh_expires_at: float | None, last_refresh_at: float | None) -> float | None:
    """When a refresh token dies: as Fortnox said when it was issued, else 45 days after the
    last refresh; ``None`` when neither is known (imported, never refreshed here)."""
    if refresh_expires_at is not None:
        return refresh_expires_at
    return None if last_refresh_at is None else last_refresh_at + REFRESH_TOKEN_DAYS * DAY


class OverviewStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def __repr__(self) -> str:
        return f"OverviewStore({self._db!r})"

    def read(self) -> Overview:
        with self._db.engine.connect() as conn:
            return Overview(
                self._connections(conn),
                self._expiry(conn),
                self._scheduled(conn),
                last_success(conn),
            )

    @staticmethod
    def _connections(conn: sa.Connection) -> Counter[ConnectionStatus]:
        tokenless = sa.and_(
            connections.c.refresh_token.is_(None), connections.c.access_token.is_(None)
        )
        query = sa.select(
            connections.c.kind, connections.c.status, tokenless.label("tokenless"), sa.func.count()
        ).group_by(connections.c.kind, connections.c.status, tokenless)
        counts: Counter[ConnectionStatus] = Counter()
        for kind, status, none, count in conn.execute(query):
            counts[_status(kind, status, bool(none))] += count
        return counts

    @staticmethod
    def _expiry(conn: sa.Connection) -> dict[str, float]:
        query = sa.select(
            connections.c.id, connections.c.refresh_expires_at, connections.c.last_refresh_at
        ).where(
            connections.c.kind == ConnectionKind.REFRESH_TOKEN.value,
            connections.c.status == ConnectionStatus.ACTIVE.value,
            connections.c.refresh_token.is_not(None),
        )
        found = {}
        for connection_id, expires_at, refreshed_at in conn.execute(query):
            expiry = refresh_expiry(expires_at, refreshed_at)
            if expiry is not None:
                found[connection_id] = expiry
        return found

    @staticmethod
    def _scheduled(conn: sa.Connection) -> Counter[tuple[str, str]]:
        query = (
            sa.select(runs.c.kind, runs.c.outcome, sa.func.count())
            .where(runs.c.origin == SCHEDULED)
            .group_by(runs.c.kind, runs.c.outcome)
        )
        counts: Counter[tuple[str, str]] = Counter()
        for kind, outcome, count in conn.execute(query):
            counts[kind or "unrecognized", outcome or PENDING] += count
        return counts
