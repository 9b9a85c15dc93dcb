"""Gate decisions: every training-gate and promotion-gate verdict with its reason.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("config", sa.String(length=32), nullable=False),
        sa.Column("gate", sa.String(length=32), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("run_id", sa.String(length=255), nullable=True),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decisions_config_gate_at", "decisions", ["config", "gate", "at"])


def downgrade() -> None:
    op.drop_index("ix_decisions_config_gate_at", table_name="decisions")
    op.drop_table("decisions")
