"""Connections: "refresh in progress" and why a connection needs reconnecting.

``refresh_started_at`` is set under the refresh lock before the token request and cleared with
the rotated tokens; still set at the next ``invalid_grant``, it says the remediator lost the
rotated refresh token. ``status_cause`` keeps that apart from Fortnox invalidating the grant.
A database upgraded in place before Alembic may have them already: added only where missing.

Revision ID: 0004
Revises: 0003
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("refresh_started_at", sa.Float, nullable=True),
        sa.Column("status_cause", sa.String(40), nullable=True),
    ]


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("connections")}
    for column in _columns():
        if column.name not in present:
            op.add_column("connections", column)


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        for column in _columns():
            batch.drop_column(column.name)
