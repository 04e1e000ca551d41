"""Leases: what the last holder of a company's lease spent of its rate budget, so that the next
holder, in another process, paces its first requests as if it had sent those itself
(``remediator.storage.leases``). ``spent``: JSON, the process that let go and the ages of its
requests still inside Fortnox's window; ``spent_at``: when, on the database's clock. A released
lease is now kept as that record (expired, its owner empty) instead of being deleted.

Revision ID: 0009
Revises: 0008
Created: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = {"spent": sa.Text, "spent_at": sa.Float}


def upgrade() -> None:
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("leases")}
    for name, kind in COLUMNS.items():
        if name not in present:  # made from today's tables before it was stamped
            op.add_column("leases", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
