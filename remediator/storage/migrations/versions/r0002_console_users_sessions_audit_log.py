"""The web console's users and sessions, and the audit log of people's decisions.

A database that the remediator upgraded in place to schema version 5 before Alembic has these
tables already (the baseline revision leaves them alone): they are created only where missing.

Revision ID: 0002
Revises: 0001
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "users" not in present:
        op.create_table(
            "users",
            sa.Column("name", sa.String(100), primary_key=True),
            sa.Column("email", sa.String(200), nullable=False),
            sa.Column("password_hash", sa.Text, nullable=True),
            sa.Column("disabled", sa.Boolean, nullable=False),
            sa.Column("invite_hash", sa.String(64), nullable=True),
            sa.Column("invite_expires_at", sa.Float, nullable=True),
            sa.Column("failed_logins", sa.Integer, nullable=False),
            sa.Column("locked_until", sa.Float, nullable=True),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("last_login_at", sa.Float, nullable=True),
        )
        op.create_index("ix_users_invite_hash", "users", ["invite_hash"])
    if "console_sessions" not in present:
        op.create_table(
            "console_sessions",
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("user_name", sa.String(100), nullable=False),
            sa.Column("csrf_token", sa.String(64), nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
        op.create_index("ix_console_sessions_user_name", "console_sessions", ["user_name"])
    if "audit_log" not in present:
        op.create_table(
            "audit_log",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", sa.Float, nullable=False),
            sa.Column("actor", sa.String(200), nullable=False),
            sa.Column("via", sa.String(20), nullable=False),
            sa.Column("action", sa.String(40), nullable=False),
            sa.Column("run_id", sa.String(40), nullable=True),
            sa.Column("connection_id", sa.String(100), nullable=True),
            sa.Column("detail", sa.Text, nullable=True),
        )
        for column in ("at", "run_id", "connection_id"):
            op.create_index(f"ix_audit_log_{column}", "audit_log", [column])


def downgrade() -> None:
    for table in ("audit_log", "console_sessions", "users"):
        op.drop_table(table)
