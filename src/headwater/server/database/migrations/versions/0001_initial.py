"""Initial schema: projects, flows, flow runs, task runs, states, logs, agents.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand so that it runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from headwater.server.database.orm import BigIntId, JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), primary_key=True)


def _state_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("state", JSONType, nullable=True),
        sa.Column("state_type", sa.String(32), nullable=True),
        sa.Column("state_message", sa.Text, nullable=True),
        sa.Column("state_timestamp", UTCDateTime, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "projects",
        _id(),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_table(
        "flow_groups",
        _id(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column(
            "project_id",
            sa.String(36),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("labels", JSONType, nullable=True),
        sa.Column("default_parameters", JSONType, nullable=False),
        sa.Column("run_config", JSONType, nullable=True),
        sa.Column("settings", JSONType, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_index("ix_flow_groups_project_id", "flow_groups", ["project_id"])
    op.create_table(
        "flows",
        _id(),
        sa.Column(
            "flow_group_id",
            sa.String(36),
            sa.ForeignKey("flow_groups.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "project_id",
            sa.String(36),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project_name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("serialized_flow", JSONType, nullable=False),
        sa.Column("parameters", JSONType, nullable=False),
        sa.Column("tasks", JSONType, nullable=False),
        sa.Column("storage", JSONType, nullable=True),
        sa.Column("run_config", JSONType, nullable=True),
        sa.Column("labels", JSONType, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("core_version", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.UniqueConstraint("flow_group_id", "version", name="uq_flows_group_version"),
    )
    op.create_index("ix_flows_flow_group_id", "flows", ["flow_group_id"])
    op.create_index("ix_flows_project_id", "flows", ["project_id"])
    op.create_index("ix_flows_name", "flows", ["name"])
    op.create_table(
        "flow_runs",
        _id(),
        sa.Column(
            "flow_id", sa.String(36), sa.ForeignKey("flows.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("flow_group_id", sa.String(36), nullable=False),
        sa.Column("flow_name", sa.String(255), nullable=False),
        sa.Column("project_name", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("parameters", JSONType, nullable=False),
        sa.Column("context", JSONType, nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("run_config", JSONType, nullable=True),
        sa.Column("scheduled_start_time", UTCDateTime, nullable=False),
        sa.Column("start_time", UTCDateTime, nullable=True),
        sa.Column("end_time", UTCDateTime, nullable=True),
        sa.Column("heartbeat", UTCDateTime, nullable=True),
        *_state_columns(),
        sa.Column("state_start_time", UTCDateTime, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column(
            "parent_flow_run_id",
            sa.String(36),
            sa.ForeignKey("flow_runs.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("parent_task_run_id", sa.String(36), nullable=True),
        sa.Column("agent_id", sa.String(36), nullable=True),
        sa.Column("times_resurrected", sa.Integer, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("flow_group_id", "idempotency_key", name="uq_flow_runs_idempotency"),
    )
    for column in (
        "flow_id",
        "flow_group_id",
        "flow_name",
        "name",
        "parent_flow_run_id",
        "parent_task_run_id",
        "agent_id",
        "created",
    ):
        op.create_index(f"ix_flow_runs_{column}", "flow_runs", [column])
    op.create_index(
        "ix_flow_runs_state_type_scheduled", "flow_runs", ["state_type", "scheduled_start_time"]
    )
    op.create_table(
        "flow_run_labels",
        sa.Column(
            "flow_run_id",
            sa.String(36),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("label", sa.String(255), primary_key=True),
    )
    op.create_index("ix_flow_run_labels_label", "flow_run_labels", ["label"])
    op.create_table(
        "flow_run_states",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column(
            "flow_run_id",
            sa.String(36),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("timestamp", UTCDateTime, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("serialized", JSONType, nullable=False),
        sa.UniqueConstraint("flow_run_id", "version", name="uq_flow_run_states_version"),
    )
    op.create_index("ix_flow_run_states_flow_run_id", "flow_run_states", ["flow_run_id"])
    op.create_table(
        "task_runs",
        _id(),
        sa.Column(
            "flow_run_id",
            sa.String(36),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("task_slug", sa.String(255), nullable=False),
        sa.Column("task_name", sa.String(255), nullable=True),
        sa.Column("map_index", sa.Integer, nullable=False),
        *_state_columns(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_count", sa.Integer, nullable=False),
        sa.Column("start_time", UTCDateTime, nullable=True),
        sa.Column("end_time", UTCDateTime, nullable=True),
        sa.Column("heartbeat", UTCDateTime, nullable=True),
        sa.Column("result_location", sa.Text, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("flow_run_id", "task_slug", "map_index", name="uq_task_runs_slug"),
    )
    op.create_index("ix_task_runs_flow_run_id", "task_runs", ["flow_run_id"])
    op.create_index("ix_task_runs_state_type", "task_runs", ["state_type"])
    op.create_table(
        "task_run_states",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column(
            "task_run_id",
            sa.String(36),
            sa.ForeignKey("task_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("timestamp", UTCDateTime, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("serialized", JSONType, nullable=False),
        sa.UniqueConstraint("task_run_id", "version", name="uq_task_run_states_version"),
    )
    op.create_index("ix_task_run_states_task_run_id", "task_run_states", ["task_run_id"])
    op.create_table(
        "logs",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column(
            "flow_run_id",
            sa.String(36),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("task_run_id", sa.String(36), nullable=True),
        sa.Column("timestamp", UTCDateTime, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("info", JSONType, nullable=True),
    )
    op.create_index("ix_logs_flow_run_time", "logs", ["flow_run_id", "timestamp", "id"])
    op.create_index("ix_logs_task_run_id", "logs", ["task_run_id"])
    op.create_table(
        "agents",
        _id(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("labels_key", sa.Text, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_index("ix_agents_identity", "agents", ["name", "type", "labels_key"])


def downgrade() -> None:
    for table in (
        "agents",
        "logs",
        "task_run_states",
        "task_runs",
        "flow_run_states",
        "flow_run_labels",
        "flow_runs",
        "flows",
        "flow_groups",
        "projects",
    ):
        op.drop_table(table)
