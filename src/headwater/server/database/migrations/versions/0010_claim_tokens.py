"""Claim tokens: which agent process a Submitted flow run was handed to.

Revision ID: 0010
Revises: 0015
Create Date: 2026-12-03

A claimed run records the token of the agent process that claimed it, so a claim whose
answer never reached that process (the server died, the connection broke) is handed back
as soon as the process claims again without listing the run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("claim_token", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("claim_token")
