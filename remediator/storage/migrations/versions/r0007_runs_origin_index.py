"""Runs: an index on (origin, kind, outcome), so that ``/metrics`` counts the check-ahead runs
(``origin = 'scheduled'``) by kind and outcome at every scrape without reading the table.

Revision ID: 0007
Revises: 0006
Created: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NAME = "ix_runs_origin_kind_outcome"


def upgrade() -> None:
    present = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("runs")}
    if NAME not in present:  # made from today's tables before the database was stamped
        op.create_index(NAME, "runs", ["origin", "kind", "outcome"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="runs")
