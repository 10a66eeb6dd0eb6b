"""Server-side scheduling: a flow group's schedule and switch, auto-scheduled runs.

Revision ID: 0011
Revises: 0014
Create Date: 2026-12-03

Adds ``flows.schedule`` (the version's serialized schedule), the flow group's own
``schedule``, ``is_schedule_active`` and late-run policy, and ``flow_runs.auto_scheduled``
with an index for the scheduler's look-ups. Written by hand for SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from headwater.server.database.orm import JSONType

revision = "0011"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.add_column(sa.Column("schedule", JSONType, nullable=True))
    with op.batch_alter_table("flow_groups") as batch:
        batch.add_column(sa.Column("schedule", JSONType, nullable=True))
        batch.add_column(
            sa.Column("is_schedule_active", sa.Boolean, nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("late_runs", sa.String(16), nullable=False, server_default="all")
        )
        batch.add_column(sa.Column("late_runs_max_age", sa.Float, nullable=True))
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(
            sa.Column("auto_scheduled", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_flow_runs_auto_scheduled",
        "flow_runs",
        ["auto_scheduled", "flow_group_id", "scheduled_start_time"],
    )


def downgrade() -> None:
    op.drop_index("ix_flow_runs_auto_scheduled", table_name="flow_runs")
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("auto_scheduled")
    with op.batch_alter_table("flow_groups") as batch:
        batch.drop_column("late_runs_max_age")
        batch.drop_column("late_runs")
        batch.drop_column("is_schedule_active")
        batch.drop_column("schedule")
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("schedule")
