"""Runs: one service run per event id (a unique index on ``event_id`` over the runs with
``origin = 'service'``), so that two instances receiving the same event at the same moment
store one run: intake inserts with ON CONFLICT DO NOTHING and answers the run that is there.

Only the service's runs: the CLI's runs (``origin`` NULL) and the check ahead's
(``'scheduled'``, whose event id names the day and obstacle and may be worked again) share
event ids legitimately.

A database that already holds several service runs of one event (stored before this index,
by instances racing) upgrades without losing any: the first of them (earliest ``created_at``,
then ``id``) keeps the event id and is the run a later delivery of the event is answered with;
each later one keeps everything else and has its event id rewritten as
``duplicate:<its run id>:<the event id>`` (cut to 200 characters; the event id is also in its
stored failure), which the index lets through. The downgrade drops the index and leaves the
rewritten event ids as they are.

Revision ID: 0008
Revises: 0007
Created: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME = "uq_runs_service_event"
SERVICE = sa.text("origin = 'service'")
_EVENT_MAX = 200

_runs = sa.table(
    "runs",
    sa.column("id", sa.String),
    sa.column("event_id", sa.String),
    sa.column("origin", sa.String),
    sa.column("created_at", sa.Float),
)


def duplicate_event_id(run_id: str, event_id: str) -> str:
    """The event id a later duplicate is given, within the column's 200 characters."""
    return f"duplicate:{run_id}:{event_id}"[:_EVENT_MAX]


def _set_apart_duplicates(conn: sa.Connection) -> None:
    """Rewrite the event id of every service run but the first of an event that has several."""
    service = _runs.c.origin == "service"
    repeated = (sa.select(_runs.c.event_id).where(service).group_by(_runs.c.event_id)).having(
        sa.func.count() > 1
    )
    rows = conn.execute(
        sa.select(_runs.c.id, _runs.c.event_id)
        .where(service, _runs.c.event_id.in_(repeated))
        .order_by(_runs.c.event_id, _runs.c.created_at, _runs.c.id)
    ).all()
    first: set[str] = set()
    for run_id, event_id in rows:
        if event_id not in first:
            first.add(event_id)
            continue
        conn.execute(
            _runs.update()
            .where(_runs.c.id == run_id)
            .values(event_id=duplicate_event_id(run_id, event_id))
        )


def upgrade() -> None:
    conn = op.get_bind()
    present = {index["name"] for index in sa.inspect(conn).get_indexes("runs")}
    if NAME in present:  # made from today's tables before the database was stamped
        return
    _set_apart_duplicates(conn)
    op.create_index(
        NAME,
        "runs",
        ["event_id"],
        unique=True,
        postgresql_where=SERVICE,
        sqlite_where=SERVICE,
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="runs")
