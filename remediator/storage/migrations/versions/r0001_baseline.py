"""Baseline: the schema as it was at version 4, before Alembic.

A database without tables gets them as below. A database made before Alembic carries
``schema_version`` (1 to 4): what versions after its own added (columns, tables, indexes) is
added in place, nothing is dropped but ``schema_version`` itself, and its rows stay as they are.

Revision ID: 0001
Revises:
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# A frozen copy of the tables at this revision: later revisions change them with ``op``, never
# by editing this.
_schema = sa.MetaData()

sa.Table(
    "connections",
    _schema,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("tenant_id", sa.String(50), nullable=True, index=True),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("access_token", sa.Text, nullable=True),
    sa.Column("access_expires_at", sa.Float, nullable=True),
    sa.Column("refresh_token", sa.Text, nullable=True),
    sa.Column("refresh_expires_at", sa.Float, nullable=True),
    sa.Column("last_refresh_at", sa.Float, nullable=True),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("lock_owner", sa.String(100), nullable=True),
    sa.Column("lock_until", sa.Float, nullable=True),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("restaurant_id", sa.String(200), nullable=True),
    sa.Column("restaurant_name", sa.String(200), nullable=True),
)

sa.Table(
    "runs",
    _schema,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(200), nullable=False, index=True),
    sa.Column("connection_id", sa.String(100), nullable=False, index=True),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("state", sa.String(30), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=True),
    sa.Column("outcome", sa.String(40), nullable=True, index=True),
    sa.Column("failure", sa.Text, nullable=False),
    sa.Column("report", sa.Text, nullable=True),
    sa.Column("approved_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("origin", sa.String(20), nullable=True),
    sa.Column("export_date", sa.String(10), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=True),
    sa.Column("not_before", sa.Float, nullable=True),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("approved_at", sa.Float, nullable=True),
    sa.Column("joined_to", sa.String(40), nullable=True),
    sa.Column("state_reason", sa.Text, nullable=True),
    sa.Column("fix_verified_at", sa.Float, nullable=True),
    sa.Column("callback_url", sa.Text, nullable=True),
    sa.Column("callback_state", sa.String(20), nullable=True, index=True),
    sa.Column("callback_attempts", sa.Integer, nullable=True),
    sa.Column("callback_next_at", sa.Float, nullable=True),
    sa.Column("callback_error", sa.Text, nullable=True),
    sa.Index("ix_runs_connection_state", "connection_id", "state"),
)

sa.Table(
    "oauth_states",
    _schema,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("connection_id", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)

sa.Table(
    "run_requests",
    _schema,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(300), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("code", sa.Integer, nullable=True),
    sa.Column("grant_type", sa.String(40), nullable=True),
    sa.Column("error", sa.String(100), nullable=True),
)


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    if "connections" not in present:
        _schema.create_all(bind)
        return
    for table in _schema.sorted_tables:
        if table.name in present:
            _add_missing_columns(bind, table)
        else:
            table.create(bind)
    for table in _schema.sorted_tables:
        for index in table.indexes:
            index.create(bind, checkfirst=True)
    if "schema_version" in present:
        op.drop_table("schema_version")


def _add_missing_columns(bind: sa.Connection, table: sa.Table) -> None:
    """Columns that versions after the database's own added (all of them nullable)."""
    present = {column["name"] for column in sa.inspect(bind).get_columns(table.name)}
    for column in table.columns:
        if column.name not in present:
            op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))


def downgrade() -> None:
    for table in reversed(_schema.sorted_tables):
        op.drop_table(table.name)
