"""Key checks: a check value of the key the tokens are encrypted with, recorded by the first
process that writes one, so that a process with another key (another machine's key file, a
changed ``REMEDIATOR_SECRET_KEY``) refuses to write or work instead of writing tokens no other
process can read (``ConnectionStore.key_fits``).

Revision ID: 0010
Revises: 0009
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "key_checks" in sa.inspect(op.get_bind()).get_table_names():
        return  # made from today's tables before the database was stamped
    op.create_table(
        "key_checks",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_checks")
