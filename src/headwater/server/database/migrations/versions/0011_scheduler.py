"""Server-side scheduling: a flow group's schedule and switch, auto-scheduled runs.

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-03

Adds ``flows.schedule`` (the version's serialized schedule, filled from
``serialized_flow["schedule"]`` for the versions registered before), the flow group's own
``schedule``, ``is_schedule_active`` (on, as registering did by default) and late-run
policy, and ``flow_runs.auto_scheduled`` with an index for the scheduler's look-ups.
Written by hand for SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from headwater.server.database.orm import JSONType

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both databases. No batch mode on SQLite: it
    # rebuilds a table by dropping it, and with foreign keys on, dropping flow_groups or
    # flow_runs would cascade into every flow, run and log.
    op.add_column("flows", sa.Column("schedule", JSONType, nullable=True))
    op.add_column("flow_groups", sa.Column("schedule", JSONType, nullable=True))
    op.add_column(
        "flow_groups",
        sa.Column("is_schedule_active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "flow_groups",
        sa.Column("late_runs", sa.String(16), nullable=False, server_default="all"),
    )
    op.add_column("flow_groups", sa.Column("late_runs_max_age", sa.Float, nullable=True))
    op.add_column(
        "flow_runs",
        sa.Column("auto_scheduled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_flow_runs_auto_scheduled",
        "flow_runs",
        ["auto_scheduled", "flow_group_id", "scheduled_start_time"],
    )
    _copy_version_schedules()


def _copy_version_schedules() -> None:
    """Fill ``flows.schedule`` of existing versions from their serialized flow."""
    flows = sa.table(
        "flows",
        sa.column("id", sa.String),
        sa.column("serialized_flow", JSONType),
        sa.column("schedule", JSONType),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(flows.c.id, flows.c.serialized_flow)).all()
    for flow_id, serialized in rows:
        data: Any = json.loads(serialized) if isinstance(serialized, str) else serialized
        schedule = data.get("schedule") if isinstance(data, dict) else None
        if isinstance(schedule, dict):
            bind.execute(flows.update().where(flows.c.id == flow_id).values(schedule=schedule))


def downgrade() -> None:
    op.drop_index("ix_flow_runs_auto_scheduled", table_name="flow_runs")
    # ALTER TABLE ... DROP COLUMN exists on PostgreSQL and on SQLite 3.35+; see upgrade()
    # for why SQLite's batch mode is not used.
    for table, column in (
        ("flow_runs", "auto_scheduled"),
        ("flow_groups", "late_runs_max_age"),
        ("flow_groups", "late_runs"),
        ("flow_groups", "is_schedule_active"),
        ("flow_groups", "schedule"),
        ("flows", "schedule"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
