"""Job runs: the service's daily jobs, one row per job and slot (remediator.storage.jobs).

The primary key (job, slot) is what makes a slot run once across instances: the first
instance inserts the row, the others find it.

Revision ID: 0006
Revises: 0005
Created: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "job_runs" in sa.inspect(op.get_bind()).get_table_names():
        return  # made from today's tables before the database was stamped
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(60), primary_key=True),
        sa.Column("slot", sa.String(10), primary_key=True),
        sa.Column("slot_at", sa.Float, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("result", sa.String(20), nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
