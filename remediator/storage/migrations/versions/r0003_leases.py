"""Leases: one actor per Fortnox company at a time, across processes (remediator.storage.leases).

Revision ID: 0003
Revises: 0002
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "leases" in sa.inspect(op.get_bind()).get_table_names():
        return  # made from today's tables before the database was stamped
    op.create_table(
        "leases",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("acquired_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
