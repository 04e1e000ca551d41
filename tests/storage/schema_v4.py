"""The schema as the remediator made it before Alembic (schema version 4), for upgrade tests.

A copy of the table definitions in remediator/storage/db.py at version 4, frozen here so that
the tests keep building such a database whatever the current schema becomes.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("tenant_id", sa.String(50), nullable=True, index=True),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False, default=""),
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

runs = sa.Table(
    "runs",
    metadata,
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

oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("connection_id", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)

run_requests = sa.Table(
    "run_requests",
    metadata,
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
