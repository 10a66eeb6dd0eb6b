"""Agents report their process counts: ``agents.stats``.

Revision ID: 0008
Revises: 0011
Create Date: 2026-12-03

A nullable JSON column: agents that never reported (or older agents) have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from headwater.server.database.orm import JSONType

revision = "0008"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("stats", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("stats")
