"""Node health: the last remote probe of each node (when, shards waiting there, its figures).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_nodes") as batch:
        batch.add_column(sa.Column("probed_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("remote_backlog", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("remote_health", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_nodes") as batch:
        batch.drop_column("remote_health")
        batch.drop_column("remote_backlog")
        batch.drop_column("probed_at")
