"""Sync manifest: every shard offered by every node with its state, and per-node sync health.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_manifest",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("games", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("games_added", sa.Integer(), nullable=True),
        sa.Column("discovered_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "state IN ('discovered', 'downloading', 'downloaded', 'verified', 'merged', "
            "'acked', 'quarantined')",
            name="ck_sync_manifest_state",
        ),
        sa.PrimaryKeyConstraint("node", "name"),
    )
    op.create_index("ix_sync_manifest_state", "sync_manifest", ["state"])
    op.create_index("ix_sync_manifest_sha256", "sync_manifest", ["sha256"])
    op.create_table(
        "sync_nodes",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=True),
        sa.Column("last_attempt", sa.Double(), nullable=True),
        sa.Column("last_success", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("breaker_state", sa.String(length=16), nullable=False),
        sa.Column("breaker_opened_at", sa.Double(), nullable=True),
        sa.Column("backlog", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "breaker_state IN ('closed', 'open', 'half_open')", name="ck_sync_nodes_breaker"
        ),
        sa.PrimaryKeyConstraint("node"),
    )


def downgrade() -> None:
    op.drop_table("sync_nodes")
    op.drop_index("ix_sync_manifest_sha256", table_name="sync_manifest")
    op.drop_index("ix_sync_manifest_state", table_name="sync_manifest")
    op.drop_table("sync_manifest")
