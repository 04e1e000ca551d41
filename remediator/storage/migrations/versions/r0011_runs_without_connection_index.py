"""Runs: no index on ``connection_id`` alone. ``ix_runs_connection_state`` (connection_id,
state) begins with it and serves every read by connection, and each index is one more write
at every intake.

Revision ID: 0011
Revises: 0010
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NAME = "ix_runs_connection_id"


def upgrade() -> None:
    present = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("runs")}
    if NAME in present:  # not in a database made from today's tables before it was stamped
        op.drop_index(NAME, table_name="runs")


def downgrade() -> None:
    op.create_index(NAME, "runs", ["connection_id"])
