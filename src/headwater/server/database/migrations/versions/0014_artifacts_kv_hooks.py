"""Artifacts, the key-value store, state-change hooks and their deliveries.

Revision ID: 0014
Revises: 0001
Create Date: 2026-12-03

Written by hand so that it runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from headwater.server.database.orm import JSONType, UTCDateTime

revision = "0014"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_logs_timestamp", "logs", ["timestamp"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "flow_run_id",
            sa.String(36),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "task_run_id",
            sa.String(36),
            sa.ForeignKey("task_runs.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
    )
    op.create_index("ix_artifacts_flow_run_created", "artifacts", ["flow_run_id", "created"])
    op.create_index("ix_artifacts_task_run_id", "artifacts", ["task_run_id"])
    op.create_index("ix_artifacts_updated", "artifacts", ["updated"])
    op.create_table(
        "kv_store",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("value", JSONType, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
    )
    op.create_table(
        "hooks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("flow_name", sa.String(255), nullable=True),
        sa.Column("project_name", sa.String(255), nullable=True),
        sa.Column("states", JSONType, nullable=False),
        sa.Column("url_env", sa.String(255), nullable=False),
        sa.Column("token_env", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_table(
        "hook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "hook_id",
            sa.String(36),
            sa.ForeignKey("hooks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "flow_run_id",
            sa.String(36),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state_version", sa.Integer, nullable=False),
        sa.Column("state_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("finished", UTCDateTime, nullable=True),
        sa.UniqueConstraint(
            "hook_id", "flow_run_id", "state_version", name="uq_hook_deliveries_change"
        ),
    )
    op.create_index("ix_hook_deliveries_hook_id", "hook_deliveries", ["hook_id"])
    op.create_index("ix_hook_deliveries_flow_run_id", "hook_deliveries", ["flow_run_id"])
    op.create_index("ix_hook_deliveries_created", "hook_deliveries", ["created"])


def downgrade() -> None:
    for table in ("hook_deliveries", "hooks", "kv_store", "artifacts"):
        op.drop_table(table)
    op.drop_index("ix_logs_timestamp", "logs")
