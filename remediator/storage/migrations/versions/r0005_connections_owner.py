"""Connections: who consented (Fortnox's ``/3/me`` at consent).

``owner_name``, ``owner_email``, ``owner_sys_admin`` (whether that user is a system
administrator) and ``owner_checked_at`` (when it was read; NULL: never learnt). Added only
where missing, as in 0004.

Revision ID: 0005
Revises: 0004
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("owner_name", sa.String(200), nullable=True),
        sa.Column("owner_email", sa.String(200), nullable=True),
        sa.Column("owner_sys_admin", sa.Boolean, nullable=True),
        sa.Column("owner_checked_at", sa.Float, nullable=True),
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
