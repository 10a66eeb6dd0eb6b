"""Concurrency limits: flow runs by label, task runs by tag (and the task-run tag mirror).

Revision ID: 0015
Revises: 0008
Create Date: 2026-12-03

Written by hand so that it runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from headwater.server.database.orm import UTCDateTime

revision = "0015"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_concurrency_limits",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("label", sa.String(255), nullable=False, unique=True),
        sa.Column("concurrency_limit", sa.Integer, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
    )
    op.create_table(
        "task_tag_limits",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tag", sa.String(255), nullable=False, unique=True),
        sa.Column("concurrency_limit", sa.Integer, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
    )
    op.create_table(
        "task_run_tags",
        sa.Column(
            "task_run_id",
            sa.String(36),
            sa.ForeignKey("task_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(255), primary_key=True),
    )
    op.create_index("ix_task_run_tags_tag", "task_run_tags", ["tag"])


def downgrade() -> None:
    for table in ("task_run_tags", "task_tag_limits", "flow_concurrency_limits"):
        op.drop_table(table)
