"""Indexes behind the web UI's pages: runs newest first by state or flow group, and a
run's task-run counts by state.

Revision ID: 0012
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_flow_runs_state_type_created", "flow_runs", ["state_type", "created"])
    op.create_index("ix_flow_runs_group_created", "flow_runs", ["flow_group_id", "created"])
    op.create_index("ix_task_runs_run_state", "task_runs", ["flow_run_id", "state_type"])


def downgrade() -> None:
    op.drop_index("ix_task_runs_run_state", table_name="task_runs")
    op.drop_index("ix_flow_runs_group_created", table_name="flow_runs")
    op.drop_index("ix_flow_runs_state_type_created", table_name="flow_runs")
